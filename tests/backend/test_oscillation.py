"""Acceptance numbers of the oscillation engine: exact loops, the requested spectrum, pins, coherence."""

import cv2
import numpy as np
import pytest

from backend.engine import run_job
from backend.jobspec import parse_job
from backend.oscillation import displacement_at, term_powers

WIDTH, HEIGHT = 96, 64


def run(image, frames=48, **layer):
    spec = {"name": "tree", "type": "oscillation", "mask": {"rect": [0, 0, 1, 1]}, "feather": 0.0}
    spec.update(layer)
    job = parse_job({"loop_frames": frames, "working_resolution": WIDTH, "device": "cpu", "layers": [spec]})
    meta, result = run_job(job, image, {}, lambda stage, fraction: None)
    return meta, result


def textured(seed=0):
    rng = np.random.default_rng(seed)
    noise = cv2.resize(rng.random((8, 12, 3)).astype(np.float32), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    return np.clip(noise, 0, 1)


def trajectories(result, frames):
    """(T, H, W, 2) displacement in working pixels, y up, synthesised from the returned spectrum."""
    spectrum = result["layer0_spectrum"]
    coefficients = (spectrum[..., :2] + 1j * spectrum[..., 2:]) * [WIDTH, HEIGHT]
    return displacement_at(coefficients, range(frames), frames)


@pytest.mark.parametrize("frames", [24, 60, 240])
def test_frame_T_equals_frame_0(frames):
    meta, result = run(textured(), frames=frames, terms=16, amplitude=6.0)
    assert len(meta["layers"][0]["terms"]) == min(16, frames // 2)
    spectrum = result["layer0_spectrum"]
    coefficients = (spectrum[..., :2] + 1j * spectrum[..., 2:]) * [WIDTH, HEIGHT]
    start, looped, middle = displacement_at(coefficients, [0, frames, frames // 3], frames)
    assert np.abs(start - looped).max() < 1e-3  # pixels
    assert np.abs(start - middle).max() > 0.5


@pytest.mark.parametrize("falloff", [1.0, 2.0, 3.0])
def test_power_per_term_follows_the_requested_falloff(falloff):
    frames = 64
    _, result = run(textured(1), frames=frames, terms=8, falloff=falloff, amplitude=5.0)
    motion = trajectories(result, frames)
    power = (np.abs(np.fft.rfft(motion, axis=0)) ** 2).sum(axis=(1, 2, 3))[1:9]  # measured, bins k = 1..8
    assert np.allclose(power / power.sum(), term_powers(8, falloff), rtol=0.10)
    assert (np.abs(np.fft.rfft(motion, axis=0))[9:] < 1e-3).all()


def test_amplitude_follows_the_wind_and_the_requested_size():
    frames = 48
    _, result = run(np.full((HEIGHT, WIDTH, 3), 0.5, np.float32), frames=frames, wind=90.0, amplitude=4.0,
                    sway_across=0.0)
    motion = trajectories(result, frames)  # the image is the working size: source px = working px
    assert np.abs(motion[..., 0]).max() < 1e-3  # wind straight up: no sideways motion
    rms = np.sqrt((motion[..., 1] ** 2).mean())
    assert rms == pytest.approx(4.0 / np.sqrt(2), rel=0.05)  # the power of a sine of amplitude 4


def test_pins_hold_and_motion_grows_with_distance_from_them():
    frames = 48
    pin = {"uv": [0.5, 0.05], "radius": 0.05}  # the foot of a trunk
    _, result = run(textured(2), frames=frames, pins=[pin], pin_falloff=0.9, amplitude=5.0)
    motion = np.hypot(*trajectories(result, frames).transpose(3, 0, 1, 2))  # (T, H, W) px
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    distance = np.hypot(xs - (0.5 * WIDTH - 0.5), ys - (0.95 * HEIGHT - 0.5))
    pinned = distance <= 0.05 * WIDTH - 0.5
    assert pinned.sum() > 5 and motion[:, pinned].max() < 0.01
    amplitude = motion.max(axis=0)
    bins = np.digitize(distance, np.linspace(0.06 * WIDTH, 0.9 * WIDTH, 8))
    means = [amplitude[bins == b].mean() for b in range(1, 8) if (bins == b).sum() > 20]
    assert len(means) >= 5 and (np.diff(means) > 0).all(), means


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_region_moves_together_and_an_edge_separates(seed):
    image = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    image[:, : WIDTH // 2] = (0.9, 0.8, 0.2)   # one flower
    image[:, WIDTH // 2:] = (0.1, 0.2, 0.7)    # another
    frames = 48
    _, result = run(image, frames=frames, scale=0.05, amplitude=5.0, terms=6, seed=seed)
    motion = trajectories(result, frames)[..., 0]  # (T, H, W)

    def mean_correlation(x0, x1):
        """Average over all rows of the correlation in time of the pixels at columns x0 and x1."""
        a, b = motion[:, :, x0] - motion[:, :, x0].mean(0), motion[:, :, x1] - motion[:, :, x1].mean(0)
        return float(((a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))).mean())

    within = mean_correlation(WIDTH // 4, WIDTH // 4 + 1)
    across = mean_correlation(WIDTH // 2 - 2, WIDTH // 2 + 1)
    assert within > 0.9
    assert across < within - 0.3, (within, across)


def test_no_part_of_a_photo_swings_far_beyond_the_amplitude():
    """Small regions closed by the photo's edges once swung 14x the amplitude; now every pixel has the same power,
    which bounds its swing by sqrt(2K) times the amplitude."""
    import os
    photo = cv2.imread(os.path.join(os.path.dirname(__file__), "..", "..", "samples", "lake", "lake.jpg"))
    photo = cv2.cvtColor(cv2.resize(photo, (192, 108), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    frames, amplitude = 48, 4.0
    for seed in range(3):
        spec = {"name": "t", "type": "oscillation", "mask": {"rect": [0, 0, 1, 1]}, "amplitude": amplitude,
                "seed": seed, "terms": 8}
        job = parse_job({"loop_frames": frames, "working_resolution": 192, "device": "cpu", "layers": [spec]})
        _, result = run_job(job, photo, {}, lambda stage, fraction: None)
        spectrum = result["layer0_spectrum"]
        motion = displacement_at((spectrum[..., :2] + 1j * spectrum[..., 2:]) * [192, 108], range(frames), frames)
        swing = np.hypot(motion[..., 0], motion[..., 1])
        assert swing.max() < 3.2 * amplitude, (seed, swing.max())  # the bound is 4x (sqrt(2 * 8))
        assert np.sqrt((swing ** 2).mean()) > 0.6 * amplitude  # and it still sways (RMS of a sine: 0.71x)


def test_a_sway_over_three_percent_of_the_image_is_warned_about():
    meta, _ = run(textured(3), amplitude=2.0)  # 2 px on a 96 px image: 2.1%
    assert meta["warnings"] == []
    meta, _ = run(textured(3), amplitude=6.0)
    assert meta["warnings"] == ["layer 'tree': the sway's amplitude is 6.0 px, 6.2% of the image's longer side "
                                "(96 px): a sway over 3% smears and tears the picture; lower the amplitude"]
