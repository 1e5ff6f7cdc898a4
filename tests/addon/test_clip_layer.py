"""A From Clip layer in Blender: the clip's motion baked onto the still, the predictor saved next to the .blend."""

import os

import bpy
import numpy as np

from imgdyn import measure, outputs


def write_clip(folder, frames=8, speed=2.0):
    """A texture sliding right by `speed` pixels per frame, as a folder of PNGs."""
    rng = np.random.default_rng(0)
    coarse = rng.random((12, 20, 3)).astype(np.float32)
    ys, xs = np.mgrid[0:72, 0:128]
    os.makedirs(folder)
    for t in range(frames):
        u = (xs - speed * t) / 128 * 19
        v = ys / 72 * 11
        u0, v0 = np.floor(u).astype(int) % 20, np.floor(v).astype(int)
        fu, fv = (u - np.floor(u))[..., None], (v - v0)[..., None]
        image = ((coarse[v0, u0] * (1 - fu) + coarse[v0, (u0 + 1) % 20] * fu) * (1 - fv)
                 + (coarse[v0 + 1, u0] * (1 - fu) + coarse[v0 + 1, (u0 + 1) % 20] * fu) * fv)
        outputs.write_image(image, os.path.join(folder, f"frame_{t:03d}.png"), "PNG")
    return folder


def test_clip_speed_and_learned_motion_are_baked(plane, tmp_path):
    layer = plane.image_dynamics.layers[0]
    layer.hints.clear()
    layer.layer_type, layer.clip_path = "CLIP", write_clip(str(tmp_path / "clip"))
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    lookups = measure.flow_lookups(plane.image_dynamics)
    height, width = lookups.shape[1:3]
    lookup_px = lookups[len(lookups) // 2 + 1, round(0.71 * height), width // 2] * [640, 360]  # one frame old
    # 2 px per frame of a 128-wide clip is 10 px per frame of the 640-wide still; the lookup points upstream
    assert lookup_px[0] < -5 and abs(lookup_px[1]) < 0.3 * abs(lookup_px[0])

    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))
    layer.clip_method, layer.train_seconds = "PREDICT", 2.0
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    assert os.path.isfile(tmp_path / "river_river.imgdyn-model.pt")
    assert os.path.isfile(tmp_path / "river_river.imgdyn-model.loss.png")


def test_clip_layer_without_a_clip_is_refused(plane):
    layer = plane.image_dynamics.layers[0]
    layer.layer_type = "CLIP"
    try:
        bpy.ops.image_dynamics.generate()
    except RuntimeError as error:
        assert "needs a clip: choose a video file, a folder of images or a glob pattern" in str(error)
    else:
        raise AssertionError("Generate accepted a clip layer without a clip")
