"""The fluid engine on real arrays: stillness, direction and speed, and a loop without a seam."""

import cv2
import numpy as np
import pytest

from backend.engine import run_job
from backend.jobspec import parse_job

WIDTH, HEIGHT = 96, 64


def textured_image(seed=0):
    rng = np.random.default_rng(seed)
    noise = cv2.resize(rng.random((HEIGHT // 4, WIDTH // 4)).astype(np.float32), (WIDTH, HEIGHT),
                       interpolation=cv2.INTER_CUBIC)
    return np.clip(np.stack([noise, 1 - noise, noise * 0.5], axis=-1), 0, 1).astype(np.float32)


def job(velocity=(1.5, 0.0), rect=(0.1, 0.25, 0.9, 0.75), frames=24, feather=0.0):
    return parse_job({"loop_frames": frames, "working_resolution": WIDTH, "device": "cpu", "layers": [
        {"name": "water", "type": "fluid", "mask": {"rect": list(rect)}, "feather": feather,
         "hints": [{"uv": [0.5, 0.5], "velocity": list(velocity)}]}]})


def generate(image=None, **kwargs):
    image = textured_image() if image is None else image
    return run_job(job(**kwargs), image, {}, lambda stage, fraction: None)


def warp(image, lookup_uv):
    """Gather-warp an image by UV lookups (v up), as the shader does."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    map_x = xs + lookup_uv[..., 0] * WIDTH
    map_y = ys - lookup_uv[..., 1] * HEIGHT
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def frames_of(result, image):
    lookup, weights = result["layer0_lookup"], result["layer0_weights"]
    return np.stack([weights[t, 0] * warp(image, lookup[0, t]) + weights[t, 1] * warp(image, lookup[1, t])
                     for t in range(lookup.shape[1])])


def test_shapes_and_weights():
    meta, result = generate(frames=12)
    assert meta["working_size"] == [WIDTH, HEIGHT]
    assert result["layer0_lookup"].shape == (2, 12, HEIGHT, WIDTH, 2)
    weights = result["layer0_weights"]
    assert np.allclose(weights.sum(axis=1), 1.0)
    assert weights[0].tolist() == [1.0, 0.0]  # frame 0 is the forward layer alone, with no offset: the still


def test_outside_the_mask_nothing_moves():
    _, result = generate(velocity=(3.0, 1.0))
    outside = result["layer0_mask"] == 0
    assert outside.any()
    offsets_px = result["layer0_lookup"][:, :, outside] * np.array([WIDTH, HEIGHT])
    assert np.abs(offsets_px).max() < 0.01


def test_flow_follows_the_hint_direction_and_speed():
    velocity = np.array([1.2, 0.6])  # px per frame of the source image, y up
    flat = np.full((HEIGHT, WIDTH, 3), 0.5, np.float32)  # no edges: one hint fills the picture evenly
    _, result = generate(image=flat, velocity=tuple(velocity), rect=(0.0, 0.0, 1.0, 1.0))
    field = result["layer0_velocity"][HEIGHT // 2, WIDTH // 2] * np.array([WIDTH, HEIGHT])
    assert np.allclose(field, velocity, rtol=0.01)
    # After t frames the forward lookup points t steps upstream, in the middle of the picture.
    lookup = result["layer0_lookup"][0, 10, HEIGHT // 2, WIDTH // 2] * np.array([WIDTH, HEIGHT])
    assert np.allclose(lookup, -10 * velocity, rtol=0.02)


def test_loop_has_no_seam():
    image = textured_image()
    _, result = generate(velocity=(1.5, 0.0))
    frames = frames_of(result, image)
    assert np.abs(frames[0] - image).max() < 1e-6  # frame 0 (= frame T) is the still image
    steps = [np.abs(frames[(t + 1) % len(frames)] - frames[t]).mean() for t in range(len(frames))]
    assert steps[-1] <= 2 * np.median(steps)  # the wrap from frame T-1 to T is an ordinary step
    assert max(steps) <= 2 * np.median(steps)  # no pop anywhere in the cross-fade


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
    on_cpu = fluid._integrate_cpu(field, 12, 3, lambda *a: None)
    on_torch = fluid._integrate_torch(field, 12, 3, lambda *a: None)
    # OpenCV interpolates with 1/32-pixel weights: the paths agree closely almost everywhere, and only where the
    # picture-guided field is steep can a difference grow over many steps.
    difference_px = np.abs(on_cpu - on_torch).max(axis=(0, 1, 4)) * WIDTH  # worst over both layers and frames
    assert np.median(difference_px) < 0.01 and np.percentile(difference_px, 99) < 0.1
    assert np.abs(on_cpu).max() * WIDTH > 10
