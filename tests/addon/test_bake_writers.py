"""The bake writers as an artist relies on them: re-bakes in place, strength keys kept, Re-time, other engines."""

import bpy
import numpy as np
import pytest
from helpers import LOOP, datablock_counts, evaluated_coords

TOLERANCE = 1.0 / 255.0


def test_ten_rebakes_leave_what_one_bake_leaves(plane):
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    once = datablock_counts()
    orphans = {"images": [i.name for i in bpy.data.images if i.users == 0],
               "actions": [a.name for a in bpy.data.actions if a.users == 0]}
    for _ in range(10):
        assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    assert datablock_counts() == once
    assert [i.name for i in bpy.data.images if i.users == 0] == orphans["images"]
    assert [a.name for a in bpy.data.actions if a.users == 0] == orphans["actions"]


def test_strength_keyframes_survive_a_rebake(plane):
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    for frame, value in ((1, 0.0), (6, 1.0), (12, 0.25)):
        plane["motion_strength"] = value
        plane.keyframe_insert('["motion_strength"]', frame=frame)
    plane.image_dynamics.layers[0].feather = 0.05
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    for frame, value in ((1, 0.0), (6, 1.0), (12, 0.25)):
        bpy.context.scene.frame_set(frame)
        assert plane["motion_strength"] == pytest.approx(value)


def key_values(plane, frame):
    bpy.context.scene.frame_set(frame)
    return np.array([block.value for block in plane.data.shape_keys.key_blocks[1:]])


def test_retime_plays_the_loop_over_a_new_frame_range(plane, render):
    settings = plane.image_dynamics
    settings.layers[0].layer_type = "FLUID"
    sway = settings.layers.add()  # a second, swaying layer over the sky
    sway.name, sway.layer_type, sway.mask_rect, sway.amplitude, sway.terms = "sky", "OSCILLATION", (0, .6, 1, 1), 8, 3
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    baked = {frame: key_values(plane, frame) for frame in range(1, LOOP + 1)}
    still = render(1)

    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 11, 11 + 2 * LOOP - 1  # later, and twice as long
    assert bpy.ops.image_dynamics.retime() == {"FINISHED"}
    assert (settings.timing_start, settings.timing_frames) == (11, 2 * LOOP)
    drivers = list(settings.warp_group.animation_data.drivers) + list(plane.data.shape_keys.animation_data.drivers)
    assert all(d.driver.is_simple_expression and d.driver.is_valid for d in drivers)
    for frame in (1, 4, 7):  # baked frame f now plays at 11 + 2 (f - 1), and again one new loop later
        assert np.allclose(key_values(plane, 11 + 2 * (frame - 1)), baked[frame], atol=1e-5)
        assert np.allclose(key_values(plane, 11 + 2 * (frame - 1) + 2 * LOOP), baked[frame], atol=1e-5)
    assert np.abs(render(11) - still).max() < TOLERANCE
    assert np.abs(render(11 + 2 * LOOP) - still).max() < TOLERANCE
    assert np.abs(render(11 + LOOP // 2) - still).max() > 0.05


def test_geometry_rig_loops_in_workbench(plane, render):
    river = plane.image_dynamics.layers[0]
    river.layer_type, river.amplitude, river.terms = "OSCILLATION", 6.0, 3  # the mesh carries sway, not flow
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    plane.image_dynamics.carrier = "GEOMETRY"
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.color_type = "TEXTURE"
    scene.display.shading.light = "FLAT"
    first, middle, looped = render(1), render(1 + LOOP // 2), render(1 + LOOP)
    assert np.abs(first - looped).max() < TOLERANCE
    assert np.abs(first - middle).max() > 0.05
    bpy.context.scene.frame_set(1)
    assert evaluated_coords(plane).shape[0] > 4


def test_each_layer_has_its_own_keyframeable_strength(plane, render):
    settings = plane.image_dynamics
    assert bpy.ops.image_dynamics.layer_add() == {"FINISHED"}
    sky = settings.layers[1]
    sky.name, sky.layer_type, sky.mask_rect, sky.amplitude, sky.terms = "sky", "OSCILLATION", (0, .6, 1, 1), 10, 3
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    river_strength = f"motion_strength_layer{settings.layers[0].uid}"
    sky_strength = f"motion_strength_layer{sky.uid}"
    assert plane[river_strength] == 1.0 and plane[sky_strength] == 1.0
    keys = plane.data.shape_keys.key_blocks
    assert {block.name.split()[1] for block in keys[1:]} == {"sky"}  # the river flows on the texture only
    still = render(1 + LOOP // 4)
    plane[river_strength] = 0.0  # the river stops, the sky goes on
    plane.keyframe_insert(f'["{river_strength}"]', frame=1)
    quiet = render(1 + LOOP // 4)
    height = quiet.shape[0]
    river, sky_rows = slice(round(height * 0.64), round(height * 0.78)), slice(0, round(height * 0.35))
    first = render(1)
    assert np.abs(quiet[river] - first[river]).max() < TOLERANCE       # the river is the still image now
    assert np.abs(quiet[sky_rows] - still[sky_rows]).max() < TOLERANCE  # the sky moves as before
    assert np.abs(quiet[sky_rows] - first[sky_rows]).max() > 0.02
    assert {name for name in plane.keys() if name.startswith("motion_strength_layer")} == {river_strength,
                                                                                            sky_strength}
    # a re-bake keeps the layer's strength keys
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    bpy.context.scene.frame_set(5)
    assert plane[river_strength] == 0.0
    keys = plane.data.shape_keys.key_blocks  # the re-bake replaced the mesh: never reuse the old key blocks
    for block in keys[1:]:
        assert {v.name for v in plane.data.shape_keys.animation_data.drivers.find(
            f'key_blocks["{block.name}"].value').driver.variables} >= {"s", "l"}
