"""`python -m backend generate` as a user runs it: outputs, exit codes, one clear line on bad input."""

import json
import os
import re
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "samples", "river")


def run(*args):
    return subprocess.run([sys.executable, "-m", "backend", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def write_job(folder, mask_images=(), **changes):
    """The river sample's job, shortened, in `folder`; `mask_images`: (layer index, image file beside it)."""
    with open(os.path.join(SAMPLE, "job.json"), encoding="utf-8") as handle:
        job = json.load(handle)
    job.update(loop_frames=12, working_resolution=64, **changes)
    for index, name in mask_images:
        job["layers"][index]["mask"] = {"image": name}
    path = os.path.join(folder, "job.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(job, handle)
    return path


def test_generate_writes_the_result(tmp_path):
    out = tmp_path / "result.npz"
    done = run("generate", os.path.join(SAMPLE, "river.png"), "--job", write_job(tmp_path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    result = np.load(out)
    meta = json.loads(str(result["meta"]))
    assert meta["loop_frames"] == 12 and meta["image_size"] == [640, 360]
    assert result["layer0_lookup"].shape == (13, 36, 64, 2)  # 12 frames: one phase period, ages -6..6


def moving_rows_with_mask(tmp_path, mask):
    """The sample job with `mask` written as mask.png beside it (named relative to the job file): where it moves."""
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    job = write_job(tmp_path, mask_images=[(0, "mask.png")])
    out = tmp_path / "result.npz"
    done = run("generate", os.path.join(SAMPLE, "river.png"), "--job", job, "--out", str(out))
    assert done.returncode == 0, done.stderr
    return np.load(out)["layer0_mask"] > 0


def test_mask_image_path_is_read_relative_to_the_job(tmp_path):
    mask = np.zeros((36, 64), np.uint8)
    mask[10:20] = 255
    moving = moving_rows_with_mask(tmp_path, mask)
    assert moving[12:18].all() and not moving[:9].any() and not moving[21:].any()


def test_unknown_key_exits_2_with_the_key_named_and_no_output(tmp_path):
    out = tmp_path / "result.npz"
    done = run("generate", os.path.join(SAMPLE, "river.png"), "--job", write_job(tmp_path, speed=3),
               "--out", str(out))
    assert done.returncode == 2
    assert "error: JobSpecError: job: unknown key 'speed'" in done.stderr
    assert not out.exists() and os.listdir(tmp_path) == ["job.json"]


def test_missing_image_exits_2(tmp_path):
    done = run("generate", str(tmp_path / "nope.png"), "--job", write_job(tmp_path), "--out",
               str(tmp_path / "r.npz"))
    assert done.returncode == 2 and "cannot read image" in done.stderr


def test_clip_and_model_paths_are_read_relative_to_the_job(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    still = cv2.imread(os.path.join(SAMPLE, "river.png"))
    for index in range(6):  # the painting itself, flowing to the right at 2 px per frame
        cv2.imwrite(str(folder / f"{index:02d}.png"), np.roll(still, 2 * index, axis=1))
    job = {"loop_frames": 12, "working_resolution": 64, "device": "cpu",
           "layers": [{"name": "c", "type": "clip", "mask": {"rect": [0, 0, 1, 1]}, "clip": "frames",
                       "method": "predict", "model": "river.pt", "train_steps": 3}]}
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job), encoding="utf-8")
    out = tmp_path / "result.npz"
    done = run("generate", os.path.join(SAMPLE, "river.png"), "--job", str(path), "--out", str(out))  # cwd: repo
    assert done.returncode == 0, done.stderr
    meta = json.loads(str(np.load(out)["meta"]))
    assert meta["layers"][0]["clip"]["frames"] == 6 and (tmp_path / "river.pt").is_file()
    assert meta["layers"][0]["clip"]["model"]["path"] == str(tmp_path / "river.pt")


def error_lines(stderr):
    """What a user reads of a failed run besides the progress line (rewritten in place with \\r)."""
    return [line for line in stderr.splitlines() if line.strip() and not re.fullmatch(r".*: +\d+\.\d%", line)]


def assert_one_line(done, *words):
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def huge_png(path, width, height):
    """A real, decodable grey PNG of this size: rows of zeros compress to almost nothing."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    packer, row, parts = zlib.compressobj(9), bytes(width + 1), []
    for _ in range(height):
        parts.append(packer.compress(row))
    parts.append(packer.flush())
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))


def test_a_30000x20000_png_is_refused_from_its_header_without_decoding(tmp_path):
    image = tmp_path / "huge.png"
    huge_png(image, 30000, 20000)
    assert image.stat().st_size < 2 * 1024 ** 2
    # Run in a child that reports its children's peak memory: the backend must not decode the picture.
    measure = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
               "sys.stderr.write(done.stderr); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024);"
               "sys.exit(done.returncode)")
    out = tmp_path / "r.npz"
    done = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "backend", "generate", str(image),
                           "--job", write_job(tmp_path), "--out", str(out)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert_one_line(done, "InputError", "30000x20000 (600 megapixels)", "at most 134 megapixels", "reduce it")
    assert int(done.stdout) < 1024 ** 3, f"peak memory {int(done.stdout) >> 20} MiB"
    assert not out.exists()


def test_a_huge_phase_period_is_one_line_before_any_allocation(tmp_path):
    job = write_job(tmp_path)
    with open(job, encoding="utf-8") as handle:
        data = json.load(handle)
    data.update(loop_frames=100000, working_resolution=1024)
    data["layers"][0]["phase_frames"] = 100000
    with open(job, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    out = tmp_path / "r.npz"
    done = run("generate", os.path.join(SAMPLE, "river.png"), "--job", job, "--out", str(out))
    assert_one_line(done, "JobSpecError", "the result would be", "layer 'river'", "100001 ages",
                    "lower phase_frames")
    assert not out.exists()


def test_a_job_file_that_is_not_utf8_is_one_line(tmp_path):
    job = tmp_path / "job.json"
    job.write_bytes(b'{"loop_frames": 12, "layers": [{"name": "r\xe9"}]}')  # Latin-1, as an old editor saves
    done = run("generate", os.path.join(SAMPLE, "river.png"), "--job", str(job), "--out", str(tmp_path / "r.npz"))
    assert_one_line(done, "JobSpecError", "not UTF-8 text", "save it as UTF-8")


def shifted_frames(count, width=64, height=36, step=2):
    texture = cv2.resize(np.random.default_rng(3).random((9, 16)).astype(np.float32), (width + count * step, height),
                         interpolation=cv2.INTER_CUBIC)
    return [(np.clip(texture[:, i * step:i * step + width], 0, 1) * 255).astype(np.uint8) for i in range(count)]


def write_clip_folder(folder, names):
    os.makedirs(folder)
    for name, frame in zip(names, shifted_frames(len(names))):
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(cv2.imencode(".png", frame)[1].tobytes())


def clip_job(folder, clip, **layer):
    """A job with one clip layer and, when given, a mask file; written next to its files."""
    data = {"loop_frames": 12, "working_resolution": 64, "device": "cpu", "layers": [
        dict({"name": "c", "type": "clip", "clip": clip, "mask": {"rect": [0, 0, 1, 1]}}, **layer)]}
    path = os.path.join(folder, "job.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)  # a name that is not UTF-8 is written as \udcXX escapes, which Python maps back
    return path


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="needs a file system that takes any bytes")
def test_file_names_that_are_not_utf8_are_read(tmp_path):
    """Image, mask and the frames of a clip folder named in Latin-1: OpenCV alone crashed on each of them."""
    folder = os.fsencode(tmp_path)
    image, mask = folder + b"/river\xe9.png", folder + b"/masque\xe9.png"
    with open(os.path.join(SAMPLE, "river.png"), "rb") as source, open(image, "wb") as target:
        target.write(source.read())
    grey = np.zeros((36, 64), np.uint8)
    grey[10:20] = 255
    with open(mask, "wb") as handle:
        handle.write(cv2.imencode(".png", grey)[1].tobytes())
    write_clip_folder(folder + b"/clip\xe9", [b"f\xe90%d.png" % i for i in range(4)])
    job = clip_job(str(tmp_path), os.fsdecode(b"clip\xe9"), mask={"image": os.fsdecode(b"masque\xe9.png")})
    out = tmp_path / "r.npz"
    done = subprocess.run([sys.executable, "-m", "backend", "generate", image, "--job", job, "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = np.load(out)
    assert json.loads(str(result["meta"]))["layers"][0]["clip"]["frames"] == 4
    assert (result["layer0_mask"][12:18] > 0).all() and not (result["layer0_mask"][:9] > 0).any()


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="needs a file system that takes any bytes")
def test_a_video_whose_name_is_not_utf8_gets_one_line(tmp_path):
    video = os.fsencode(tmp_path) + b"/rivi\xe8re.avi"
    writer = cv2.VideoWriter(str(tmp_path / "plain.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 24, (64, 36))
    for frame in shifted_frames(4):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    os.rename(tmp_path / "plain.avi", video)
    job = clip_job(str(tmp_path), os.fsdecode(b"rivi\xe8re.avi"))
    done = run("generate", os.path.join(SAMPLE, "river.png"), "--job", job, "--out", str(tmp_path / "r.npz"))
    assert_one_line(done, "InputError", "rivi\\xe8re.avi", "not valid UTF-8", "rename it")


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="needs a file system that takes any bytes")
def test_gif_frames_and_output_with_names_that_are_not_utf8(tmp_path):
    folder = os.fsencode(tmp_path)
    names = [folder + b"/frame\xe9%d.png" % i for i in range(3)]
    for name, frame in zip(names, shifted_frames(3)):
        with open(name, "wb") as handle:
            handle.write(cv2.imencode(".png", frame)[1].tobytes())
    out = folder + b"/anim\xe9.gif"
    done = subprocess.run([sys.executable, "-m", "backend", "gif", *names, "--out", out], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with open(out, "rb") as handle:
        assert handle.read(6) == b"GIF89a"
    assert sorted(os.listdir(folder)) == sorted(os.path.basename(n) for n in names + [out])


def test_a_clip_path_is_read_relative_to_the_job_file(tmp_path):
    write_clip_folder(str(tmp_path / "jobs" / "clip"), [f"f{i}.png" for i in range(4)])
    job = clip_job(str(tmp_path / "jobs"), "clip")
    out = tmp_path / "r.npz"
    done = run("generate", os.path.join(SAMPLE, "river.png"), "--job", job, "--out", str(out))  # cwd: the repo
    assert done.returncode == 0, done.stderr
    assert json.loads(str(np.load(out)["meta"]))["layers"][0]["clip"]["frames"] == 4


def damaged_models(folder):
    """Model files a crash, a full disk or a stranger leaves behind: empty, NaN weights, foreign code."""
    import torch
    from backend.predictor import FlowNet
    empty = os.path.join(folder, "empty.pt")
    open(empty, "wb").close()
    state = FlowNet().state_dict()
    state = {name: torch.full_like(tensor, float("nan")) for name, tensor in state.items()}
    nan = os.path.join(folder, "nan.pt")
    torch.save({"state_dict": state, "scale": 1.0, "loss_curve": [1.0]}, nan)
    foreign = os.path.join(folder, "foreign.pt")
    torch.save({"state_dict": {}, "hook": os.getcwd}, foreign)  # loading it would need code: refused
    return {"empty file": empty, "NaN or infinite weights": nan, "damaged or was not saved by this backend": foreign}


@pytest.mark.parametrize("case", ["empty file", "NaN or infinite weights", "damaged or was not saved by this backend"])
def test_a_damaged_model_file_is_one_line_and_trained_again(tmp_path, case):
    """A model file that cannot be used is named in one warning line (never torch's advice to load it with
    weights_only=False), and the job trains a new model in its place instead of failing."""
    write_clip_folder(str(tmp_path / "clip"), [f"f{i}.png" for i in range(4)])
    model = damaged_models(str(tmp_path))[case]
    job = clip_job(str(tmp_path), "clip", method="predict", model=model, train_steps=2)
    done = run("generate", os.path.join(SAMPLE, "river.png"), "--job", job, "--out", str(tmp_path / "r.npz"))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    meta = json.loads(str(np.load(tmp_path / "r.npz")["meta"]))
    (warning,) = [w for w in meta["warnings"] if "cannot load the motion model" in w]
    assert case in warning and "\n" not in warning and "weights_only" not in warning
    from backend import predictor
    assert predictor.load(model)[3]["steps"] == 2  # a good model now


def test_an_rgba_mask_moves_only_where_it_is_opaque(tmp_path):
    mask = np.full((36, 64, 4), 255, np.uint8)  # white everywhere, transparent but for rows 10-19
    mask[..., 3] = 0
    mask[10:20, :, 3] = 255
    moving = moving_rows_with_mask(tmp_path, mask)
    assert moving[12:18].all() and not moving[:9].any() and not moving[21:].any()


def test_a_mask_of_another_aspect_is_refused(tmp_path):
    cv2.imwrite(str(tmp_path / "square.png"), np.full((64, 64), 255, np.uint8))
    job = write_job(tmp_path, mask_images=[(1, "square.png")])
    out = tmp_path / "result.npz"
    done = run("generate", os.path.join(SAMPLE, "river.png"), "--job", job, "--out", str(out))
    assert_one_line(done, "InputError", "the mask of layer 'clouds' is 64x64 but the image is 640x360",
                    "another aspect")
    assert not out.exists()
