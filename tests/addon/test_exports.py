"""Exports for other programs, read back from their files: the flow map re-applied by a small reference shader
reproduces the baked loop (within the error stated in docs/flowmaps.md), and the motion-vector EXRs match the
motion Blender renders, with the sign of Blender's Vector pass (checked on a Cycles render)."""

import json
import os
import types

import bpy
import numpy as np
import pytest

from imgdyn import animate, quality
from imgdyn.extension import REPO_ROOT, extension_module
from imgdyn.layers import UsageError
from test_rendered_motion import textured_plane

RIVER = os.path.join(REPO_ROOT, "samples", "river")
LEVELS = 255.0


def read_data(path):
    """An image file's values as stored (not as colour), (H, W, 4) rows top to bottom."""
    image = bpy.data.images.load(path)
    try:
        image.colorspace_settings.name = "Non-Color"
        pixels = np.empty(image.size[0] * image.size[1] * 4, np.float32)
        image.pixels.foreach_get(pixels)
        return pixels.reshape(image.size[1], image.size[0], 4)[::-1].astype(np.float64)
    finally:
        bpy.data.images.remove(image)


# --- the flow map --------------------------------------------------------------------------------------------

def shader_frame(painting, flow, record, clock, size):
    """The reference shader of docs/flowmaps.md, in numpy: three phases of the still read at uv - flow * (phase -
    1/2), restarting every period, weighted (2/3) sin^2(pi phase), their linear colours added up. `flow` is the
    decoded map, UV units per period (u right, v up), sampled bilinearly like any texture."""
    reference = extension_module("backend.reference")
    uv = reference.pixel_uvs(*size)
    step = reference.sample(flow.astype(np.float32), uv)
    colour = 0.0
    for index in range(record["phases"]):
        phase = (clock / record["phase_period_frames"] + index / record["phases"]) % 1.0
        colour = colour + (2 / 3) * np.sin(np.pi * phase) ** 2 * painting.read(uv - step * (phase - 0.5))[..., :3]
    return colour


def decoded_flow(folder):
    """The flow map's flow, UV units per period, from its PNG (which has to agree with its EXR), and its JSON."""
    record = json.loads((folder / "flowmap.json").read_text())
    encoded = read_data(str(folder / record["image"]))
    assert np.abs(read_data(str(folder / record["float_image"])) - encoded).max() <= 0.5 / 65535 + 1e-7
    return (encoded[..., :2] * 2.0 - 1.0) * record["scale_uv_per_period"], record


# The river sample's hints, and a river that bends (hints 60 degrees apart, three times as fast, running into
# the banks of its band), with bounds (mean, 99th percentile) on the fluid's straight-line error (working px) and
# on its frames against the bake's (8-bit levels): the documented shader's, and the project's mix on the map's
# straight lookups (which leaves the map's own error alone). Measured: docs/flowmaps.md.
BENT = [{"uv": [0.2, 0.29], "velocity": [5.2, 3.0]}, {"uv": [0.8, 0.29], "velocity": [5.2, -3.0]}]
BOUNDS = {"sample": {"miss": (0.05, 0.4), "shader": (3.0, 15.0), "project's mix": (0.2, 2.5)},
          "bent": {"miss": (0.45, 0.9), "shader": (13.0, 70.0), "project's mix": (12.0, 65.0)}}


