"""Flicker as the artist sees it: light that changes in place, rendered by Blender as the reference render of the
backend's arrays says, looping exactly, nothing changing outside its mask, strength 0 the still; and a flicker
learned from a clip whose light is known."""

import os

import numpy as np

from imgdyn import extension as dev_extension, measure, outputs, quality
from test_rendered_motion import LEVEL, backend_result_and_bake, reference_frame, textured_plane

RECT = [0.3, 0.25, 0.7, 0.75]


def test_a_flicker_renders_as_the_reference_loops_and_stays_in_its_mask(extension, tmp_path, render):
    layers = [{"name": "fire", "type": "flicker", "mask": {"rect": RECT}, "feather": 0.0, "amount": 0.5,
               "rate": 6.0, "scale": 0.1, "color_shift": 0.6},
              {"name": "grass", "type": "oscillation", "mask": {"rect": [0.0, 0.0, 1.0, 0.2]}, "amplitude": 2.0,
               "terms": 2}]
    obj = textured_plane(tmp_path, layers, 12, size=(240, 136))
    plane, meta, result = backend_result_and_bake(obj, 12)
    assert [info["result"] for info in meta["layers"]] == ["flicker", "spectrum"]
    frames = {frame: render(frame) for frame in (1, 3, 6, 9, 13)}
    for frame in (1, 3, 6, 9):
        expected = reference_frame(plane, meta, result, frame - 1, (frames[1].shape[1], frames[1].shape[0]))
        difference = np.abs(frames[frame] - expected) / LEVEL
        assert difference.mean() < 0.05 and np.percentile(difference, 99.9) < 1.0 and difference.max() < 8.0, \
            (frame, difference.mean(), np.percentile(difference, 99.9), difference.max())
    assert np.abs(frames[13] - frames[1]).max() < LEVEL  # frame T is frame 0

    still = measure.render_still(obj, 1, str(tmp_path))
    height, width = still.shape[:2]
    inside = np.zeros((height, width), bool)
    inside[round((1 - RECT[3]) * height) + 2:round((1 - RECT[1]) * height) - 2,
           round(RECT[0] * width) + 2:round(RECT[2] * width) - 2] = True
    change = np.abs(frames[3] - still).max(axis=-1)
    assert np.median(change[inside]) > 8 * LEVEL  # the light visibly changes inside ...
    above_grass = np.zeros((height, width), bool)
    above_grass[:round(0.75 * height)] = True  # (the grass below sways)
    mask = np.zeros((height, width), np.float32)
    mask[round((1 - RECT[3]) * height):round((1 - RECT[1]) * height), round(RECT[0] * width):round(RECT[2] * width)] = 1
    assert quality.leak_levels([frames[3], frames[6]], still, (mask > 0) | ~above_grass) < 1.0  # ... nowhere else

    obj["motion_strength"] = 0.0  # the strength scales the flicker: 0 is the still
    assert np.abs(render(3) - still).max() < LEVEL


