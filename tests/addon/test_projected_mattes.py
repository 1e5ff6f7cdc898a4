"""Matte paintings as matte painters set them up, rendered in Cycles with the camera moving: one painting projected
from a fixed camera onto a terrain (a UV Project modifier), and one painting cut into three cards at three depths
(two sharing a material, one with a material of its own). One bake moves every object that shows the painting,
only where the painting's mask says, the loop closes, and Clear gives every material back.

Where the mask lands in each rendered frame comes from a probe render: the same frame with every object showing
its UVs (the coordinates the Image Texture reads) as colour, so the mask's projection is measured, not assumed."""

import bpy
import numpy as np
from helpers import LOOP, node_tree_state
from test_rendered_motion import textured_png

from imgdyn import animate, measure, quality
from imgdyn.extension import extension_module

LEVEL = 1.0 / 255.0
RECT = [0.2, 0.25, 0.8, 0.75]  # the mask, on the painting
PAINTING = 96  # pixels; the motion is computed at this size, so a mask edge is one painting pixel wide
FRAMES = (1, 4, 7, 10)


def scene_setup(resolution=(96, 96)):
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, LOOP
    render = scene.render
    render.engine = "CYCLES"
    render.resolution_x, render.resolution_y = resolution
    render.resolution_percentage = 100
    scene.cycles.device = "CPU"
    scene.cycles.samples = 1
    scene.cycles.use_denoising = False
    scene.cycles.filter_width = 0.01  # one sample at each pixel's centre: the probe's UV is that pixel's
    scene.view_settings.view_transform = "Standard"


def painting_material(name, image, uv_map=None):
    """Emission of an Image Texture; `uv_map` links a UV Map node to its Vector (else nothing: the render UVs)."""
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    tree = material.node_tree
    tree.nodes.clear()
    texture = tree.nodes.new("ShaderNodeTexImage")
    texture.image, texture.extension = image, "CLIP"
    emission = tree.nodes.new("ShaderNodeEmission")
    output = tree.nodes.new("ShaderNodeOutputMaterial")
    tree.links.new(texture.outputs["Color"], emission.inputs["Color"])
    tree.links.new(emission.outputs[0], output.inputs["Surface"])
    if uv_map is not None:
        node = tree.nodes.new("ShaderNodeUVMap")
        node.uv_map = uv_map
        tree.links.new(node.outputs["UV"], texture.inputs["Vector"])
    return material


def camera(name, location, lens=50.0):
    made = bpy.data.objects.new(name, bpy.data.cameras.new(name))
    made.data.lens = lens
    made.location = location
    bpy.context.scene.collection.objects.link(made)
    return made


def moving_camera(start, end):
    """The render camera, travelling from `start` (frame 1) to `end` (frame LOOP + 1): every frame of the loop, and
    frame LOOP + 1 against frame 1, is seen from another place."""
    render_camera = camera("Render Camera", start)
    render_camera.keyframe_insert("location", frame=1)
    render_camera.location = end
    render_camera.keyframe_insert("location", frame=LOOP + 1)
    bpy.context.scene.camera = render_camera
    return render_camera


def give_layers(owner, tmp_path, velocity=(2.5, 1.0)):
    bpy.context.view_layer.objects.active = owner
    layers = [{"name": "mist", "type": "drift", "mask": {"rect": RECT}, "feather": 0.0, "velocity": list(velocity)}]
    animate.apply_job(owner, {"loop_frames": LOOP, "working_resolution": PAINTING, "layers": layers}, str(tmp_path),
                      grid=16)


