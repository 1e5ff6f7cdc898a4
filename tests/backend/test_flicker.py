"""Flicker layers: light that changes in place as a loop of whole cycles per loop, inside its mask, as much as
asked; and a flicker learned from a clip whose light is known, with the clip's motion taken out."""

import cv2
import numpy as np
import pytest

from backend import appearance
from backend.engine import run_job
from backend.jobspec import parse_job

RECT = [0.25, 0.25, 0.75, 0.75]


def run(layers, loop_frames=24, arrays=None, image=None, fps=24.0):
    job = parse_job({"loop_frames": loop_frames, "working_resolution": 64, "device": "cpu", "fps": fps,
                     "layers": layers})
    if image is None:  # a painting of patches of colour, 8 px across
        image = np.kron(np.random.default_rng(2).random((5, 8, 3)), np.ones((8, 8, 1)))[:36].astype(np.float32)
    return run_job(job, image, arrays or {}, lambda stage, fraction: None)


def modulation(meta, result, frames):
    info = meta["layers"][0]
    spectrum = result["layer0_flicker"][..., 0] + 1j * result["layer0_flicker"][..., 1]
    return appearance.modulation_at(spectrum, info["cycles_per_loop"], frames, meta["loop_frames"])


def test_a_flicker_loops_stays_in_its_mask_and_is_as_large_as_asked():
    meta, result = run([{"name": "fire", "type": "flicker", "mask": {"rect": RECT}, "feather": 0.0,
                         "amount": 0.4, "rate": 3.0, "spread": 0.5}])
    info = meta["layers"][0]
    assert info["result"] == "flicker" and all(1 <= k <= 12 for k in info["cycles_per_loop"])
    m = modulation(meta, result, range(25))
    assert np.abs(m[24] - m[0]).max() < 1e-6  # frame T is frame 0
    outside = result["layer0_mask"] == 0
    assert outside.any() and np.abs(m[:, outside]).max() == 0.0
    inside = result["layer0_mask"] == 1
    amplitude = np.sqrt(2.0) * m[:24, inside].std(axis=0)  # per pixel: the sine of the same power
    assert 0.9 * 0.4 < np.median(amplitude) < 1.35 * 0.4  # a little more at texel centres, for bilinear reads
    assert amplitude.std() < 0.35 * amplitude.mean()  # every pixel flickers, none is left still
    # the rate: the power's centre lies at rate * T / fps = 3 cycles per loop
    power = np.abs(np.fft.rfft(m[:24, inside], axis=0)) ** 2
    centre = (np.arange(len(power))[:, None] * power).sum() / power.sum()
    assert 2.5 < centre < 3.6


def test_the_band_keeps_whole_cycles_and_a_steady_pulse_is_one_term():
    terms, powers = appearance.band(4.8, 0.0, 48)
    assert terms == [5] and powers.tolist() == [1.0]
    terms, powers = appearance.band(6.0, 1.0, 48)
    assert all(isinstance(k, int) and 1 <= k <= 24 for k in terms) and len(terms) <= appearance.MAX_TERMS
    assert powers.sum() == pytest.approx(1.0) and terms[int(np.argmax(powers))] == 6
    assert appearance.band(500.0, 0.5, 12)[0][-1] <= 6  # never above T / 2


def test_the_tint_keeps_the_brightness_and_turns_flares_towards_it():
    weights = np.array(appearance.tint_weights((1.0, 0.45, 0.1), 0.6))
    assert np.dot(weights, (0.2126, 0.7152, 0.0722)) == pytest.approx(1.0)
    assert weights[0] > weights[1] > weights[2]
    assert appearance.tint_weights((1.0, 0.45, 0.1), 0.0) == [1.0, 1.0, 1.0]


def flickering_clip(amplitude, cycles_per_frame, drift_px=0.0, frames=60, size=(96, 64)):
    """uint8 frames of a textured picture (drifting by drift_px per frame) whose light, in the middle, is multiplied
    by 1 + a sin(2 pi f t + phase(x, y))."""
    rng = np.random.default_rng(4)
    width, height = size
    margin = int(abs(drift_px) * frames) + 2
    texture = cv2.GaussianBlur(rng.random((height, width + margin, 3)).astype(np.float32), (0, 0), 2.0)
    texture = 0.15 + 0.7 * (texture - texture.min()) / (texture.max() - texture.min())  # a clear texture
    ys, xs = np.mgrid[0:height, 0:width]
    phase = 2 * np.pi * (0.7 * xs / width + 0.4 * ys / height)
    region = (np.abs(xs - width / 2) < width / 4) & (np.abs(ys - height / 2) < height / 4)
    clip = []
    for t in range(frames):
        shift = int(round(drift_px * t))
        base = texture[:height, margin - shift:margin - shift + width] if drift_px else texture[:height, :width]
        light = 1 + amplitude * np.sin(2 * np.pi * cycles_per_frame * t + phase) * region
        clip.append(np.clip((base ** 2.2 * light[..., None]) ** (1 / 2.2) * 255, 0, 255).round().astype(np.uint8))
    return np.stack(clip)


@pytest.mark.parametrize("drift_px", [0.0, 1.0])
def test_a_flicker_learned_from_a_clip_has_its_amount_and_rate(drift_px):
    amplitude, cycles = 0.25, 0.1
    arrays = {"clip": flickering_clip(amplitude, cycles, drift_px)}
    meta, result = run([{"name": "lamp", "type": "clip", "clip_array": "clip", "motion": "flicker",
                         "mask": {"rect": RECT}}], arrays=arrays, fps=30.0)
    learned = meta["layers"][0]["clip"]
    assert abs(learned["amount"] - amplitude) <= 0.1 * amplitude, learned
    assert abs(learned["rate_per_second"] - cycles * 30) <= 0.1 * cycles * 30, learned
    assert meta["layers"][0]["result"] == "flicker"


def test_a_drifting_texture_is_not_read_as_flicker():
    """The motion is taken out before the light is measured: a drifting clip without any flicker measures
    (almost) none, where comparing pixels in place would see the texture pass by."""
    frames = flickering_clip(0.0, 0.1, drift_px=1.0)
    from backend import clip
    flows = clip.optical_flow(frames)
    compensated = appearance.measure_flicker(frames, flows)["amount"]
    in_place = appearance.measure_flicker(frames, np.zeros_like(flows))["amount"]
    assert compensated < 0.25 * in_place, (compensated, in_place)
