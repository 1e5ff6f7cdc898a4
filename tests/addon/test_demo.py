"""The main job as a user runs it: a baked .blend, a looping preview video and a report with measurements."""

import json
import os
import subprocess
import sys

import bpy

from tools.dev_extension import REPO_ROOT


def test_animate_writes_blend_video_and_report(tmp_path):
    sample = os.path.join(REPO_ROOT, "samples", "river")
    with open(os.path.join(sample, "job.json"), encoding="utf-8") as handle:
        job = json.load(handle)
    job.update(loop_frames=10, working_resolution=64)
    job_path = tmp_path / "job.json"
    job_path.write_text(json.dumps(job))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tools", "animate.py"),
                           os.path.join(sample, "river.png"), "--job", str(job_path), "--out", str(out),
                           "--name", "demo", "--width", "96", "--samples", "1", "--grid", "16"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["loop_frames"] == 10 and report["render_size"] == [96, 54]
    assert report["loop_error"] < 1 / 255
    assert report["still_region_motion_px"] < 0.01
    assert report["mid_loop_change"] > 0
    assert set(report["timings_s"]) == {"setup", "generate_and_bake", "save_blend", "render_preview", "measure"}
    assert (out / "demo.blend").stat().st_size > 0
    clip = bpy.data.movieclips.load(str(out / "preview.mp4"))
    try:
        assert clip.frame_duration == 10 and tuple(clip.size) == (96, 54)
    finally:
        bpy.data.movieclips.remove(clip)


def test_animate_refuses_a_missing_image_without_writing(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tools", "animate.py"), str(tmp_path / "no.png"),
                           "--job", os.path.join(REPO_ROOT, "samples", "river", "job.json"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "does not exist" in done.stderr
    assert not (tmp_path / "out").exists()