def probe_uv(objects, frame, folder, uv_map=None):
    """(u, v, surface) per pixel of the frame: every object shows the UVs its painting's Image Texture reads (the
    render UV map, or `uv_map`)."""
    probe = bpy.data.materials.new("UV probe")
    probe.use_nodes = True
    tree = probe.node_tree
    tree.nodes.clear()
    coordinates, combine = tree.nodes.new("ShaderNodeUVMap"), tree.nodes.new("ShaderNodeCombineXYZ")
    coordinates.uv_map = uv_map or ""  # empty: the render UV map
    split = tree.nodes.new("ShaderNodeSeparateXYZ")
    emission, output = tree.nodes.new("ShaderNodeEmission"), tree.nodes.new("ShaderNodeOutputMaterial")
    tree.links.new(coordinates.outputs["UV"], split.inputs[0])
    tree.links.new(split.outputs[0], combine.inputs[0])
    tree.links.new(split.outputs[1], combine.inputs[1])
    combine.inputs[2].default_value = 1.0  # blue: a surface, not the empty background
    tree.links.new(combine.outputs[0], emission.inputs["Color"])
    tree.links.new(emission.outputs[0], output.inputs["Surface"])
    saved = [(obj, [slot.material for slot in obj.material_slots]) for obj in objects]
    view = bpy.context.scene.view_settings
    try:
        view.view_transform = "Raw"
        for obj, _ in saved:
            for slot in obj.material_slots:
                slot.material = probe
        pixels = measure.render_frame(frame, folder)
    finally:
        view.view_transform = "Standard"
        for obj, materials in saved:
            for slot, material in zip(obj.material_slots, materials):
                slot.material = material
        bpy.data.materials.remove(probe)
    return pixels[..., 0], pixels[..., 1], pixels[..., 2] > 0.5


def in_rect(u, v, surface):
    u0, v0, u1, v1 = RECT
    return surface & (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)


def measure_frames(owner, objects, folder, regions, uv_map=None):
    """Per frame of FRAMES: the frame, the still (the owner's motion_strength at 0) and the probe. Returns the
    largest leak outside the mask's projection (8-bit levels, 3 px or more outside), and per named region (a
    function of u, v, surface) the share of its textured pixels, well inside the mask, that move at some frame."""
    leak, moved, counted = 0.0, {name: 0 for name in regions}, {name: 0 for name in regions}
    for frame in FRAMES:
        moving = measure.render_frame(frame, folder)
        still = measure.render_still(owner, frame, folder)
        u, v, surface = probe_uv(objects, frame, folder, uv_map)
        masked = in_rect(u, v, surface)
        leak = max(leak, quality.leak_levels([moving], still, masked, margin=3))
        inside = ~quality.grow(~masked, 3) & quality.textured(still)
        changed = np.abs(quality.grey(moving) - quality.grey(still)) > 2 * LEVEL
        for name, region in regions.items():
            where = inside & region(u, v, surface)
            moved[name] += int((changed & where).sum())
            counted[name] += int(where.sum())
    return leak, {name: moved[name] / max(counted[name], 1) for name in regions}, counted


