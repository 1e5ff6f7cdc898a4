"""Sway layers baked as cos/sin shape keys and a coefficient warp: exact loops, and the same without the extension."""

import json
import subprocess
import sys

import bpy
import numpy as np
import pytest
from helpers import evaluated_coords

TOLERANCE = 1.0 / 255.0


def make_sway(plane, loop_frames, terms=6):
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, loop_frames
    settings = plane.image_dynamics
    layer = settings.layers[0]
    layer.layer_type = "OSCILLATION"
    layer.mask_rect = (0.0, 0.3, 1.0, 1.0)
    layer.amplitude, layer.terms, layer.scale, layer.seed = 12.0, terms, 0.2, 3
    layer.hints.clear()
    settings.working_resolution = 32
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    return settings


def key_values(plane, frame):
    bpy.context.scene.frame_set(frame)
    return np.array([block.value for block in plane.data.shape_keys.key_blocks[1:]])


@pytest.mark.parametrize("loop_frames", [24, 240])
def test_sway_loops_exactly_in_keys_geometry_and_render(plane, render, loop_frames):
    settings = make_sway(plane, loop_frames)
    terms = min(6, loop_frames // 2)
    names = [block.name for block in plane.data.shape_keys.key_blocks[1:]]
    assert names == [f"Sway river {k} {part}" for k in range(1, terms + 1) for part in ("cos", "sin")]
    drivers = plane.data.shape_keys.animation_data.drivers
    assert all(d.driver.is_simple_expression and d.driver.is_valid for d in drivers)
    for frame in (1, 5, 1 + loop_frames // 3):
        assert np.allclose(key_values(plane, frame), key_values(plane, frame + loop_frames), atol=1e-5)
    assert np.abs(key_values(plane, 1 + loop_frames // 4)).max() > 0.5

    third = 1 + loop_frames // 3
    first, looped, later = render(1), render(1 + loop_frames), render(third)
    assert np.abs(first - looped).max() < TOLERANCE
    assert np.abs(first - later).max() > 0.05

    settings.carrier = "GEOMETRY"
    bpy.context.scene.frame_set(1)
    start = evaluated_coords(plane)
    bpy.context.scene.frame_set(1 + loop_frames)
    assert np.abs(evaluated_coords(plane) - start).max() < 1e-5
    bpy.context.scene.frame_set(third)
    assert np.abs(evaluated_coords(plane) - start).max() > 1e-3
    assert np.abs(render(1) - render(1 + loop_frames)).max() < TOLERANCE


def test_sway_plays_the_same_without_the_extension(plane, tmp_path):
    make_sway(plane, 24)
    frames = [1, 4, 9, 25]
    here = [key_values(plane, frame).tolist() for frame in frames]
    blend = str(tmp_path / "sway.blend")
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    script = f"""
import json, bpy
bpy.ops.wm.open_mainfile(filepath={blend!r})
assert not any("image_dynamics" in name for name in bpy.context.preferences.addons.keys())
plane = bpy.data.objects[{plane.name!r}]
values = []
for frame in {frames!r}:
    bpy.context.scene.frame_set(frame)
    values.append([block.value for block in plane.data.shape_keys.key_blocks[1:]])
print(json.dumps(values))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    there = json.loads(done.stdout.strip().splitlines()[-1])
    assert np.allclose(there, here, atol=1e-6)


def test_pluck_swings_out_and_dies_away_on_top_of_the_loop(plane):
    make_sway(plane, 24)
    looped = {frame: key_values(plane, frame) for frame in (9, 10, 13, 400)}
    bpy.context.scene.frame_set(10)
    assert bpy.ops.image_dynamics.pluck(gain=2.0) == {"FINISHED"}
    assert np.allclose(key_values(plane, 9), looped[9], atol=1e-6)     # nothing before the pluck
    assert np.allclose(key_values(plane, 10), looped[10], atol=1e-6)   # it starts from rest
    # three frames later the cos key of term 1 carries 2 * exp(-0.05 * 3) * sin(2 pi 3 / 24) more
    extra = key_values(plane, 13) - looped[13]
    assert extra[0] == pytest.approx(2 * np.exp(-0.15) * np.sin(2 * np.pi * 3 / 24), abs=1e-4)
    assert np.allclose(extra[1::2], 0.0, atol=1e-6)                     # sin keys are untouched
    assert np.allclose(key_values(plane, 400), looped[400], atol=1e-3)  # and it has died away
    warp_drivers = plane.image_dynamics.warp_group.animation_data.drivers
    assert all(d.driver.is_simple_expression and d.driver.is_valid for d in warp_drivers)
