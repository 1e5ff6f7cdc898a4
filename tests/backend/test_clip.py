"""Motion by example: synthetic clips with known motion, measured back; the few-shot predictor; bad clips."""

import os

import cv2
import numpy as np
import pytest

from backend import clip, predictor
from backend.engine import run_job
from backend.errors import InputError
from backend.jobspec import parse_job

WIDTH, HEIGHT = 160, 96


def texture(seed, tint=(1.0, 1.0, 1.0), cells=(60, 40)):
    rng = np.random.default_rng(seed)
    noise = cv2.resize(rng.random((cells[1], cells[0])).astype(np.float32), (600, 400), interpolation=cv2.INTER_CUBIC)
    return np.clip(noise[..., None] * np.array(tint, np.float32) + 0.05, 0, 1)


def shifted(source, dx, dy):
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return cv2.remap(source, (xs + 200 - dx).astype(np.float32), (ys + 150 - dy).astype(np.float32),
                     cv2.INTER_LINEAR)


def to_bytes(image):
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_sequence(folder, frames):
    os.makedirs(folder, exist_ok=True)
    for index, frame in enumerate(frames):
        cv2.imwrite(os.path.join(folder, f"frame_{index:04d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return str(folder)


def write_video(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 24, (WIDTH, HEIGHT))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return str(path)


def test_translation_speed_from_a_video_within_five_percent(tmp_path):
    velocity = np.array([2.0, 0.5])  # px per frame, y down
    source = texture(0)
    frames = [to_bytes(shifted(source, *(velocity * t))) for t in range(24)]
    loaded, size = clip.read_clip(write_video(tmp_path / "river.avi", frames))
    assert size == (WIDTH, HEIGHT) and len(loaded) == 24
    measured = clip.fluid_stats(clip.optical_flow(loaded))["mean_velocity"]
    assert np.linalg.norm(measured - velocity) / np.linalg.norm(velocity) < 0.05


def test_oscillation_frequency_exact_and_amplitude_within_ten_percent(tmp_path):
    frames_count, cycles, amplitude = 48, 3, 3.0
    source = texture(1)
    frames = [to_bytes(shifted(source, amplitude * np.sin(2 * np.pi * cycles * t / frames_count), 0))
              for t in range(frames_count)]
    loaded, _ = clip.read_clip(write_sequence(tmp_path / "tree", frames))
    stats = clip.oscillation_stats(clip.optical_flow(loaded))
    assert stats["dominant_bin"] == cycles
    assert stats["dominant_frequency"] == pytest.approx(cycles / frames_count)
    assert stats["amplitude"] == pytest.approx(amplitude, rel=0.10)
    assert abs(stats["direction"]) < 10  # a horizontal sway


def two_region_scene(shift, a_on_left=True, split=0.5):
    a, b = texture(2, (0.2, 0.5, 1.0), (80, 12)), texture(3, (0.3, 1.0, 0.2), (30, 30))
    xs = np.arange(WIDTH)[None, :].repeat(HEIGHT, 0)
    region_a = xs < WIDTH * split if a_on_left else xs >= WIDTH * split
    return to_bytes(np.where(region_a[..., None], shifted(a, shift, 0), shifted(b, 0, 0))), region_a


def test_predictor_learns_which_appearance_flows(tmp_path):
    frames = np.stack([two_region_scene(2.0 * t)[0] for t in range(16)])
    mean_flow = clip.fluid_stats(clip.optical_flow(frames))["mean_field"]
    model, scale, curve = predictor.train(frames, mean_flow, seconds=0, steps=80)  # a step budget: load-proof
    assert curve[-1] < curve[0]
    path = str(tmp_path / "model.pt")
    predictor.save(model, scale, curve, path)
    model, scale, curve = predictor.load(path)  # what a later session does: the saved weights, no code
    still, region_a = two_region_scene(0.0, a_on_left=False, split=0.4)  # new layout of the same textures
    predicted = predictor.predict(model, scale, still / 255.0)
    inner = np.zeros_like(region_a)
    inner[8:-8, 8:-8] = True
    flowing, still_region = predicted[region_a & inner].mean(axis=0), predicted[~region_a & inner].mean(axis=0)
    assert flowing[0] > 1.0 and abs(flowing[1]) < 0.3 * flowing[0]  # rightwards (true speed 2 px/frame)
    assert np.hypot(*still_region) < 0.3


def clip_job(tmp_path, **layer):
    spec = {"name": "c", "type": "clip", "mask": {"rect": [0, 0, 1, 1]}, "feather": 0.0}
    spec.update(layer)
    return parse_job({"loop_frames": 24, "working_resolution": WIDTH, "device": "cpu", "layers": [spec]})


def test_clip_layers_in_a_job(tmp_path):
    source = texture(4)
    folder = write_sequence(tmp_path / "flow", [to_bytes(shifted(source, 1.5 * t, 0)) for t in range(12)])
    image = to_bytes(texture(5)[:HEIGHT, :WIDTH])
    meta, result = run_job(clip_job(tmp_path, clip=folder), image, {}, lambda *a: None)
    velocity = result["layer0_velocity"][HEIGHT // 2, WIDTH // 2] * [WIDTH, -HEIGHT]
    assert velocity == pytest.approx([1.5, 0.0], abs=0.08)
    assert meta["layers"][0]["clip"]["frames"] == 12 and meta["layers"][0]["result"] == "lookup"

    sway = write_sequence(tmp_path / "sway", [to_bytes(shifted(source, 2 * np.sin(2 * np.pi * 2 * t / 24), 0))
                                              for t in range(24)])
    meta, result = run_job(clip_job(tmp_path, clip=sway, motion="oscillation", terms=6), image, {},
                           lambda *a: None)
    powers = meta["layers"][0]["clip"]["powers"]
    assert int(np.argmax(powers)) + 1 == 2  # two cycles per clip of 24 frames: term 2 of a 24-frame loop
    assert result["layer0_spectrum"].shape == (6, HEIGHT, WIDTH, 4)


def test_model_is_saved_and_reused(tmp_path):
    frames = [two_region_scene(2.0 * t)[0] for t in range(8)]
    folder = write_sequence(tmp_path / "two", frames)
    model = str(tmp_path / "plane.imgdyn-model.pt")
    job = clip_job(tmp_path, clip=folder, method="predict", model=model, train_seconds=2)
    meta, first = run_job(job, frames[0], {}, lambda *a: None)
    assert meta["layers"][0]["clip"]["model"]["trained"] and os.path.isfile(model)
    assert os.path.isfile(str(tmp_path / "plane.imgdyn-model.loss.png"))
    meta, second = run_job(clip_job(tmp_path, clip=folder, method="predict", model=model), frames[0], {},
                           lambda *a: None)
    assert not meta["layers"][0]["clip"]["model"]["trained"]
    assert np.allclose(first["layer0_velocity"], second["layer0_velocity"], atol=1e-6)


def test_aligned_clip_of_another_aspect_is_resampled_explicitly(tmp_path):
    source = texture(6)
    frames = [to_bytes(shifted(source, t, 0))[:, :120] for t in range(6)]  # 4:3 against a 5:3 still
    folder = write_sequence(tmp_path / "narrow", frames)
    meta, _ = run_job(clip_job(tmp_path, clip=folder, method="aligned"), to_bytes(source[:HEIGHT, :WIDTH]), {},
                      lambda *a: None)
    assert meta["layers"][0]["clip"]["resampled"] == f"stretched from 120x96 to {WIDTH}x{HEIGHT}"


def test_bad_clips_get_clear_errors(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(4096))
    with pytest.raises(InputError, match="cannot open the clip|at least 3 are needed"):
        clip.read_clip(str(corrupt))
    short = write_sequence(tmp_path / "short", [to_bytes(texture(7)[:HEIGHT, :WIDTH])] * 2)
    with pytest.raises(InputError, match="has 2 readable frame\\(s\\); at least 3 are needed"):
        clip.read_clip(short)
    with pytest.raises(InputError, match="does not exist"):
        clip.read_clip(str(tmp_path / "nothing.mp4"))
    with pytest.raises(InputError, match="is not a clip"):
        clip.read_clip("/proc/self/environ")
    broken = tmp_path / "model.pt"
    broken.write_bytes(b"not a model")
    with pytest.raises(InputError, match="cannot load the motion model"):
        predictor.load(str(broken))
