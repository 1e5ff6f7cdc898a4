"""Motion by example: synthetic clips with known motion (made by moving parts of a real photo), measured back; the
few-shot predictor; what the clip layer warns about or refuses; bad clips."""

import functools
import os

import cv2
import numpy as np
import pytest

from backend import clip, predictor
from backend.engine import run_job
from backend.errors import InputError
from backend.jobspec import parse_job

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WIDTH, HEIGHT = 160, 96


# --- Synthetic clips ------------------------------------------------------------------------------------------------

@functools.lru_cache(1)
def photo():
    """The lake sample (snowy rock, forest, sky, water) at 640x360, float RGB."""
    image = cv2.cvtColor(cv2.imread(os.path.join(REPO, "samples", "lake", "lake.jpg")), cv2.COLOR_BGR2RGB)
    return cv2.resize(image, (640, 360), interpolation=cv2.INTER_AREA).astype(np.float32)


def window(x, y, width=WIDTH, height=HEIGHT):
    """The photo seen through a window whose top left is at (x, y), sub-pixel."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return cv2.remap(photo(), xs + np.float32(x), ys + np.float32(y), cv2.INTER_CUBIC,
                     borderMode=cv2.BORDER_REFLECT)


def to_bytes(image):
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


ROCK, LAKE, BACKGROUND = (150, 110), (250, 300), (20, 10)  # textured rock, smooth water, sky and peaks


def quarter_flow(velocity=(1.5, 0.5), frames=16, back=BACKGROUND, rows=slice(48, 96), columns=slice(0, 80)):
    """A still scene in which only a quarter (bottom left) flows at `velocity` px/frame (x right, y down)."""
    background, clip_frames = window(*back), []
    for t in range(frames):
        frame = background.copy()
        frame[rows, columns] = window(ROCK[0] - velocity[0] * t, ROCK[1] - velocity[1] * t)[rows, columns]
        clip_frames.append(to_bytes(frame))
    return np.stack(clip_frames)


def swaying_object(amplitude=3.0, cycles=3, frames=48, angle=0.0, box=(30, 24, 70, 52)):
    """A box of rock that sways as a whole (amplitude px along `angle` degrees, y up) before a still background."""
    background, thing = window(*BACKGROUND), window(380, 150)
    direction = np.array([np.cos(np.radians(angle)), -np.sin(np.radians(angle))])
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    clip_frames = []
    for t in range(frames):
        dx, dy = amplitude * np.sin(2 * np.pi * cycles * t / frames) * direction
        moved = cv2.remap(thing, xs - np.float32(dx), ys - np.float32(dy), cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT)
        inside = (xs >= box[0] + dx) & (xs < box[2] + dx) & (ys >= box[1] + dy) & (ys < box[3] + dy)
        clip_frames.append(to_bytes(np.where(inside[..., None], moved, background)))
    return np.stack(clip_frames)


def travelling_waves(frames=24, speed=2.0):
    """Waves whose crests travel to the right across the lower half (as on water or a flag): no sway."""
    background = window(*BACKGROUND)
    xs, ys = np.arange(WIDTH, dtype=np.float32)[None, :], np.arange(HEIGHT, dtype=np.float32)[:, None]
    clip_frames = []
    for t in range(frames):
        x = xs - speed * t
        crests = 0.5 + 0.25 * np.sin(2 * np.pi * x / 23 + 0.3 * np.sin(ys / 7)) + 0.2 * np.sin(2 * np.pi * x / 9.5
                                                                                               + ys / 11)
        waves = 0.6 * window(300 - speed * t, 150) + 0.4 * 255 * crests[..., None]
        frame = background.copy()
        frame[48:] = waves[48:]
        clip_frames.append(to_bytes(frame))
    return np.stack(clip_frames)


def cut_clip(frames=16):
    """Two shots joined: a cut between frames 8 and 9."""
    first = quarter_flow(frames=frames)
    second = quarter_flow((-1.0, 0.5), frames=frames, back=(400, 200))
    return np.concatenate([first[:frames // 2], second[frames // 2:]])


def pan_clip(frames=16, speed=(2.0, 0.3)):
    """A camera panning over a still landscape."""
    return np.stack([to_bytes(window(BACKGROUND[0] + speed[0] * t, 60 + speed[1] * t)) for t in range(frames)])


def shaky_clip(frames=24, jitter=1.5):
    """The quarter-flow clip shot by a shaking hand: every frame offset at random."""
    offsets = np.random.default_rng(0).normal(0, jitter, (frames, 2)).astype(np.float32)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return np.stack([cv2.remap(frame, xs + dx, ys + dy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
                     for frame, (dx, dy) in zip(quarter_flow(frames=frames), offsets)])


def two_textures(shift, flowing_left=True, split=0.5):
    """Rock that flows (shifted by `shift` px) beside water that stays; and where the rock is."""
    rock, water = window(ROCK[0] - shift, ROCK[1]), window(*LAKE)
    xs = np.arange(WIDTH)[None, :].repeat(HEIGHT, 0)
    flowing = xs < WIDTH * split if flowing_left else xs >= WIDTH * split
    return to_bytes(np.where(flowing[..., None], rock, water)), flowing


def write_sequence(folder, frames, depth=8, channels=3):
    """Frames as PNG files, as 8- or 16-bit grey, RGB or RGBA."""
    os.makedirs(folder, exist_ok=True)
    for index, frame in enumerate(frames):
        image = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        if channels == 1:
            image = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        elif channels == 4:
            image = np.dstack([image, np.full(frame.shape[:2], 200, np.uint8)])
        if depth == 16:
            image = image.astype(np.uint16) * 257
        cv2.imwrite(os.path.join(folder, f"frame_{index:04d}.png"), image)
    return str(folder)


def write_video(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 24, (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return str(path)


def clip_job(loop_frames=24, **layer):
    spec = {"name": "c", "type": "clip", "mask": {"rect": [0, 0, 1, 1]}, "feather": 0.0}
    spec.update(layer)
    if "clip" not in spec:
        spec["clip_array"] = "clip"
    return parse_job({"loop_frames": loop_frames, "working_resolution": WIDTH, "device": "cpu", "layers": [spec]})


def run_clip(frames, still=None, loop_frames=24, **layer):
    """(meta, result) of a one-layer clip job with the clip sent as an array."""
    still = to_bytes(window(200, 60)) if still is None else still
    return run_job(clip_job(loop_frames, **layer), still, {"clip": frames}, lambda *a: None)


def centre_velocity(result, prefix="layer0"):
    """The flow at the centre in working px per frame, x right, y up."""
    return result[f"{prefix}_velocity"][HEIGHT // 2, WIDTH // 2] * [WIDTH, HEIGHT]


# --- Flowing clips: the moving region's statistics --------------------------------------------------------------

@pytest.mark.parametrize("velocity", [(1.5, 0.5), (-0.6, 0.9)])
def test_stats_come_from_the_moving_quarter_within_five_percent(velocity):
    meta, result = run_clip(quarter_flow(velocity))
    expected = np.array([velocity[0], -velocity[1]])  # y up
    measured = centre_velocity(result)
    assert np.linalg.norm(measured - expected) / np.linalg.norm(expected) < 0.05, measured
    info = meta["layers"][0]["clip"]
    assert info["region"] == {"from": "automatic", "moving": True, "share": pytest.approx(0.25, abs=0.04)}
    assert info["mean_velocity_px_per_frame"] == pytest.approx(list(expected), rel=0.05)  # source px, y up
    assert info["speed_percentiles_px_per_frame"]["50"] == pytest.approx(np.hypot(*velocity), rel=0.05)
    assert meta["warnings"] == []


def test_clip_mask_picks_the_part_to_learn_from():
    frames = quarter_flow((1.5, 0.0))
    up = quarter_flow((0.0, -1.2), rows=slice(0, 40), columns=slice(96, 160))  # the top right rises
    frames[:, :40, 96:] = up[:, :40, 96:]
    _, automatic = run_clip(frames)
    meta, chosen = run_clip(frames, clip_mask={"rect": [0.55, 0.55, 1.0, 1.0]})  # clip UV, v up: the top right
    assert centre_velocity(chosen) == pytest.approx([0.0, 1.2], abs=0.06)
    assert meta["layers"][0]["clip"]["region"]["from"] == "clip_mask"
    assert centre_velocity(automatic)[0] > 0.3  # both regions, mixed


def test_a_clip_of_another_aspect_keeps_x_and_y_scale_equal_and_says_so():
    frames = quarter_flow((1.5, 0.6))[:, :, :120]  # 120x96 (4:3) against a 160x96 (5:3) still
    meta, result = run_clip(frames)
    scale = 160 / 120  # the clip covers the still: its width is scaled to the still's, and its height alike
    assert centre_velocity(result) == pytest.approx([1.5 * scale, -0.6 * scale], rel=0.05)
    assert "scaled by 1.333 in x and y alike" in meta["layers"][0]["clip"]["resampled"]


def test_translation_speed_from_a_video_within_five_percent(tmp_path):
    velocity = np.array([2.0, 0.5])  # px per frame, y down
    frames = np.stack([to_bytes(window(ROCK[0] - velocity[0] * t, ROCK[1] - velocity[1] * t)) for t in range(24)])
    loaded, size = clip.read_clip(write_video(tmp_path / "river.avi", frames))
    assert size == (WIDTH, HEIGHT) and len(loaded) == 24
    measured = clip.fluid_stats(clip.optical_flow(loaded))["mean_velocity"]
    assert np.linalg.norm(measured - velocity) / np.linalg.norm(velocity) < 0.05


# --- Swaying clips: tracked points ----------------------------------------------------------------------------------

@pytest.mark.parametrize("amplitude, cycles, angle", [(3.0, 3, 0.0), (2.0, 5, 60.0)])
def test_sway_of_a_tracked_object_amplitude_and_frequency(amplitude, cycles, angle):
    frames = 48
    meta, result = run_clip(swaying_object(amplitude, cycles, frames, angle), loop_frames=frames,
                            motion="oscillation", terms=8)
    info = meta["layers"][0]["clip"]
    assert info["amplitude_px"] == pytest.approx(amplitude, rel=0.15)  # the still is at source size
    assert abs(info["dominant_bin"] - cycles) <= 1
    assert info["dominant_frequency_cycles_per_frame"] == pytest.approx(cycles / frames, abs=1 / frames)
    assert abs(info["direction"] - angle) < 8
    assert int(np.argmax(info["powers"])) + 1 == cycles  # the loop is as long as the clip: term = cycles
    assert result["layer0_spectrum"].shape == (8, HEIGHT, WIDTH, 4)
    assert meta["warnings"] == []


def test_travelling_waves_are_refused_as_sway():
    with pytest.raises(InputError, match="flows rather than sways.*use a fluid layer"):
        run_clip(travelling_waves(), motion="oscillation")
    meta, result = run_clip(travelling_waves())  # as a flow it is fine
    assert centre_velocity(result)[0] > 1.0


def test_oscillation_frequency_exact_and_amplitude_within_ten_percent(tmp_path):
    frames_count, cycles, amplitude = 48, 3, 3.0
    frames = [to_bytes(window(ROCK[0] - amplitude * np.sin(2 * np.pi * cycles * t / frames_count), ROCK[1]))
              for t in range(frames_count)]
    loaded, _ = clip.read_clip(write_sequence(tmp_path / "tree", frames))
    stats = clip.oscillation_stats(clip.optical_flow(loaded))
    assert stats["dominant_bin"] == cycles
    assert stats["dominant_frequency"] == pytest.approx(cycles / frames_count)
    assert stats["amplitude"] == pytest.approx(amplitude, rel=0.10)
    assert abs(stats["direction"]) < 10  # a horizontal sway


# --- Warnings: each from the clip made for it, none from a clean clip --------------------------------------------

@pytest.mark.parametrize("make, layer, expected", [
    (cut_clip, {}, "scene cut: frames 8-9"),
    (pan_clip, {}, "camera pan"),
    (shaky_clip, {}, "camera shake"),
    (lambda: quarter_flow((3.0, 1.0)), {}, None),
    (lambda: swaying_object(2.0, 4), {"motion": "oscillation"}, None),
    (lambda: two_textures(0)[0][None].repeat(6, 0), {}, "barely moves"),
])
def test_each_warning_comes_from_the_clip_made_for_it(make, layer, expected):
    meta, _ = run_clip(make(), **layer)
    if expected is None:
        assert meta["warnings"] == []
    else:
        assert len(meta["warnings"]) == 1 and expected in meta["warnings"][0], meta["warnings"]
        assert meta["layers"][0]["warnings"] == [meta["warnings"][0].split(": ", 1)[1]]


def test_a_cut_is_left_out_of_the_statistics():
    meta, result = run_clip(cut_clip())
    measured = centre_velocity(result)  # the two shots' own motions, (1.5, -0.5) and (-1, -0.5), not a cut's jump
    assert -1.1 < measured[0] < 1.6 and measured[1] == pytest.approx(-0.5, abs=0.1)


def test_implausible_registration_warns_and_falls_back():
    frames = quarter_flow()
    meta, _ = run_clip(frames, still=frames[0], method="aligned")
    assert meta["warnings"] == []
    zoomed = cv2.resize(frames[0][20:76, 30:130], (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)  # 1.6x
    meta, _ = run_clip(frames, still=zoomed, method="aligned")
    assert len(meta["warnings"]) == 1 and "registration" in meta["warnings"][0], meta["warnings"]
    assert meta["layers"][0]["clip"]["registration"] == np.eye(2, 3).tolist()


def test_aligned_puts_the_motion_where_it_is():
    frames = quarter_flow((1.5, 0.5))
    _, result = run_clip(frames, still=frames[0], method="aligned")
    velocity = result["layer0_velocity"] * [WIDTH, HEIGHT]
    assert velocity[70, 40] == pytest.approx([1.5, -0.5], abs=0.1)  # in the moving quarter
    assert np.abs(velocity[20, 120]).max() < 0.05  # in the still part


# --- The predictor ----------------------------------------------------------------------------------------------

def speed_correlation(velocity, truth):
    """Pearson correlation of the speed map with the true one, away from the border (0 for a constant map)."""
    speed = np.hypot(velocity[..., 0] * WIDTH, velocity[..., 1] * HEIGHT)[8:-8, 8:-8].ravel()
    truth = truth[8:-8, 8:-8].ravel().astype(np.float64)
    return 0.0 if speed.std() < 1e-6 * max(speed.mean(), 1e-6) else float(np.corrcoef(speed, truth)[0, 1])


def test_predict_is_reproducible_reports_its_training_and_beats_stats():
    frames = np.stack([two_textures(1.5 * t)[0] for t in range(12)])
    still, flowing = two_textures(0.0, flowing_left=False, split=0.4)  # a new layout of the same textures
    layer = {"method": "predict", "train_steps": 100, "train_seed": 0}
    meta, first = run_clip(frames, still=still, **layer)
    _, second = run_clip(frames, still=still, **layer)
    assert np.array_equal(first["layer0_velocity"], second["layer0_velocity"])  # same seed and steps
    model = meta["layers"][0]["clip"]["model"]
    assert model["trained"] and model["steps"] == 100 and model["seed"] == 0 and model["final_loss"] < 0.1
    assert len(meta["layers"][0]["clip"]["loss_curve"]) == 10
    _, stats = run_clip(frames, still=still)
    predicted, averaged = speed_correlation(first["layer0_velocity"], flowing), \
        speed_correlation(stats["layer0_velocity"], flowing)
    assert predicted > 0.6 and predicted > averaged + 0.3, (predicted, averaged)
    assert meta["warnings"] == []
    flat = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)  # nothing to go by
    meta, _ = run_clip(frames, still=flat, method="predict", train_steps=20)
    assert len(meta["warnings"]) == 1 and "nearly constant" in meta["warnings"][0]
    everywhere = np.stack([to_bytes(window(ROCK[0] - 1.5 * t, ROCK[1])) for t in range(8)])  # one flow for all
    meta, _ = run_clip(everywhere, still=flat, method="predict", train_steps=20)
    assert not any("nearly constant" in message for message in meta["warnings"]), meta["warnings"]


def test_predictor_learns_which_appearance_flows(tmp_path):
    frames = np.stack([two_textures(2.0 * t)[0] for t in range(12)])
    mean_flow = clip.fluid_stats(clip.optical_flow(frames))["mean_field"]
    model, scale, curve, final = predictor.train(frames, mean_flow, steps=100, seed=0)  # a step budget: load-proof
    assert curve[-1] < curve[0] and np.isfinite(final)
    path = str(tmp_path / "model.pt")
    predictor.save(model, scale, curve, path, "abc", 100, 0, final)
    model, scale, curve, info = predictor.load(path)  # what a later session does: the saved weights, no code
    assert info == {"clip_hash": "abc", "steps": 100, "seed": 0, "final_loss": final}
    still, flowing = two_textures(0.0, flowing_left=False, split=0.4)
    predicted = predictor.predict(model, scale, still / 255.0)
    inner = np.zeros_like(flowing)
    inner[8:-8, 8:-8] = True
    inner[:, 56:72] = False  # the border between the textures, which the network sees both sides of
    moving, resting = predicted[flowing & inner].mean(axis=0), predicted[~flowing & inner].mean(axis=0)
    assert moving[0] > 1.0 and abs(moving[1]) < 0.3 * moving[0]  # rightwards (true speed 2 px/frame)
    assert np.hypot(*resting) < 0.25 * moving[0]


def test_model_is_reused_for_its_clip_and_retrained_for_another(tmp_path):
    model = str(tmp_path / "plane.imgdyn-model.pt")
    right = np.stack([two_textures(2.0 * t)[0] for t in range(8)])
    left = np.stack([two_textures(-2.0 * t)[0] for t in range(8)])  # the same looks moving the other way
    layer = {"method": "predict", "model": model, "train_steps": 40}
    meta, first = run_clip(right, still=right[0], **layer)
    assert meta["layers"][0]["clip"]["model"]["trained"] and os.path.isfile(model)
    assert os.path.isfile(str(tmp_path / "plane.imgdyn-model.loss.png"))
    meta, again = run_clip(right, still=right[0], **layer)
    assert not meta["layers"][0]["clip"]["model"]["trained"]
    assert np.array_equal(first["layer0_velocity"], again["layer0_velocity"])
    meta, other = run_clip(left, still=right[0], **layer)  # another clip, the same model file
    assert meta["layers"][0]["clip"]["model"]["trained"]
    assert "another clip" in meta["layers"][0]["clip"]["model"]["reason"]
    assert centre_velocity(first)[0] * centre_velocity(other)[0] < 0  # it learned the other clip's motion
    assert predictor.load(model)[3]["clip_hash"] == meta["layers"][0]["clip"]["model"]["clip_hash"]


def test_old_train_seconds_become_a_step_budget():
    frames = np.stack([two_textures(2.0 * t)[0] for t in range(6)])
    meta, _ = run_clip(frames, method="predict", train_seconds=1.5)
    assert meta["layers"][0]["clip"]["model"]["steps"] == 15


def test_a_damaged_model_file_is_replaced_with_a_warning(tmp_path):
    model = tmp_path / "m.pt"
    model.write_bytes(b"")
    frames = np.stack([two_textures(2.0 * t)[0] for t in range(6)])
    meta, _ = run_clip(frames, method="predict", model=str(model), train_steps=5)
    assert len(meta["warnings"]) == 1 and "cannot load the motion model" in meta["warnings"][0]
    assert "weights_only" not in meta["warnings"][0]
    assert predictor.load(str(model))[3]["steps"] == 5


# --- Every method with grey, 16-bit and alpha stills and clips ---------------------------------------------------

def stills():
    rgb = to_bytes(window(200, 60))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return {"grey 8-bit": grey, "grey 16-bit + alpha": np.dstack([grey, grey]).astype(np.uint16) * 257,
            "RGBA 16-bit": np.dstack([rgb, np.full_like(grey, 255)]).astype(np.uint16) * 257,
            "grey float (H, W, 1)": grey[..., None].astype(np.float32) / 255}


@pytest.mark.parametrize("kind", list(stills()))
def test_every_method_runs_on_grey_16_bit_and_alpha_stills(kind):
    still = stills()[kind]
    flowing, swaying = quarter_flow(frames=8), swaying_object(2.0, 2, frames=16)
    for layer in ({"method": "stats"}, {"method": "aligned"}, {"method": "predict", "train_steps": 5}):
        meta, result = run_clip(flowing, still=still, **layer)
        assert np.isfinite(result["layer0_velocity"]).all() and meta["layers"][0]["result"] == "lookup"
    meta, result = run_clip(swaying, still=still, loop_frames=16, motion="oscillation")
    assert np.isfinite(result["layer0_spectrum"]).all()


@pytest.mark.parametrize("depth, channels", [(8, 1), (16, 4), (16, 1)])
def test_grey_16_bit_and_alpha_clip_files_are_read(tmp_path, depth, channels):
    frames = quarter_flow((1.5, 0.5), frames=8)
    folder = write_sequence(tmp_path / "frames", frames, depth, channels)
    loaded, size = clip.read_clip(folder)
    assert loaded.shape == (8, HEIGHT, WIDTH, 3) and loaded.dtype == np.uint8 and size == (WIDTH, HEIGHT)
    meta, result = run_job(clip_job(clip=folder), to_bytes(window(200, 60)), {}, lambda *a: None)
    assert centre_velocity(result) == pytest.approx([1.5, -0.5], rel=0.05)


@pytest.mark.parametrize("convert", [lambda f: cv2.cvtColor(f, cv2.COLOR_RGB2GRAY),
                                     lambda f: np.dstack([f, f[..., :1]]).astype(np.uint16) * 257,
                                     lambda f: f.astype(np.float32) / 255])
def test_clip_arrays_of_any_depth_and_channels(convert):
    frames = quarter_flow((1.5, 0.5), frames=8)
    meta, result = run_clip(np.stack([convert(frame) for frame in frames]))
    assert centre_velocity(result) == pytest.approx([1.5, -0.5], rel=0.05)


# --- Bad clips ------------------------------------------------------------------------------------------------------

def test_bad_clips_get_clear_errors(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(4096))
    with pytest.raises(InputError, match="cannot open the clip|at least 3 are needed"):
        clip.read_clip(str(corrupt))
    short = write_sequence(tmp_path / "short", [to_bytes(window(0, 0))] * 2)
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
    with pytest.raises(InputError, match="must be \\(frames >= 3, height, width"):
        run_clip(np.zeros((2, HEIGHT, WIDTH), np.uint8))
    with pytest.raises(InputError, match="int32"):
        run_clip(np.zeros((4, HEIGHT, WIDTH), np.int32))
