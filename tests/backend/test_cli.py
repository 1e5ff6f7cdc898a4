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
