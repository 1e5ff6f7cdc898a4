"""Every wrong thing a user can point Generate at: a one-line message saying what to do, and a scene (data-block
counts, the material's node tree, the mesh) exactly as it was."""

import re

import bpy
import numpy as np
import pytest
from helpers import datablock_counts, node_tree_state, vertex_coords
from imgdyn import extension as dev_extension


def scene_state(obj):
    material = obj.active_material
    return (datablock_counts(), node_tree_state(material) if material and material.node_tree else None,
            vertex_coords(obj.data).tobytes() if obj.type == "MESH" else None, sorted(obj.keys()))


def refused(obj, words):
    """Generate on `obj` fails with a message matching `words`, and nothing in the scene changed."""
    bpy.context.view_layer.objects.active = obj
    before = scene_state(obj)
    with pytest.raises(RuntimeError, match=words):
        bpy.ops.image_dynamics.generate()
    assert scene_state(obj) == before


def test_no_active_object_or_not_a_mesh(extension):
    assert not bpy.ops.image_dynamics.generate.poll()  # nothing selected: greyed out, with a reason
    empty = bpy.data.objects.new("Empty", None)
    bpy.context.scene.collection.objects.link(empty)
    bpy.context.view_layer.objects.active = empty
    assert not bpy.ops.image_dynamics.generate.poll()


def test_several_image_textures_need_an_active_one(plane):
    tree = plane.active_material.node_tree
    extra = tree.nodes.new("ShaderNodeTexImage")
    extra.image = tree.nodes["Image Texture"].image
    tree.nodes.active = tree.nodes["Principled BSDF"]
    refused(plane, "has several image textures: make the one to animate the active node")
    tree.nodes.active = tree.nodes["Image Texture"]
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}


def test_a_painting_already_moving_through_another_object_is_refused(plane):
    """A painting shown by several objects moves by the layers of one of them; another's Generate is refused."""
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    other = bpy.data.objects.new("Other", plane.data.copy())
    other.active_material = plane.active_material.copy()  # its own material, showing the same image
    bpy.context.scene.collection.objects.link(other)
    bpy.context.view_layer.objects.active = other
    bpy.ops.image_dynamics.layer_add()
    other.image_dynamics.layers[0].layer_type = "DRIFT"
    refused(other, r"The painting '.*' already moves through 'river': set the layers there")


@pytest.mark.parametrize("source, words", [("MOVIE", "is a movie or an image sequence"),
                                           ("SEQUENCE", "is a movie or an image sequence"),
                                           ("TILED", "has UDIM tiles")])
def test_movies_sequences_and_udims_are_refused(plane, source, words):
    plane.active_material.node_tree.nodes["Image Texture"].image.source = source
    refused(plane, words)


def test_missing_image_file(plane):
    image = plane.active_material.node_tree.nodes["Image Texture"].image
    image.filepath = "/nowhere/river.png"
    image.reload()
    refused(plane, "has no pixels: check that its file can be read")


def test_non_finite_hint_is_refused_before_the_backend(plane):
    plane.image_dynamics.layers[0].hints[0].velocity = (float("nan"), 0.0)
    refused(plane, "has a hint with a speed that is not a number")


def test_reversed_frame_range_and_one_frame_loops(plane):
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 20, 10
    refused(plane, "A loop needs at least 2 frames")
    scene.frame_start, scene.frame_end = 1, 1
    refused(plane, "A loop needs at least 2 frames")


@pytest.mark.parametrize("kind", ["tiny", "float16", "alpha", "packed"])
def test_unusual_images_work(plane, kind):
    node = plane.active_material.node_tree.nodes["Image Texture"]
    if kind == "tiny":
        node.image = bpy.data.images.new("one pixel", 1, 1)
    elif kind == "float16":
        node.image = bpy.data.images.new("float", 64, 36, float_buffer=True)
        node.image.pixels.foreach_set(np.random.default_rng(0).random(64 * 36 * 4).astype(np.float32))
    elif kind == "alpha":
        node.image = bpy.data.images.new("alpha", 64, 36, alpha=True)
    else:
        node.image.pack()
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    assert bpy.ops.image_dynamics.clear() == {"FINISHED"}


def rss_mib():
    with open("/proc/self/status", encoding="ascii") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:")) / 1024


def test_hundred_generate_clear_cycles_stay_flat(plane):
    plane.image_dynamics.working_resolution = 24
    plane.image_dynamics.grid_resolution = 4
    counts = datablock_counts()
    for cycle in range(100):
        assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
        assert bpy.ops.image_dynamics.clear() == {"FINISHED"}
        if cycle == 9:
            after_ten = rss_mib()
    assert datablock_counts() == counts
    assert rss_mib() - after_ten < 40, (after_ten, rss_mib())  # Blender's memory does not creep up
    assert not [a for a in bpy.data.actions if a.users == 0]
    assert not [i for i in bpy.data.images if i.users == 0]


