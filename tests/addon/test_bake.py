"""Generate on a real image plane with the real backend, then read back what was baked and render it."""

import json
import os
import subprocess
import sys

import bpy
import numpy as np
import pytest
from helpers import LOOP, datablock_counts, evaluated_coords, node_tree_state, vertex_coords

TOLERANCE = 1.0 / 255.0
START = 1
MIDDLE = START + LOOP // 2


def river_rows(image):
    """Rows of a render that show the river (v between 0.2 and 0.38), and rows of sky far from it."""
    height = image.shape[0]
    river = image[round(height * 0.64):round(height * 0.78)]
    sky = image[: round(height * 0.5)]
    return river, sky


def test_generate_bakes_a_warp_that_takes_the_image_textures_place_and_loops(plane, render):
    tree = plane.active_material.node_tree
    image_node = tree.nodes["Image Texture"]
    fed_before = sorted((link.to_node.name, link.to_socket.identifier, link.from_socket.name)
                        for link in tree.links if link.from_node == image_node)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    settings = plane.image_dynamics
    assert (settings.baked_loop_start, settings.baked_loop_frames) == (START, LOOP)

    warp = tree.nodes["ImageDynamics Warp"]
    assert warp.node_tree == settings.warp_group and warp.inputs["UV"].links[0].from_socket.name == "UV"
    fed_now = sorted((link.to_node.name, link.to_socket.identifier, link.from_socket.name)
                     for link in tree.links if link.from_node == warp and link.from_socket.name != "Moving")
    assert fed_now == fed_before  # the warp feeds what the image fed: its colours are the moving picture
    # ... and the image feeds a copy of the same shader (the still), chosen where nothing moves.
    still = sorted((link.to_node.name.removesuffix(".001"), link.to_socket.identifier, link.from_socket.name)
                   for link in tree.links if link.from_node == image_node)
    assert still == fed_before and all(link.to_node.get("imgdyn_still_branch") for link in tree.links
                                       if link.from_node == image_node)
    mix = tree.nodes["ImageDynamics Still Or Moving"]
    assert mix.inputs["Fac"].links[0].from_socket == warp.outputs["Moving"]
    assert mix.inputs[1].links[0].from_node.get("imgdyn_still_branch")
    assert mix.inputs[2].links[0].from_node.name == "Principled BSDF"
    assert [entry.kind for entry in settings.warp_images] == ["AGES", "LOW", "MOVING"]
    assert all(entry.image.packed_file is not None for entry in settings.warp_images)
    drivers = list(settings.warp_group.animation_data.drivers)
    assert drivers and all(d.driver.is_valid and d.driver.is_simple_expression for d in drivers)
    assert plane.data.shape_keys is None  # a flowing layer does not bend the mesh

    first, later, looped = render(START), render(START + LOOP // 4), render(START + LOOP)
    assert np.abs(first - looped).max() < TOLERANCE
    river_first, sky_first = river_rows(first)
    river_later, sky_later = river_rows(later)
    assert np.abs(river_first - river_later).mean() > 0.003  # the water moves ...
    assert np.abs(sky_first - sky_later).max() < TOLERANCE  # ... the sky does not


def test_strength_zero_is_the_still_image_and_strength_keys_play(plane, render):
    still = render(MIDDLE)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    assert np.abs(render(MIDDLE) - still).max() > 0.05
    plane["motion_strength"] = 0.0
    assert np.abs(render(MIDDLE) - still).max() < TOLERANCE

    plane["motion_strength"] = 0.0
    plane.keyframe_insert('["motion_strength"]', frame=MIDDLE)
    plane["motion_strength"] = 1.0
    plane.keyframe_insert('["motion_strength"]', frame=MIDDLE + 2)
    assert np.abs(render(MIDDLE) - still).max() < TOLERANCE
    assert np.abs(render(MIDDLE + 2) - still).max() > 0.05


def test_geometry_carrier_sways_the_grid_in_a_loop(plane, render):
    settings = plane.image_dynamics
    river = settings.layers[0]
    river.layer_type, river.amplitude, river.terms = "OSCILLATION", 6.0, 3
    settings.carrier = "GEOMETRY"
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    assert settings.warp_group.nodes["Sway On Texture"].outputs[0].default_value == 0.0  # the texture holds still
    rest = vertex_coords(plane.data)
    assert len(rest) == 17 * 10  # 16 segments along the long side, 9 along the short one

    def coords(frame):
        bpy.context.scene.frame_set(frame)
        return evaluated_coords(plane)

    moved = np.abs(coords(MIDDLE) - rest).max(axis=1)
    assert moved.max() > 1e-3
    v_of_vertex = np.round((rest[:, 1] - rest[:, 1].min()) / np.ptp(rest[:, 1]), 4)
    assert moved[(v_of_vertex > 0.5)].max() < 1e-6  # the sky half of the grid stays put
    assert np.abs(coords(START + LOOP) - coords(START)).max() < 1e-6
    assert np.abs(render(START) - render(START + LOOP)).max() < TOLERANCE

    plane["motion_strength"] = 0.0
    plane.update_tag()  # what editing the field in the UI does; a bare Python assignment tags nothing
    assert np.abs(coords(MIDDLE) - rest).max() < 1e-6


def test_the_warp_is_rendered_only_where_something_moves_and_the_picture_does_not_change(plane, render):
    """The still copy of the shader is chosen by the Moving map: 1 on every texel any layer's data touches, 0 from
    3 texels away. Rendering the warp everywhere instead gives the same frame."""
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    settings = plane.image_dynamics
    (moving,) = [entry.image for entry in settings.warp_images if entry.kind == "MOVING"]
    (ages,) = [entry for entry in settings.warp_images if entry.kind == "AGES"]
    width, height = moving.size
    texels = np.empty(width * height * 4, np.float32)
    moving.pixels.foreach_get(texels)
    fac = texels[0::4].reshape(height, width)[::-1]  # rows top to bottom, as the backend's arrays
    touched = np.any(texture_module().atlas_tiles(ages.image, ages.terms, width, height) != 0, axis=(0, 3))
    assert set(np.unique(fac)) == {0.0, 1.0} and 0.05 < fac.mean() < 0.95
    assert fac[touched].min() == 1.0
    near = touched.copy()
    for _ in range(2):
        near = np.pad(near, 1)[1:-1, 1:-1] | np.pad(near, 1)[:-2, 1:-1] | np.pad(near, 1)[2:, 1:-1]
        near = near | np.pad(near, 1)[1:-1, :-2] | np.pad(near, 1)[1:-1, 2:]
    assert fac[~near].max() == 0.0

    branched = render(MIDDLE)
    mix = plane.active_material.node_tree.nodes["ImageDynamics Still Or Moving"]
    plane.active_material.node_tree.links.remove(mix.inputs["Fac"].links[0])
    mix.inputs["Fac"].default_value = 1.0
    everywhere = render(MIDDLE)
    assert np.abs(branched - everywhere).max() < TOLERANCE and np.abs(branched - render(START)).max() > 0.05


def texture_module():
    from imgdyn import extension
    return extension.extension_module("addon.carriers.texture")


def test_clear_restores_material_and_mesh_and_rebakes_do_not_pile_up(plane):
    material = plane.active_material
    before_tree, before_mesh = node_tree_state(material), plane.data
    before_coords, before_counts = vertex_coords(plane.data), datablock_counts()

    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    after_one = datablock_counts()
    for _ in range(3):
        assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    assert datablock_counts() == after_one

    assert bpy.ops.image_dynamics.clear() == {"FINISHED"}
    assert node_tree_state(material) == before_tree
    assert plane.data == before_mesh and np.array_equal(vertex_coords(plane.data), before_coords)
    assert datablock_counts() == before_counts


def test_baked_file_renders_the_same_without_the_extension(plane, render, tmp_path):
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    middle_here = render(MIDDLE)
    blend = str(tmp_path / "baked.blend")
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    script = f"""
import json, os, sys
sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))!r})
import bpy
bpy.ops.wm.open_mainfile(filepath={blend!r})
assert not any("image_dynamics" in name for name in bpy.context.preferences.addons.keys())
from imgdyn import measure
import numpy as np
folder = {str(tmp_path)!r}  # (not the temp folder: nothing may be left there)
frames = {{f: measure.render_frame(f, folder) for f in ({START}, {MIDDLE}, {START + LOOP})}}
np.save({str(tmp_path / "middle.npy")!r}, frames[{MIDDLE}])
print(json.dumps({{"loop": float(np.abs(frames[{START}] - frames[{START + LOOP}]).max()),
                  "moved": float(np.abs(frames[{START}] - frames[{MIDDLE}]).max())}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["loop"] < TOLERANCE and measured["moved"] > 0.05
    assert np.abs(np.load(tmp_path / "middle.npy") - middle_here).max() < TOLERANCE


def test_plane_without_image_texture_is_refused_and_left_alone(extension):
    bpy.ops.mesh.primitive_plane_add()
    counts = datablock_counts()
    with pytest.raises(RuntimeError, match="no material with an Image Texture"):
        bpy.ops.image_dynamics.generate()
    assert datablock_counts() == counts


def test_missing_backend_python_is_explained_and_nothing_changes(plane):
    preferences = bpy.context.preferences.addons["bl_ext.imgdyn_dev.image_dynamics"].preferences
    preferences.backend_python = "/nowhere/python"
    material_before, counts = node_tree_state(plane.active_material), datablock_counts()
    with pytest.raises(RuntimeError, match="does not exist: fix the path in Preferences"):
        bpy.ops.image_dynamics.generate()
    assert node_tree_state(plane.active_material) == material_before and datablock_counts() == counts


def test_rendered_loop_has_no_pop(plane, render):
    """Frame-to-frame change of the rendered loop, the wrap from start + T - 1 to start + T included: no step
    more than twice the median (the cross-fade does not pop)."""
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    frames = [river_rows(render(frame))[0] for frame in range(START, START + LOOP + 1)]
    steps = [np.abs(b - a).mean() for a, b in zip(frames, frames[1:])]
    assert min(steps) > 0 and max(steps) <= 2 * np.median(steps), steps
