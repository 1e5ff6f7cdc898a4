"""Acceptance numbers of the fluid engine: obedience to hints, edges, stillness at pins, layers, drift."""

import numpy as np
import pytest

from backend.densify import sample
from backend.engine import run_job
from backend.jobspec import parse_job

WIDTH, HEIGHT = 160, 90


def run(layers, image, frames=16):
    job = parse_job({"loop_frames": frames, "working_resolution": WIDTH, "device": "cpu", "layers": layers})
    return run_job(job, image, {}, lambda stage, fraction: None)[1]


def textured(seed):
    rng = np.random.default_rng(seed)
    import cv2
    noise = cv2.resize(rng.random((9, 16, 3)).astype(np.float32), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    return np.clip(noise, 0, 1)


def spaced_points(rng, count, spacing):
    points = []
    while len(points) < count:
        candidate = rng.uniform([0.08, 0.08], [0.92, 0.92])
        if all(np.hypot(*((candidate - p) * [WIDTH, HEIGHT])) > spacing for p in points):
            points.append(candidate)
    return np.array(points)


@pytest.mark.parametrize("seed", range(8))
def test_dense_flow_obeys_random_hints(seed):
    rng = np.random.default_rng(seed)
    uvs = spaced_points(rng, 5, spacing=0.15 * WIDTH)
    angles, speeds = rng.uniform(0, 2 * np.pi, 5), rng.uniform(0.5, 4.0, 5)
    velocities = np.stack([np.cos(angles), np.sin(angles)], axis=1) * speeds[:, None]  # px/frame, y up
    result = run([{"name": "w", "type": "fluid", "mask": {"rect": [0, 0, 1, 1]}, "feather": 0.0,
                   "hints": [{"uv": list(uv), "velocity": list(v)} for uv, v in zip(uvs, velocities)]}],
                 textured(seed))
    points = np.stack([uvs[:, 0] * WIDTH - 0.5, (1 - uvs[:, 1]) * HEIGHT - 0.5], axis=1)
    got = sample(result["layer0_velocity"], points) * [WIDTH, HEIGHT]  # UV/frame (v up) -> px/frame (y up)
    angle_error = np.degrees(np.abs(np.angle(np.exp(1j * (np.arctan2(got[:, 1], got[:, 0]) - angles)))))
    speed_error = np.abs(np.hypot(got[:, 0], got[:, 1]) / speeds - 1)
    assert angle_error.max() < 3.0, angle_error
    assert speed_error.max() < 0.05, speed_error


def test_flow_stays_on_its_side_of_a_strong_edge():
    image = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    image[:, : WIDTH // 2] = (0.8, 0.3, 0.1)   # a bank
    image[:, WIDTH // 2:] = (0.1, 0.3, 0.8)   # a river, with no hint
    speed = 2.0
    result = run([{"name": "w", "type": "fluid", "mask": {"rect": [0, 0, 1, 1]}, "feather": 0.0,
                   "hints": [{"uv": [0.2, 0.5], "velocity": [speed, 0.0]}]}], image)
    field = np.hypot(*(result["layer0_velocity"] * [WIDTH, HEIGHT]).transpose(2, 0, 1))
    assert field[:, WIDTH // 4].min() == pytest.approx(speed, rel=0.05)  # fills its own region
    assert field[:, WIDTH // 2 + 3:].max() < 0.05 * speed               # not past 3 px from the edge


def test_pins_and_outside_of_mask_never_move():
    result = run([{"name": "w", "type": "fluid", "mask": {"rect": [0.1, 0.1, 0.9, 0.9]}, "feather": 0.02,
                   "hints": [{"uv": [0.3, 0.5], "velocity": [3.0, 1.0]}],
                   "pins": [{"uv": [0.6, 0.5], "radius": 0.03}, {"uv": [0.45, 0.3]}], "pin_falloff": 0.05}],
                 np.full((HEIGHT, WIDTH, 3), 0.5, np.float32))  # about pins, not edges: the flow reaches all
    lookup_px = result["layer0_lookup"] * [WIDTH, HEIGHT]
    distance = np.hypot(lookup_px[..., 0], lookup_px[..., 1]).max(axis=0)  # largest over every stream age
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    in_disk = np.hypot(xs - (0.6 * WIDTH - 0.5), ys - (0.5 * HEIGHT - 0.5)) <= 0.03 * WIDTH - 0.5
    at_point = (ys == round(0.7 * HEIGHT - 0.5)) & (xs == round(0.45 * WIDTH - 0.5))
    outside = result["layer0_mask"] == 0
    assert in_disk.sum() > 10 and outside.sum() > 1000
    for still in (in_disk, at_point, outside):
        assert distance[still].max() < 0.01
    # ... and the motion grows back with the distance from a pin
    row = np.hypot(*result["layer0_velocity"][round(0.5 * HEIGHT), round(0.6 * WIDTH) + 5:round(0.6 * WIDTH) + 12].T)
    assert (np.diff(row) > 0).all()


def test_overlapping_layers_share_the_motion_and_drift_is_uniform():
    image = textured(2)
    layers = [
        {"name": "water", "type": "fluid", "mask": {"rect": [0.0, 0.0, 0.6, 1.0]}, "feather": 0.0,
         "hints": [{"uv": [0.3, 0.5], "velocity": [2.0, 0.0]}], "edge_tolerance": 10.0},
        {"name": "mist", "type": "drift", "mask": {"rect": [0.4, 0.0, 1.0, 1.0]}, "feather": 0.0,
         "velocity": [0.0, 1.0]},
    ]
    result = run(layers, image)
    water = result["layer0_velocity"] * [WIDTH, HEIGHT]
    mist = result["layer1_velocity"] * [WIDTH, HEIGHT]
    only_mist, overlap = mist[:, round(0.8 * WIDTH)], (water + mist)[:, round(0.5 * WIDTH)]
    assert np.allclose(only_mist, [0.0, 1.0], atol=1e-5)                  # drift: the same everywhere
    assert np.allclose(water[:, round(0.8 * WIDTH)], 0.0)                  # each layer only inside its mask
    assert np.allclose(overlap, [1.0, 0.5], atol=0.05)                     # shared, not added up