def flickering_clip(folder, amplitude, cycles_per_frame, frames=48, size=(160, 96)):
    """A textured clip whose light, in its middle, is multiplied by 1 + a sin(2 pi f t + phase(x, y)) (phase
    changing slowly over the picture), written as PNG frames; returns the folder and the light's own mean
    frame-to-frame change of brightness in the flickering region (linear)."""
    rng = np.random.default_rng(5)
    width, height = size
    base = (0.3 + 0.5 * rng.random((height // 4 + 1, width // 4 + 1, 3))).repeat(4, 0).repeat(4, 1)[:height, :width]
    ys, xs = np.mgrid[0:height, 0:width]
    phase = 2 * np.pi * (xs / width + 0.5 * ys / height)
    region = np.zeros((height, width), bool)
    region[height // 4:3 * height // 4, width // 4:3 * width // 4] = True
    linear_frames = []
    os.makedirs(folder, exist_ok=True)
    for t in range(frames):
        light = 1 + amplitude * np.sin(2 * np.pi * cycles_per_frame * t + phase) * region
        linear = base ** 2.2 * light[..., None]
        linear_frames.append(linear)
        outputs.write_image(np.clip(linear ** (1 / 2.2), 0, 1), os.path.join(folder, f"frame_{t:03d}.png"), "PNG")
    return folder, relative_change([frame.mean(axis=-1)[region] for frame in linear_frames])


def relative_change(brightness):
    """Mean over pixels and frames of |b(t + 1) - b(t)| / b(t): how lively the light is."""
    brightness = np.asarray(brightness, np.float64)
    return float(np.abs(np.diff(brightness, axis=0) / brightness[:-1]).mean())


def test_a_flicker_learned_from_a_clip_has_its_amount_rate_and_liveliness(extension, tmp_path, render):
    amplitude, cycles = 0.3, 1 / 8
    folder, clip_change = flickering_clip(str(tmp_path / "clip"), amplitude, cycles)
    layers = [{"name": "lamp", "type": "clip", "clip": folder, "motion": "flicker", "mask": {"rect": RECT},
               "feather": 0.0}]
    obj = textured_plane(tmp_path, layers, 24, size=(240, 136))
    plane, meta, result = backend_result_and_bake(obj, 24)
    learned = meta["layers"][0]["clip"]
    assert abs(learned["amount"] - amplitude) <= 0.1 * amplitude, learned["amount"]
    assert abs(learned["rate_per_second"] - cycles * 24) <= 0.1 * cycles * 24, learned["rate_per_second"]

    # The rendered loop is as lively as the clip: its mean relative change of brightness from frame to frame,
    # in linear light, where no flare is clipped at white.
    srgb_to_linear = dev_extension.extension_module("backend.reference").srgb_to_linear
    frames = [srgb_to_linear(render(frame)) for frame in range(1, 25)]
    height, width = frames[0].shape[:2]
    inside = np.zeros((height, width), bool)
    inside[round((1 - RECT[3]) * height) + 6:round((1 - RECT[1]) * height) - 6,
           round(RECT[0] * width) + 6:round(RECT[2] * width) - 6] = True
    inside &= srgb_to_linear(measure.render_still(obj, 1, str(tmp_path))).max(axis=-1) < 0.45
    rendered_change = relative_change([frame[inside].mean(axis=-1) for frame in frames + frames[:1]])
    assert abs(rendered_change - clip_change) <= 0.2 * clip_change, (rendered_change, clip_change)


def test_a_shimmer_renders_as_the_reference_and_its_glints_travel_with_the_water(extension, tmp_path, render):
    """Shimmer on a fluid layer: glints on the bright parts, read through the flow's streams, so they move
    downstream at the flow's speed instead of staying where they are while the water flows."""
    rect = [0.0, 0.2, 1.0, 0.8]
    layers = [{"name": "water", "type": "fluid", "mask": {"rect": rect}, "feather": 0.0, "shimmer": 0.6,
               "hints": [{"uv": [0.5, 0.5], "velocity": [2.0, 0.0]}], "edge_tolerance": 10.0}]
    obj = textured_plane(tmp_path, layers, 12, size=(240, 136), working=60)
    plane, meta, result = backend_result_and_bake(obj, 12)
    assert meta["layers"][0]["sparkle"] and result["layer0_sparkle"].shape == (68, 120, 2)  # the image as sent
    size = (240, 136)
    frames, glints = {}, []
    reference = dev_extension.extension_module("backend.reference")
    for frame in range(1, 8):
        frames[frame] = render(frame)
        expected = reference_frame(plane, meta, result, frame - 1, size)
        difference = np.abs(frames[frame] - expected) / LEVEL
        assert difference.mean() < 0.05 and np.percentile(difference, 99.9) < 1.0 and difference.max() < 8.0, \
            (frame, difference.mean(), np.percentile(difference, 99.9), difference.max())
        without = reference_frame(plane, meta, {k: v for k, v in result.items() if k != "layer0_sparkle"},
                                  frame - 1, size)
        ratio = reference.srgb_to_linear(frames[frame]) / np.maximum(reference.srgb_to_linear(without), 1e-3)
        glints.append(np.repeat(np.log(np.maximum(ratio, 1e-3)).mean(axis=-1, keepdims=True), 3, axis=-1))
    assert np.abs(render(13) - frames[1]).max() < LEVEL  # frame T is frame 0
    assert np.abs(glints[0]).max() > 0.05  # the glints show ...
    centres = [(x, y) for x in (60, 120, 180) for y in (55, 80)]
    speed = np.median(quality.rendered_speed(glints, centres), axis=0)
    assert abs(speed[0] - 2.0) < 0.4 and abs(speed[1]) < 0.4, speed  # ... and travel with the water
