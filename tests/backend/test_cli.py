"""`python -m backend generate` as a user runs it: outputs, exit codes, one clear line on bad input."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "samples", "river")


def run(*args):
    return subprocess.run([sys.executable, "-m", "backend", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def write_job(folder, **changes):
    with open(os.path.join(SAMPLE, "job.json"), encoding="utf-8") as handle:
        job = json.load(handle)
    job.update(loop_frames=12, working_resolution=64, **changes)
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


def test_mask_image_path_is_read_relative_to_the_job(tmp_path):
    mask = np.zeros((36, 64), np.uint8)
    mask[10:20] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    job = write_job(tmp_path)
    with open(job, encoding="utf-8") as handle:
        data = json.load(handle)
    data["layers"][0]["mask"] = {"image": "mask.png"}
    with open(job, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    out = tmp_path / "result.npz"
    done = run("generate", os.path.join(SAMPLE, "river.png"), "--job", job, "--out", str(out))
    assert done.returncode == 0, done.stderr
    moving = np.load(out)["layer0_mask"] > 0
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
