"""The fluid engine on real arrays, and the loop it makes as the reference render shows it: stillness outside the
mask at any render size, direction and speed, a seamless loop that is as sharp at every moment as the still."""

import cv2
import numpy as np
import pytest

from backend import loop, reference
from backend.engine import run_job
from backend.jobspec import parse_job
from imgdyn import quality

WIDTH, HEIGHT = 96, 64


def textured_image(seed=0, width=WIDTH, height=HEIGHT, grain=4):
    rng = np.random.default_rng(seed)
    noise = cv2.resize(rng.random((height // grain, width // grain, 3)).astype(np.float32), (width, height),
                       interpolation=cv2.INTER_CUBIC)
    return np.clip(noise, 0, 1).astype(np.float32)


def job(velocity=(1.5, 0.0), rect=(0.1, 0.25, 0.9, 0.75), frames=24, feather=0.0, width=WIDTH, drift=False,
        **layer):
    motion = ({"type": "drift", "velocity": list(velocity)} if drift else
              {"type": "fluid", "hints": [{"uv": [0.5, 0.5], "velocity": list(velocity)}]})
    return parse_job({"loop_frames": frames, "working_resolution": width, "device": "cpu", "layers": [
        {"name": "water", "mask": {"rect": list(rect)}, "feather": feather, **motion, **layer}]})


def generate(image=None, **kwargs):
    image = textured_image() if image is None else image
    return run_job(job(**kwargs), image, {}, lambda stage, fraction: None)


def rendered_loop(image, meta, result, size, frames=None, supersample=1):
    """Display frames of the whole loop by the reference render (the spec's formula)."""
    painting = reference.Painting(np.concatenate([image, np.ones(image.shape[:2] + (1,), np.float32)], axis=-1))
    low = reference.low_band(painting.linear(), loop.low_band_sigma(image.shape[1]))
    layer = {"lookups": result["layer0_lookup"], "period": meta["layers"][0]["phase_period"], "gain": 1.0}
    count = meta["loop_frames"] if frames is None else frames
    return [reference.to_display(reference.render(painting, low, [dict(layer, clock=t)], size, supersample)[..., :3])
            for t in range(count + 1)]


def test_lookups_by_age_and_the_phase_period():
    meta, result = generate(frames=48)
    info = meta["layers"][0]
    assert meta["working_size"] == [WIDTH, HEIGHT]
    assert info["phase_period"] == 24 and info["phases"] == loop.PHASES  # the divisor of 48 nearest 30 frames
    assert result["layer0_lookup"].shape == (25, HEIGHT, WIDTH, 2)  # ages -12..12: half a period each way
    assert np.abs(result["layer0_lookup"][12]).max() == 0.0  # age 0 is the still
    meta, result = generate(frames=48, phase_frames=16)
    assert meta["layers"][0]["phase_period"] == 16 and result["layer0_lookup"].shape[0] == 17


def test_phase_period_must_divide_the_loop():
    from backend.errors import JobSpecError
    with pytest.raises(JobSpecError, match=r"phase_frames\) of \d+ frames must divide the loop length 48"):
        job(frames=48, phase_frames=20)


def test_weights_sum_to_one_the_loop_repeats_and_restarts_are_unseen():
    for period, frames in ((6, 6), (7, 21), (24, 48), (30, 120)):
        for clock in np.linspace(-5, 250, 1021):
            phases = [loop.phase(clock, i, period) for i in range(loop.PHASES)]
            assert sum(w for _, w in phases) == pytest.approx(1.0)
            assert np.allclose(phases, [loop.phase(clock + frames, i, period) for i in range(loop.PHASES)])
            for index, (age, weight) in enumerate(phases):
                assert -period / 2 <= age <= period / 2
                before = loop.phase(clock - 1e-6, index, period)[0]
                if abs(before - age) > 1e-3:  # a stream jumps only where it restarts, unseen
                    assert weight == pytest.approx(0.0, abs=1e-9)


def test_outside_the_mask_nothing_moves():
    _, result = generate(velocity=(3.0, 1.0))
    outside = result["layer0_mask"] == 0
    assert outside.any()
    offsets_px = result["layer0_lookup"][:, outside] * np.array([WIDTH, HEIGHT])
    assert np.abs(offsets_px).max() < 0.01


def test_flow_follows_the_hint_direction_and_speed():
    velocity = np.array([1.2, 0.6])  # px per frame of the source image, y up
    flat = np.full((HEIGHT, WIDTH, 3), 0.5, np.float32)  # no edges: one hint fills the picture evenly
    _, result = generate(image=flat, velocity=tuple(velocity), rect=(0.0, 0.0, 1.0, 1.0))
    field = result["layer0_velocity"][HEIGHT // 2, WIDTH // 2] * np.array([WIDTH, HEIGHT])
    assert np.allclose(field, velocity, rtol=0.01)
    # A stream of age 10 shows content from 10 steps upstream, one of age -10 from 10 steps downstream.
    lookups = result["layer0_lookup"]
    half = len(lookups) // 2
    assert np.allclose(lookups[half + 10, HEIGHT // 2, WIDTH // 2] * [WIDTH, HEIGHT], -10 * velocity, rtol=0.02)
    assert np.allclose(lookups[half - 10, HEIGHT // 2, WIDTH // 2] * [WIDTH, HEIGHT], 10 * velocity, rtol=0.02)


def test_rendered_loop_is_seamless_steady_and_sharp():
    """A textured picture, rendered at two thirds of its size (paintings are larger than their renders): the
    loop closes exactly, the change from frame to frame is steady, and no moment is softer than the bar."""
    image = textured_image(width=144, height=96, grain=2)
    meta, result = generate(image=image, velocity=(2.0, 0.5), rect=(0.0, 0.0, 1.0, 1.0), frames=30, width=144,
                            drift=True)
    frames = rendered_loop(image, meta, result, (96, 64), supersample=3)
    still = rendered_loop(image, meta, {"layer0_lookup": np.zeros_like(result["layer0_lookup"])}, (96, 64), 0,
                          supersample=3)[0]
    assert np.abs(frames[-1] - frames[0]).max() < 1e-6
    inside = np.zeros((64, 96), bool)
    inside[8:-8, 8:-8] = True
    loop_frames = frames[:-1]
    assert quality.pulse_cv(loop_frames, inside) <= 0.03
    assert quality.seam_ratio(loop_frames, inside) <= 1.1
    sharpness = [quality.sharpness(frame, still, inside) for frame in loop_frames]
    assert 0.6 <= min(sharpness) and max(sharpness) <= 1.15 and np.mean(sharpness) >= 0.75, sharpness


def test_nothing_outside_the_mask_moves_at_a_larger_render_size():
    """The lookups are made on a 96 px grid; a render four times as large must not move anything 3 px or more
    outside the mask (bilinear upsampling would carry the motion over the edge)."""
    image = textured_image()
    rect = (0.23, 0.31, 0.77, 0.69)
    meta, result = generate(image=image, velocity=(2.5, -1.0), rect=rect, drift=True)
    size = (4 * WIDTH, 4 * HEIGHT)
    frames = rendered_loop(image, meta, result, size, frames=12)
    uv = reference.pixel_uvs(*size)
    inside = (uv[..., 0] >= rect[0]) & (uv[..., 0] <= rect[2]) & (uv[..., 1] >= rect[1]) & (uv[..., 1] <= rect[3])
    painting = reference.to_display(reference.sample(image, uv))
    assert quality.leak_levels(frames, painting, inside) < 0.5
    assert quality.fill(frames, painting, inside) > 0.5


def test_fast_flow_takes_substeps():
    meta, _ = generate(velocity=(6.0, 0.0))
    assert meta["layers"][0]["euler_substeps"] >= 6


@pytest.mark.parametrize("feather", [0.0, 0.1])
def test_soft_edge_stays_inside_the_mask(feather):
    _, result = generate(feather=feather)
    mask = result["layer0_mask"]
    assert mask.max() == pytest.approx(1.0)
    assert (result["layer0_velocity"][mask == 0] == 0).all()


def test_cpu_and_gpu_integrators_agree():
    """The OpenCV path (CPU) and the grid_sample path (GPUs) integrate the same field to the same lookups."""
    import torch
    from backend import fluid
    _, result = generate(velocity=(2.5, -1.0), frames=12, feather=0.1)
    velocity = result["layer0_velocity"] * np.array([WIDTH, -HEIGHT], np.float32)  # back to px, y down
    field = torch.from_numpy(np.ascontiguousarray(velocity))
    on_cpu = fluid._integrate_cpu(field, 6, 3, lambda *a: None)
    on_torch = fluid._integrate_torch(field, 6, 3, lambda *a: None)
    # OpenCV interpolates with 1/32-pixel weights: the paths agree closely almost everywhere, and only where the
    # picture-guided field is steep can a difference grow over many steps.
    difference_px = np.abs(on_cpu - on_torch).max(axis=(0, 3)) * WIDTH  # worst over all ages
    assert np.median(difference_px) < 0.01 and np.percentile(difference_px, 99) < 0.1
    assert np.abs(on_cpu).max() * WIDTH > 5
