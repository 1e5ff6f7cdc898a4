"""Keyframed motion strength eases flowing motion in and out: the strength is the flow's speed (its clock), so a
ramp slows the picture down and never runs it backwards; strength 0 is the still picture, and the baked clock
plays the same without the extension."""

import subprocess
import sys

import bpy
import numpy as np
from test_rendered_motion import textured_plane

from imgdyn import extension as dev_extension, measure, quality

SPEED = 2.0  # source px per frame; the picture is 1.5 times the render, so 4/3 render px per frame
RAMPS = ((1, 1.0), (25, 0.0), (37, 0.0), (61, 1.0))  # 1 -> 0 over 24 frames, still for 12, 0 -> 1 over 24


def strength_at(frame):
    frames, values = zip(*RAMPS)
    return float(np.interp(frame, frames, values))


def ramped_plane(tmp_path):
    layers = [{"name": "clouds", "type": "drift", "mask": {"rect": [0.0, 0.55, 1.0, 1.0]}, "feather": 0.0,
               "velocity": [SPEED, 0.0]},
              {"name": "river", "type": "fluid", "mask": {"rect": [0.0, 0.0, 1.0, 0.45]}, "feather": 0.0,
               "edge_tolerance": 10.0, "hints": [{"uv": [0.5, 0.2], "velocity": [SPEED, 0.0]}]}]
    obj = textured_plane(tmp_path, layers, 24, size=(360, 204), render_width=240, working=60)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    for frame, value in RAMPS:
        obj["motion_strength"] = value
        obj.keyframe_insert('["motion_strength"]', frame=frame)
    # What any edit in the UI does: the extension re-bakes the clocks, over every strength key (the keys here
    # reach past the scene's frame range, the 24-frame loop).
    bpy.context.view_layer.update()
    return obj


def shifts(frames, centre):
    """Shift (x, render px) between consecutive frames in a window around `centre`."""
    window = (slice(centre[1] - 20, centre[1] + 20), slice(centre[0] - 20, centre[0] + 20))
    return np.array([quality.phase_shift(quality.grey(a)[window], quality.grey(b)[window])[0]
                     for a, b in zip(frames, frames[1:])])


def test_a_ramped_strength_slows_the_flow_and_never_runs_it_backwards(extension, tmp_path, render):
    obj = ramped_plane(tmp_path)
    frames = [render(frame) for frame in range(1, 65)]
    height, width = frames[0].shape[:2]
    speed_px = SPEED / 1.5
    for centre in ((width // 3, height // 5), (2 * width // 3, 4 * height // 5)):  # the clouds, the river
        measured = shifts(frames, centre) / speed_px  # in units of the layer's speed, per frame pair
        strength = np.array([0.5 * (strength_at(f) + strength_at(f + 1)) for f in range(1, 64)])
        moving = strength > 0.1
        assert measured[moving].min() >= -0.05, measured  # never backwards
        settled = np.array([not any(start <= f < start + 3 for start, _ in RAMPS) for f in range(1, 64)])
        assert np.abs(measured - strength)[moving & settled].max() <= 0.2, np.round(measured - strength, 2)
    still = measure.render_still(obj, 30, str(tmp_path))
    assert np.abs(frames[29] - still).max() < 1.0 / 255  # strength 0 is the still picture
    changes = [np.abs(b - a).mean() for a, b in zip(frames, frames[1:])]
    full = np.median(changes[:6])  # at strength about 1
    assert max(changes) <= 1.5 * full, np.round(np.array(changes) / full, 2)  # no jump anywhere, ramp ends too


def test_the_baked_clock_plays_the_same_without_the_extension(extension, tmp_path, render):
    obj = ramped_plane(tmp_path)
    here = {frame: render(frame) for frame in (5, 20, 50)}
    blend = str(tmp_path / "ramped.blend")
    obj.active_material.node_tree.nodes["Image Texture"].image.pack()
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    script = f"""
import sys
sys.path.insert(0, {dev_extension.REPO_ROOT!r})
import bpy
bpy.ops.wm.open_mainfile(filepath={blend!r})
assert not any("image_dynamics" in name for name in bpy.context.preferences.addons.keys())
from imgdyn import measure
import numpy as np
folder = {str(tmp_path)!r}  # (not the temp folder: nothing may be left there)
np.save({str(tmp_path / "there.npy")!r}, np.stack([measure.render_frame(f, folder) for f in (5, 20, 50)]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    there = np.load(tmp_path / "there.npy")
    for index, frame in enumerate((5, 20, 50)):
        assert np.abs(there[index] - here[frame]).max() < 1.0 / 255