def test_linked_plane_is_refused(plane, tmp_path):
    library = str(tmp_path / "library.blend")
    bpy.data.libraries.write(library, {plane, plane.data, plane.active_material}, fake_user=True)
    with bpy.data.libraries.load(library, link=True) as (source, target):
        target.objects = ["river"]
    linked = target.objects[0]
    bpy.context.scene.collection.objects.link(linked)
    refused(linked, "is linked from .*make it local")


def test_a_hint_faster_than_the_job_allows_is_refused_in_the_panels_words(plane):
    plane.image_dynamics.layers[0].hints[0].velocity = (5000.0, 0.0)  # an arrow drawn far too long does the same
    refused(plane, "asks for 5000 image pixels per frame, more than the 1000 a hint may have: shorten its arrow")


def test_a_bake_over_two_gib_is_refused_before_any_image_is_made(extension):
    """Blender crashes saving a packed image over 2 GiB: such an atlas is refused, with the setting to lower."""
    texture = dev_extension.extension_module("addon.carriers.texture")
    plane_errors = dev_extension.extension_module("addon.plane").PlaneError
    tiles = np.broadcast_to(np.zeros((1, 1, 1, 4), np.float32), (40, 2048, 2048, 4))  # no memory behind it
    images = len(bpy.data.images)
    with pytest.raises(plane_errors, match=r"2\.\d GiB image, and Blender cannot save a packed image over 2 GiB: "
                                           r"lower the working resolution"):
        texture._atlas_image("too big", tiles, 2048, 2048)
    assert len(bpy.data.images) == images


@pytest.mark.parametrize("phase_frames, words", [
    (60, r"60 tiles at 2048x1152 would be a 2\.1 GiB image, and Blender cannot save a packed image over 2 GiB"),
    (120, r"120 tiles at 2048x1152 would be a 18432x16128 texture, over the 16384 a side GPUs take")])
def test_a_bake_blender_cannot_hold_is_refused_before_the_backend_starts(plane, tmp_path, phase_frames, words):
    """A 3840x2160 painting at working resolution 2048 with a long phase period: the flowing layer's atlas would
    crash Blender's save (over 2 GiB packed) or exceed a GPU texture. Generate refuses it from the job alone,
    naming the settings to lower and values that fit; the backend never starts (its Python would leave a mark)."""
    marker = tmp_path / "backend-started"
    fake_python = tmp_path / "python"
    fake_python.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    fake_python.chmod(0o755)
    preferences = bpy.context.preferences.addons[dev_extension.MODULE].preferences
    image_node = plane.active_material.node_tree.nodes["Image Texture"]
    original, saved_python = image_node.image, preferences.backend_python
    painting = bpy.data.images.new("painting 4k", 3840, 2160)  # never read: the job is refused before
    image_node.image = painting
    settings = plane.image_dynamics
    settings.working_resolution = 2048
    settings.layers[0].phase_frames = phase_frames
    bpy.context.scene.frame_end = 120
    preferences.backend_python = str(fake_python)
    bpy.context.view_layer.objects.active = plane
    before = scene_state(plane)
    try:
        with pytest.raises(RuntimeError, match=rf"Layer 'river' cannot be baked: {words}; lower the Working "
                                               rf"Resolution to \d+ or less or set its Phase Period to \d+ frames"):
            bpy.ops.image_dynamics.generate()
        assert scene_state(plane) == before
    finally:
        preferences.backend_python = saved_python
        image_node.image = original
        bpy.data.images.remove(painting)
    assert not marker.exists()


def test_the_values_a_refused_bake_suggests_are_the_largest_that_fit(extension):
    """The refusal's working resolution and phase period are values that fit, and the next larger ones do not."""
    bake_size = dev_extension.extension_module("addon.carriers.bake_size")
    plane_errors = dev_extension.extension_module("addon.plane").PlaneError
    job = {"image_size": [3840, 2160], "working_resolution": 2048, "loop_frames": 120,
           "layers": [{"name": "water", "type": "fluid", "phase_frames": 60}]}

    def with_period(period):
        return dict(job, layers=[dict(job["layers"][0], phase_frames=period)])

    with pytest.raises(plane_errors) as refusal:
        bake_size.check_job(job)
    found = re.search(r"Working Resolution to (\d+) or less or set its Phase Period to (\d+) frames",
                      str(refusal.value))
    resolution, period = int(found[1]), int(found[2])
    bake_size.check_job(dict(job, working_resolution=resolution))
    with pytest.raises(plane_errors):
        bake_size.check_job(dict(job, working_resolution=resolution + bake_size.RESOLUTION_STEP))
    bake_size.check_job(with_period(period))
    with pytest.raises(plane_errors):
        bake_size.check_job(with_period(min(p for p in range(period + 1, 121) if 120 % p == 0)))
    bake_size.check_job(dict(job, working_resolution=1024, loop_frames=480,
                             layers=[{"name": "water", "type": "fluid"}]))  # the production case fits