@pytest.mark.parametrize("bend", ["sample", "bent"])
def test_a_flow_map_reapplied_by_a_reference_shader_reproduces_the_loop(extension, tmp_path, bend):
    """The river sample (a painting, 640x360) with its river (fluid, two hints) and clouds (drift)."""
    reference, loop = extension_modules()
    with open(os.path.join(RIVER, "job.json"), encoding="utf-8") as handle:
        job = json.load(handle)
    job.update(loop_frames=24, working_resolution=64)
    if bend == "bent":
        job["layers"][0]["hints"] = BENT
    bounds = BOUNDS[bend]
    obj = animate.import_plane(os.path.join(RIVER, "river.png"))
    animate.apply_job(obj, job, RIVER, grid=16)
    animate.setup_scene(obj, 24, width=160, samples=1, fps=25.0)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    settings = obj.image_dynamics
    assert bpy.ops.image_dynamics.export_flowmap(directory=str(tmp_path / "flow")) == {"FINISHED"}
    flow, record = decoded_flow(tmp_path / "flow")
    period = record["phase_period_frames"]
    assert (record["phases"], record["fps"], record["loop_frames"], period) == (3, 25.0, 24, 24)
    assert record["phase_period_seconds"] == pytest.approx(24 / 25)
    width, height = record["size"]
    assert (width, height) == tuple(settings.baked_working_size) and flow.shape == (height, width, 2)

    # The geometry: the map's straight lookups against the baked ones, at every age the streams show.
    layers = extension_module("addon.carriers.texture").flowing_layers(settings)
    baked = sum(lookups for lookups, _ in layers)
    half = (len(baked) - 1) // 2
    ages = np.arange(-half, half + 1)
    shown = np.cos(np.pi * ages / period) ** 2
    straight = -flow[None] * (ages / period)[:, None, None, None]
    miss_px = (((baked - straight) * np.array([width, height])) ** 2).sum(axis=-1)
    miss_px = np.sqrt(np.tensordot(shown, miss_px, axes=(0, 0)) / shown.sum())  # per pixel, RMS over ages
    upper = (np.arange(height) < height // 2)[:, None]  # the clouds' drift is the upper half's motion
    clouds, river = (np.abs(baked[-1]).sum(axis=-1) > 0) & upper, (np.abs(baked[-1]).sum(axis=-1) > 0) & ~upper
    print(f"{bend}: straight-line error, working px: drift mean {miss_px[clouds].mean():.4f} "
          f"p99 {np.percentile(miss_px[clouds], 99):.4f} max {miss_px[clouds].max():.4f}"
          f"; fluid mean {miss_px[river].mean():.3f} p99 {np.percentile(miss_px[river], 99):.3f} "
          f"max {miss_px[river].max():.3f}; sidecar {record['straight_line_error_map_px']}")
    # Where a drift runs at one speed it is straight: only the 16-bit steps are left. In its feather the speed
    # changes along the way, and the straight line misses by up to a twentieth of a pixel.
    speed = np.sqrt((flow ** 2).sum(axis=-1))
    core = eroded(clouds & (speed > 0.999 * speed[clouds].max()), 2)
    assert core.sum() > 0.2 * clouds.sum() and miss_px[core].max() < 0.001
    assert miss_px[clouds].max() < 0.1
    assert within((miss_px[river].mean(), np.percentile(miss_px[river], 99)), bounds["miss"])
    assert record["straight_line_error_map_px"]["p99"] == pytest.approx(np.percentile(miss_px[clouds | river], 99),
                                                                        abs=0.02)

    # The pictures: the reference shader's frames against the bake's (backend/reference.py, which Blender
    # renders within 0.05 levels on average: test_rendered_motion.py), over one period.
    painting = reference.Painting(*extension_module("addon.plane").painting_texels(obj.active_material
                                  .node_tree.nodes["Image Texture"].image))
    low = reference.low_band(painting.linear(), loop.low_band_sigma(painting.size[0]))
    size = (320, 180)
    as_layer = -flow[None] * (ages / period)[:, None, None, None]  # the map as lookups by age, for the project's mix
    regions = {name: reference.sample(region[..., None].astype(np.float32), reference.pixel_uvs(*size))[..., 0] > 0.5
               for name, region in (("drift", clouds), ("fluid", river))}
    plain, mixed, end = {name: [] for name in regions}, {name: [] for name in regions}, None
    for clock in range(0, period + 1, 4):
        bake = to_levels(reference, reference.render(
            painting, low, [{"lookups": lookups, "period": p, "gain": 1.0, "clock": clock} for lookups, p in layers],
            size))
        shader = to_levels(reference, shader_frame(painting, flow, record, clock, size))
        same_mix = to_levels(reference, reference.render(
            painting, low, [{"lookups": as_layer.astype(np.float32), "period": period, "gain": 1.0, "clock": clock}],
            size))
        for name, region in regions.items():
            plain[name].append(np.abs(shader - bake)[region])
            mixed[name].append(np.abs(same_mix - bake)[region])
        end = end if clock else shader
    assert np.abs(shader - end).max() < 1e-6  # the shader's frame P is its frame 0: it loops
    numbers = {}
    for name in regions:
        for how, errors in (("shader", plain), ("project's mix", mixed)):
            levels = np.concatenate(errors[name])
            numbers[name, how] = levels.mean(), np.percentile(levels, 99)
            print(f"{bend}, {name}, {how} on the map: 8-bit levels mean {levels.mean():.2f} "
                  f"p99 {np.percentile(levels, 99):.1f}")
    assert within(numbers["drift", "project's mix"], (0.05, 0.5))  # a straight flow: the map is the bake
    assert within(numbers["drift", "shader"], (0.2, 1.0))
    for how in ("shader", "project's mix"):
        assert within(numbers["fluid", how], bounds[how]), (how, numbers["fluid", how])


def within(numbers, bounds):
    return all(number < bound for number, bound in zip(numbers, bounds, strict=True))


def flowmap_material(still, flow_image, scale):
    """docs/flowmaps.md's graph in Blender's shader nodes (UV v up, as in Unity's Shader Graph), driven by a Value
    node "Clock" (time / period) that the test sets."""
    material = bpy.data.materials.new("flow map graph")  # with a node tree (Blender 5)
    tree = material.node_tree
    tree.nodes.clear()

    def node(kind, *inputs, **settings):
        made = tree.nodes.new(kind)
        for key, value in settings.items():
            setattr(made, key, value)
        for socket, value in zip(made.inputs, inputs):
            if isinstance(value, bpy.types.NodeSocket):
                tree.links.new(value, socket)
            elif value is not None:
                socket.default_value = value
        return made.outputs[0]

    def texture(image, vector):
        return node("ShaderNodeTexImage", vector, image=image, interpolation="Linear", extension="EXTEND")

    uv = tree.nodes.new("ShaderNodeTexCoord").outputs["UV"]
    flow_image.colorspace_settings.name = "Non-Color"
    encoded = texture(flow_image, uv)
    flow = node("ShaderNodeVectorMath", encoded, (2.0, 2.0, 2.0), (-1.0, -1.0, -1.0), operation="MULTIPLY_ADD")
    flow = node("ShaderNodeVectorMath", flow, None, None, scale, operation="SCALE")
    clock_node = tree.nodes.new("ShaderNodeValue")
    clock_node.name = "Clock"
    colour = None
    for index in range(3):
        phase = node("ShaderNodeMath", node("ShaderNodeMath", clock_node.outputs[0], index / 3, operation="ADD"),
                     operation="FRACT")
        step = node("ShaderNodeVectorMath", flow, None, None, node("ShaderNodeMath", phase, 0.5, operation="SUBTRACT"),
                    operation="SCALE")
        read = texture(still, node("ShaderNodeVectorMath", uv, step, operation="SUBTRACT"))
        sine = node("ShaderNodeMath", node("ShaderNodeMath", phase, np.pi, operation="MULTIPLY"), operation="SINE")
        weight = node("ShaderNodeMath", node("ShaderNodeMath", sine, sine, operation="MULTIPLY"), 2 / 3,
                      operation="MULTIPLY")
        part = node("ShaderNodeVectorMath", read, None, None, weight, operation="SCALE")
        colour = part if colour is None else node("ShaderNodeVectorMath", colour, part, operation="ADD")
    emission = node("ShaderNodeEmission", colour, 1.0)
    tree.links.new(emission, tree.nodes.new("ShaderNodeOutputMaterial").inputs["Surface"])
    return material


def test_the_documented_graph_renders_the_shader_in_cycles(extension, tmp_path, render):
    """The flow map and its graph in a real renderer: Cycles renders docs/flowmaps.md's graph, built from shader
    nodes and reading the exported 16-bit PNG, as the numpy shader computes it."""
    reference, _ = extension_modules()
    with open(os.path.join(RIVER, "job.json"), encoding="utf-8") as handle:
        job = json.load(handle)
    job.update(loop_frames=12, working_resolution=48)
    job["layers"][0]["hints"] = BENT
    obj = animate.import_plane(os.path.join(RIVER, "river.png"))
    animate.apply_job(obj, job, RIVER, grid=16)
    animate.setup_scene(obj, 12, width=160, samples=1)
    bpy.context.scene.cycles.filter_width = 0.01  # one sample at each pixel's centre, as the numpy shader reads
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    assert bpy.ops.image_dynamics.export_flowmap(directory=str(tmp_path / "flow")) == {"FINISHED"}
    flow, record = decoded_flow(tmp_path / "flow")
    still = obj.active_material.node_tree.nodes["Image Texture"].image
    painting = reference.Painting(*extension_module("addon.plane").painting_texels(still))
    flow_image = bpy.data.images.load(str(tmp_path / "flow" / "flowmap.png"))
    obj.data.materials[0] = flowmap_material(still, flow_image, record["scale_uv_per_period"])
    clock = obj.data.materials[0].node_tree.nodes["Clock"]
    frames = []
    for frame in (0, 3, 7):
        clock.outputs[0].default_value = frame / record["phase_period_frames"]
        blender = render(1)
        numpy = reference.linear_to_srgb(shader_frame(painting, flow, record, frame,
                                                      (blender.shape[1], blender.shape[0])))
        difference = np.abs(blender - numpy) * LEVELS
        print(f"clock {frame}: Cycles against the numpy shader, levels mean {difference.mean():.3f} "
              f"p99.9 {np.percentile(difference, 99.9):.2f} max {difference.max():.2f}")
        assert difference.mean() < 0.1 and np.percentile(difference, 99.9) < 1.5
        frames.append(blender)
    assert np.percentile(np.abs(frames[1] - frames[0]) * LEVELS, 99) > 20  # and the river flows in it


def eroded(region, pixels):
    """The region without the pixels within `pixels` (chessboard distance) of its outside or the picture's edge."""
    padded = np.pad(region, pixels, constant_values=False)
    height, width = region.shape
    inner = region.copy()
    for dy in range(-pixels, pixels + 1):
        for dx in range(-pixels, pixels + 1):
            inner &= padded[pixels + dy:pixels + dy + height, pixels + dx:pixels + dx + width]
    return inner


def extension_modules():
    return extension_module("backend.reference"), extension_module("backend.loop")


def to_levels(reference, linear):
    return reference.linear_to_srgb(linear[..., :3]) * LEVELS


def test_a_flow_map_needs_a_flowing_layer_and_exports_need_a_folder(extension, tmp_path):
    obj = textured_plane(tmp_path, [{"name": "grass", "type": "oscillation", "mask": {"rect": [0, 0, 1, 0.5]},
                                     "terms": 2}], 12)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    with pytest.raises(RuntimeError, match="No flow map: this plane's bake has no flowing layer"):
        bpy.ops.image_dynamics.export_flowmap(directory=str(tmp_path / "flow"))
    assert not (tmp_path / "flow").exists() and obj.image_dynamics.is_baked
    taken = tmp_path / "a file"
    taken.write_text("keep me")
    for operator, what in ((bpy.ops.image_dynamics.export_motion_vectors, "motion vectors"),
                           (bpy.ops.image_dynamics.export_flowmap, "flow map")):
        with pytest.raises(RuntimeError, match=f"Choose a folder for the {what}"):
            operator(directory=str(taken))
    assert taken.read_text() == "keep me"
    args = types.SimpleNamespace(job=None, layer=[["sway", "rect=0,0,1,0.5"]], frames=12, working_resolution=None,
                                 device=None, fps=None, flowmap=True)
    with pytest.raises(UsageError, match="--flowmap needs a flowing layer"):
        animate.build_job(args)


# --- motion vectors ------------------------------------------------------------------------------------------

def vectors(folder, frame):
    return read_data(str(folder / f"vector_{frame:04d}.exr"))


def cycles_vector_pass(step_px, tmp_path):
    """Blender's own Vector pass at the centre of a square that Cycles renders (in the current, empty scene)
    moving by `step_px` (x right, y up) a frame, then twice that: its (R, G, B, A) in the frame between."""
    scene = bpy.context.scene
    mesh = bpy.data.meshes.new("square")
    mesh.from_pydata([(-1, -1, 0), (1, -1, 0), (1, 1, 0), (-1, 1, 0)], [], [(0, 1, 2, 3)])
    square = bpy.data.objects.new("square", mesh)
    scene.collection.objects.link(square)
    for frame, travelled in ((1, 0.0), (2, 1.0), (3, 3.0)):  # 10 px per unit below
        square.location = (travelled * step_px[0] / 10, travelled * step_px[1] / 10, 0)
        square.keyframe_insert("location", frame=frame)
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    camera.data.type, camera.data.ortho_scale, camera.location = "ORTHO", 8.0, (0, 0, 5)
    scene.collection.objects.link(camera)
    scene.camera, scene.render.engine = camera, "CYCLES"
    scene.cycles.samples, scene.cycles.device = 1, "CPU"
    scene.render.resolution_x = scene.render.resolution_y = 80
    scene.render.use_motion_blur = False
    scene.view_layers[0].use_pass_vector = True
    tree = bpy.data.node_groups.new("vector only", "CompositorNodeTree")  # the render's image: the pass
    scene.compositing_node_group = tree
    tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    tree.links.new(tree.nodes.new("CompositorNodeRLayers").outputs["Vector"],
                   tree.nodes.new("NodeGroupOutput").inputs[0])
    scene.frame_set(2)
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.filepath = str(tmp_path / "vector_pass.exr")
    bpy.ops.render.render(write_still=True)
    return read_data(str(tmp_path / "vector_pass.exr"))[40, 40]


def test_blenders_vector_pass_points_back_in_both_halves(extension, tmp_path):
    """The convention the export follows, as Cycles writes it: R, G = previous position - this one; B, A = this
    position - the next (a square moving right by 2 px, then 4, up by 1, then 2)."""
    assert np.allclose(cycles_vector_pass((2.0, 1.0), tmp_path), [-2.0, -1.0, -4.0, -2.0], atol=0.01)


@pytest.mark.parametrize("velocity", [(1.5, 0.0), (-0.8, 1.1)])
def test_a_drift_gives_its_speed_in_the_vector_pass_convention(extension, tmp_path, velocity):
    """A drift of v source pixels per frame, on a picture 1.5 times its vectors' size, moves v / 1.5 px a frame:
    -v / 1.5 in both halves (x right, y up) of every frame, the loop's wrap included, as Blender's pass has it."""
    layers = [{"name": "clouds", "type": "drift", "mask": {"rect": [0.0, 0.0, 1.0, 1.0]}, "feather": 0.0,
               "velocity": list(velocity)}]
    textured_plane(tmp_path, layers, 12, size=(360, 204), working=60)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    folder = tmp_path / "vectors"
    assert bpy.ops.image_dynamics.export_motion_vectors(directory=str(folder), width=240, height=136) == {"FINISHED"}
    record = json.loads((folder / "vectors.json").read_text())
    assert record["frames"] == [1, 12] and record["size"] == [240, 136]
    assert sorted(os.listdir(folder)) == [f"vector_{n:04d}.exr" for n in range(1, 13)] + ["vectors.json"]
    expected = -np.tile(np.array(velocity) / 1.5, 2)
    for frame in range(1, 13):
        field = vectors(folder, frame)
        assert field.shape == (136, 240, 4)
        inside = field[16:-16, 16:-16]  # the lookups stay on the picture: the border slows the drift
        assert np.abs(inside - expected).max() < 0.02, (frame, inside.reshape(-1, 4).mean(axis=0), expected)


MOVING = {
    # a curving flow: two hints 70 degrees apart
    "fluid": {"name": "river", "type": "fluid", "mask": {"rect": [0.0, 0.15, 1.0, 0.85]}, "feather": 0.05,
              "hints": [{"uv": [0.25, 0.5], "velocity": [2.0, 0.0]}, {"uv": [0.75, 0.5], "velocity": [0.7, 1.9]}],
              "edge_tolerance": 10.0},
    # a sway, whose motion changes from frame to frame: the halves of a frame's vectors differ by about a pixel
    "sway": {"name": "grass", "type": "oscillation", "mask": {"rect": [0.0, 0.0, 1.0, 1.0]}, "feather": 0.0,
             "amplitude": 5.0, "terms": 1, "scale": 0.8, "sway_across": 0.0},
}


@pytest.mark.parametrize("kind", ["fluid", "sway"])
def test_motion_vectors_match_the_rendered_motion_across_the_wrap(extension, tmp_path, render, kind):
    """At the render's size: each half of the vectors (to the next frame; from the previous one) against the shift
    measured between consecutive rendered frames (phase correlation in windows), the loop's wrap included."""
    obj = textured_plane(tmp_path, [MOVING[kind]], 12)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    folder = tmp_path / "vectors"
    assert bpy.ops.image_dynamics.export_motion_vectors(directory=str(folder)) == {"FINISHED"}
    start, frames = obj.image_dynamics.baked_loop_start, obj.image_dynamics.baked_loop_frames
    rendered = {frame: render(frame) for frame in range(start + frames - 4, start + frames + 3)}
    height, width = rendered[start + frames].shape[:2]
    centres = [(x * width, y * height) for x in (0.25, 0.5, 0.75) for y in (0.4, 0.6)]
    errors, speeds = [], []
    for frame in range(start + frames - 4, start + frames + 2):  # ..., T - 1 -> T (= 0), 0 -> 1, ...
        measured = quality.rendered_speed([rendered[frame], rendered[frame + 1]], centres, size=32)
        ahead = -vectors(folder, start + (frame - start) % frames)[..., 2:]  # this frame -> the next
        behind = -vectors(folder, start + (frame + 1 - start) % frames)[..., :2]  # the next frame's, from this one
        for (x, y), shift in zip(centres, measured):
            for half in (ahead, behind):
                window = half[int(y) - 16:int(y) + 16, int(x) - 16:int(x) + 16].reshape(-1, 2).mean(axis=0)
                errors.append(np.linalg.norm(np.array([window[0], -window[1]]) - shift))  # rendered rows run down
            speeds.append(np.linalg.norm(shift))
    errors, speeds = np.array(errors), np.array(speeds)
    print(f"{kind}: vectors against rendered shifts: speed {speeds.mean():.2f} px/frame (min {speeds.min():.2f}), "
          f"error mean {errors.mean():.3f} max {errors.max():.3f} px")
    assert speeds.mean() > 1.0
    assert errors.mean() < 0.15 and errors.max() < 0.4