def loop_closes(render_camera, folder):
    """Frame LOOP + 1 is frame 1, seen from the same place (the camera held where it is at frame 1)."""
    bpy.context.scene.frame_set(1)
    pose = render_camera.matrix_world.copy()
    render_camera.animation_data_clear()
    render_camera.matrix_world = pose
    first, again = measure.render_frame(1, folder), measure.render_frame(LOOP + 1, folder)
    middle = measure.render_frame(1 + LOOP // 2, folder)
    return np.abs(again - first).max() / LEVEL, np.abs(middle - first).max() / LEVEL


def terrain(image):
    """A 4 x 4 grid with hills, its UVs written by a UV Project modifier from a fixed camera above: the camera frames
    3.6 units of it, so its borders are off the painting (the Image Texture clips them to black)."""
    bpy.ops.mesh.primitive_grid_add(x_subdivisions=40, y_subdivisions=40, size=4.0)
    obj = bpy.context.active_object
    obj.name = "Terrain"
    coords = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", coords)
    coords = coords.reshape(-1, 3)
    x, y = coords[:, 0], coords[:, 1]
    coords[:, 2] = 0.3 * np.sin(1.7 * x + 0.4) * np.cos(1.3 * y - 0.2) + 0.15 * np.sin(3.1 * x * y)
    obj.data.vertices.foreach_set("co", coords.ravel())
    obj.data.update()
    # The projection goes into a second UV map, read through a UV Map node: the render UV map stays the grid's own
    # unwrap, so a warp reading any other coordinates than the Image Texture's would show the painting elsewhere.
    obj.data.uv_layers.new(name="Projected")
    obj.data.materials.append(painting_material("Matte", image, uv_map="Projected"))
    projector = camera("Projector", (0.0, 0.0, 5.0))
    modifier = obj.modifiers.new("Projection", "UV_PROJECT")
    modifier.uv_layer = "Projected"
    modifier.projector_count = 1
    modifier.projectors[0].object = projector
    return obj


def test_a_camera_projected_matte_on_a_terrain_moves_only_in_its_mask(extension, tmp_path):
    scene_setup()
    image = bpy.data.images.load(textured_png(str(tmp_path / "painting.png"), PAINTING, PAINTING))
    ground = terrain(image)
    render_camera = moving_camera((-0.5, 0.2, 5.5), (0.5, -0.2, 5.5))
    before = {frame: measure.render_frame(frame, str(tmp_path)) for frame in FRAMES}  # no motion yet
    give_layers(ground, tmp_path)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    assert ground.image_dynamics.shape_mesh is None  # the terrain keeps its mesh

    leak, moved, counted = measure_frames(ground, [ground], str(tmp_path),
                                          {"terrain": lambda u, v, surface: surface}, uv_map="Projected")
    assert ground.data.uv_layers["UVMap"].active_render  # the warp found the projected UVs through the UV Map node
    assert counted["terrain"] > 200, counted
    assert leak < 2.0, leak
    assert moved["terrain"] > 0.6, moved
    for frame in FRAMES:  # at strength 0 the warp shows the painting as the material did, off the painting too
        still = measure.render_still(ground, frame, str(tmp_path))
        assert np.abs(still - before[frame]).max() / LEVEL < 2.0, frame
    seam, middle = loop_closes(render_camera, str(tmp_path))
    assert seam < 1.0 and middle > 20.0, (seam, middle)


def card(name, third, depth, material):
    """A card at height `depth` showing one third of the painting (u from third / 3 to (third + 1) / 3)."""
    bpy.ops.mesh.primitive_plane_add(size=1.0, location=((third - 1) * 1.05, 0.0, depth))
    obj = bpy.context.active_object
    obj.name = name
    obj.scale = (1.0, 3.0, 1.0)  # a third of a square painting: three times as high as wide
    uv = np.empty(len(obj.data.loops) * 2, np.float32)
    obj.data.uv_layers.active.data.foreach_get("uv", uv)
    uv = uv.reshape(-1, 2)
    uv[:, 0] = (third + uv[:, 0]) / 3
    obj.data.uv_layers.active.data.foreach_set("uv", uv.ravel())
    obj.data.materials.append(material)
    return obj


def test_three_cards_cut_from_one_painting_share_one_bake(extension, tmp_path):
    scene_setup()
    image = bpy.data.images.load(textured_png(str(tmp_path / "painting.png"), PAINTING, PAINTING))
    shared = painting_material("Cards", image)
    own = painting_material("Far Card", image)
    cards = [card("Near", 0, 0.8, shared), card("Middle", 1, 0.0, shared), card("Far", 2, -0.8, own)]
    materials_before = {material.name: node_tree_state(material) for material in (shared, own)}
    render_camera = moving_camera((-0.4, 0.0, 5.0), (0.4, 0.0, 5.0))
    render_camera.data.lens = 40.0
    owner = cards[1]
    give_layers(owner, tmp_path)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    groups = {material.node_tree.nodes["ImageDynamics Warp"].node_tree for material in (shared, own)}
    assert len(groups) == 1 and None not in groups  # one bake, in both materials

    def third(k):
        return lambda u, v, surface: surface & (u >= k / 3) & (u <= (k + 1) / 3)
    leak, moved, counted = measure_frames(owner, cards, str(tmp_path), {name: third(k) for k, name in enumerate(
        ("near", "middle", "far"))})
    assert min(counted.values()) > 40, counted
    assert leak < 2.0, leak
    assert min(moved.values()) > 0.6, moved  # every card moves inside the mask
    seam, middle = loop_closes(render_camera, str(tmp_path))
    assert seam < 1.0 and middle > 20.0, (seam, middle)

    bpy.context.view_layer.objects.active = owner
    assert bpy.ops.image_dynamics.clear() == {"FINISHED"}
    assert {material.name: node_tree_state(material) for material in (shared, own)} == materials_before


def test_a_painting_on_camera_window_coordinates_moves_only_in_its_mask(extension, tmp_path):
    """A Texture Coordinate node's Window output: the painting fills the frame whatever the camera does; the mask
    lands on the same rectangle of every frame."""
    scene_setup()
    image = bpy.data.images.load(textured_png(str(tmp_path / "painting.png"), PAINTING, PAINTING))
    ground = terrain(image)
    tree = ground.active_material.node_tree
    window = tree.nodes.new("ShaderNodeTexCoord")
    tree.links.new(window.outputs["Window"], tree.nodes["Image Texture"].inputs["Vector"])
    moving_camera((-0.5, 0.2, 5.5), (0.5, -0.2, 5.5))
    give_layers(ground, tmp_path)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    frames = [measure.render_frame(frame, str(tmp_path)) for frame in FRAMES]
    stills = [measure.render_still(ground, frame, str(tmp_path)) for frame in FRAMES]
    height, width = frames[0].shape[:2]
    u = np.broadcast_to((np.arange(width) + 0.5) / width, (height, width))
    v = np.broadcast_to(1.0 - (np.arange(height)[:, None] + 0.5) / height, (height, width))
    masked = in_rect(u, v, np.ones((height, width), bool))
    assert max(quality.leak_levels([frame], still, masked) for frame, still in zip(frames, stills)) < 2.0
    inside = ~quality.grow(~masked, 3)
    moved = np.mean([(np.abs(quality.grey(frame) - quality.grey(still)) > 2 * LEVEL)[inside & quality.textured(
        still)].mean() for frame, still in zip(frames[1:], stills[1:])])
    assert moved > 0.6, moved


def test_sway_on_geometry_plays_on_the_texture_of_a_card(extension, tmp_path):
    """A card showing part of the painting keeps its mesh (the shape-key grid would cover the whole painting):
    swaying plays on the texture, and says so."""
    scene_setup()
    image = bpy.data.images.load(textured_png(str(tmp_path / "painting.png"), PAINTING, PAINTING))
    one = card("Card", 1, 0.0, painting_material("Card", image))
    mesh = one.data
    moving_camera((0.0, 0.0, 5.0), (0.0, 0.0, 5.0))
    bpy.context.view_layer.objects.active = one
    layers = [{"name": "leaves", "type": "oscillation", "mask": {"rect": RECT}, "feather": 0.0, "amplitude": 6.0,
               "terms": 2}]
    animate.apply_job(one, {"loop_frames": LOOP, "working_resolution": 48, "layers": layers}, str(tmp_path), grid=8)
    one.image_dynamics.carrier = "GEOMETRY"
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    settings = one.image_dynamics
    assert one.data == mesh and settings.shape_mesh is None and settings.has_sway
    assert settings.warp_group.nodes["Sway On Texture"].outputs[0].default_value == 1.0
    first, later = measure.render_frame(1, str(tmp_path)), measure.render_frame(1 + LOOP // 4, str(tmp_path))
    assert np.abs(first - later).max() > 20 * LEVEL


def test_a_vertex_group_mask_lands_where_the_projection_puts_the_vertices(extension):
    """A vertex group of the terrain becomes a mask on the painting through the projected UVs (after the
    modifier), not through the mesh's own unwrap."""
    image = bpy.data.images.new("painting", PAINTING, PAINTING)
    ground = terrain(image)
    bpy.data.objects["Projector"].location.x = 0.5  # the projection and the unwrap now differ
    group = ground.vertex_groups.new(name="left")
    coords = np.empty(len(ground.data.vertices) * 3, np.float32)
    ground.data.vertices.foreach_get("co", coords)
    group.add([i for i, x in enumerate(coords[0::3]) if x < 0.0], 1.0, "REPLACE")
    plane = extension_module("addon.plane").ImagePlane(ground)
    mask = plane.vertex_group_mask("left", PAINTING, PAINTING)
    edge = 0.5 - 0.5 / 3.6  # x = 0 seen from a projector at x = 0.5 whose frame is 3.6 wide at the ground
    columns = (np.arange(PAINTING) + 0.5) / PAINTING
    rows = slice(PAINTING // 4, 3 * PAINTING // 4)
    assert mask[rows][:, columns < edge - 0.05].min() > 0.99
    assert mask[rows][:, columns > edge + 0.05].max() < 0.01  # the unwrap would put the edge at u = 0.5
