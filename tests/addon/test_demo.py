"""The main job as a user runs it: `python -m imgdyn animate`, its outputs decoded, and its refusals."""

import json
import os
import subprocess
import sys

import bpy
import numpy as np
import pytest

from layertypes import LAYER_TYPES

from imgdyn import measure
from imgdyn.extension import REPO_ROOT, default_backend_python

SAMPLE = os.path.join(REPO_ROOT, "samples", "river")


def animate(*args, cwd=REPO_ROOT):
    """Run the command as a user would, from `cwd`, with the repository on the Python path."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    return subprocess.run([sys.executable, "-m", "imgdyn", "animate", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def gif_frames_and_loops(path):
    script = "import cv2, sys; ok, a = cv2.imreadanimation(sys.argv[1]); print(len(a.frames), a.loop_count)"
    done = subprocess.run([default_backend_python(), "-c", script, path], capture_output=True, text=True, timeout=60)
    count, loops = done.stdout.split()
    return int(count), int(loops)


def test_animate_writes_every_output_and_they_decode(tmp_path):
    with open(os.path.join(SAMPLE, "job.json"), encoding="utf-8") as handle:
        job = json.load(handle)
    job.update(loop_frames=10, working_resolution=64)
    (tmp_path / "job.json").write_text(json.dumps(job))
    out = tmp_path / "out"
    done = animate(os.path.join(SAMPLE, "river.png"), "--job", str(tmp_path / "job.json"), "--out", str(out),
                   "--name", "demo", "--width", "96", "--samples", "1", "--grid", "16", "--formats", "mp4,gif,png",
                   "--stmap", "--flowmap", "--motion-vectors")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "[generate]" in done.stderr and "[  render]" in done.stderr and "loop error" in done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["loop_frames"] == 10 and report["render_size"] == [96, 54]
    assert report["loop_error"] < 1 / 255 and report["leak_levels"] < 2.0
    assert set(report["outputs"]) == {"blend", "video", "gif", "frames", "contact_sheet", "stmap", "flowmap",
                                      "motion_vectors"}
    assert all(os.path.exists(path) and str(out) in path for path in report["outputs"].values())

    clip = bpy.data.movieclips.load(str(out / "preview.mp4"))
    assert clip.frame_duration == 10 and tuple(clip.size) == (96, 54)
    bpy.data.movieclips.remove(clip)
    assert gif_frames_and_loops(str(out / "preview.gif")) == (10, 0)  # 0: loops forever
    assert b"NETSCAPE2.0" in (out / "preview.gif").read_bytes()
    frames = sorted(os.listdir(out / "frames"))
    assert frames == [f"frame_{n:04d}.png" for n in range(1, 11)]
    assert set(os.listdir(out / "stmap")) == {"layer0", "layer1", "stmap.json"}  # the river and the clouds
    assert set(os.listdir(out / "stmap" / "layer0")) == {f"stmap_{n:04d}_{s}.exr" for n in range(10) for s in range(3)}
    record = json.loads((out / "stmap" / "stmap.json").read_text())
    for layer in record["layers"]:
        assert len(layer["weights"]) == 10 and np.allclose(np.sum(layer["weights"], axis=1), 1.0)
    assert set(os.listdir(out / "flowmap")) == {"flowmap.png", "flowmap.exr", "flowmap.json"}
    flowmap = json.loads((out / "flowmap" / "flowmap.json").read_text())
    assert flowmap["size"] == [64, 36] and flowmap["phase_period_frames"] == 10 and flowmap["fps"] == 24
    assert set(os.listdir(out / "vectors")) == {f"vector_{n:04d}.exr" for n in range(1, 11)} | {"vectors.json"}
    vectors = json.loads((out / "vectors" / "vectors.json").read_text())
    assert vectors["size"] == [96, 54] and vectors["frames"] == [1, 10] and vectors["largest_px"] > 0.1
    sheet = bpy.data.images.load(str(out / "contact_sheet.png"))
    assert tuple(sheet.size) == (3 * 96 + 8, 2 * 54 + 4)
    bpy.data.images.remove(sheet)
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".imgdyn-")]

    # The saved .blend, opened without the extension: frame start + T renders like the first written frame.
    script = f"""
import sys
sys.path.insert(0, {REPO_ROOT!r})
import bpy
bpy.ops.wm.open_mainfile(filepath={str(out / "demo.blend")!r})
from imgdyn import measure
import numpy as np
np.save({str(tmp_path / "last_plus_one.npy")!r}, measure.render_frame(11, {str(tmp_path)!r}))
"""
    reopened = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert reopened.returncode == 0, reopened.stderr[-2000:]
    first = measure.read_image(str(out / "frames" / "frame_0001.png"))
    assert np.abs(np.load(tmp_path / "last_plus_one.npy") - first).max() < 1 / 255


def test_layers_on_the_command_line(tmp_path):
    out = tmp_path / "out"
    done = animate(os.path.join(SAMPLE, "river.png"), "--frames", "8", "--working-resolution", "48",
                   "--layer", "fluid", "rect=0,0.2,1,0.38", "hint=0.5,0.3,3,0",
                   "--layer", "sway", "rect=0,0.62,1,1", "amplitude=3", "terms=3",
                   "--out", str(out), "--width", "64", "--samples", "1", "--grid", "8")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["loop_error"] < 1 / 255 and report["shape_keys"] == 6  # 3 cos/sin pairs of the sway only
    assert set(report["outputs"]) == {"blend", "video", "contact_sheet"}
    # What was computed: the job as sent, every layer with every declared parameter, the given ones as given.
    sent = report["job"]["layers"]
    assert [layer["type"] for layer in sent] == ["fluid", "oscillation"]
    for layer in sent:
        assert set(layer) == {"name", "type"} | {param.key for param in LAYER_TYPES[layer["type"]].params}
    assert sent[1]["terms"] == 3 and sent[1]["amplitude"] == pytest.approx(3.0)
    assert sent[1]["sway_across"] == pytest.approx(0.3) and report["warnings"] == []
    (hint,) = sent[0]["hints"]
    assert hint["uv"] == pytest.approx([0.5, 0.3]) and hint["velocity"] == pytest.approx([3.0, 0.0])


def test_the_command_line_eases_the_motion_in(tmp_path):
    common = ("--frames", "8", "--working-resolution", "48", "--layer", "drift", "rect=0,0.5,1,1", "speed=3",
              "--width", "64", "--samples", "1", "--formats", "png")
    eased = animate(os.path.join(SAMPLE, "river.png"), *common, "--out", str(tmp_path / "eased"),
                    "--strength", "1:0,5:1")
    steady = animate(os.path.join(SAMPLE, "river.png"), *common, "--out", str(tmp_path / "steady"),
                     "--strength", "1:0,2:0")
    assert eased.returncode == 0 and steady.returncode == 0, eased.stderr[-3000:] + steady.stderr[-3000:]
    assert json.loads((tmp_path / "eased" / "report.json").read_text())["strength_keys"] == [[1, 0.0], [5, 1.0]]

    def frame(run, number):
        return measure.read_image(str(tmp_path / run / "frames" / f"frame_{number:04d}.png"))
    assert np.abs(frame("eased", 1) - frame("steady", 1)).max() < 1 / 255  # strength 0: the still picture
    assert np.abs(frame("steady", 6) - frame("steady", 1)).max() < 1 / 255  # ... held at 0
    assert np.abs(frame("eased", 6) - frame("eased", 1)).max() > 0.05  # ... or eased into motion


@pytest.mark.parametrize("args, words", [
    (["missing.png", "--layer", "fluid", "hint=0.5,0.5,1,0"], "error: image 'missing.png' does not exist"),
    ([os.path.join(SAMPLE, "river.png"), "--layer", "lava"], "error: --layer 1: unknown layer type 'lava'"),
    ([os.path.join(SAMPLE, "river.png"), "--layer", "drift", "speed=-2"],
     "error: --layer 1 speed: speed must be 0 or more"),
    ([os.path.join(SAMPLE, "river.png"), "--frames", "0", "--layer", "fluid", "hint=0.5,0.5,1,0"],
     "error: job.loop_frames must be between 2 and 100000, got 0"),
    ([os.path.join(SAMPLE, "river.png"), "--job", os.path.join(SAMPLE, "job.json"), "--formats", "avi"],
     "error: --formats takes some of mp4, gif, png"),
])
def test_bad_arguments_get_one_line_and_write_nothing(tmp_path, args, words):
    out = tmp_path / "out"
    done = animate(*args, "--out", str(out), cwd=str(tmp_path))
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(words), done.stderr
    assert os.listdir(tmp_path) == []


def test_the_command_lines_frames_drift_at_the_speed_asked(tmp_path):
    """The rendered PNG frames of `imgdyn animate` move as the job says (a 360 px picture rendered 240 wide)."""
    from test_rendered_motion import textured_png
    from imgdyn import quality
    picture = textured_png(str(tmp_path / "texture.png"), 360, 204)
    out = tmp_path / "out"
    done = animate(picture, "--frames", "12", "--working-resolution", "60", "--layer", "drift", "rect=0,0,1,1",
                   "speed=1.8", "angle=30", "--out", str(out), "--width", "240", "--samples", "2", "--formats", "png")
    assert done.returncode == 0, done.stderr[-3000:]
    frames = [measure.read_image(str(out / "frames" / name)) for name in sorted(os.listdir(out / "frames"))]
    height, width = frames[0].shape[:2]
    centres = [(x * width, y * height) for x in (0.3, 0.7) for y in (0.3, 0.7)]
    measured = np.median(quality.rendered_speed(frames, centres), axis=0)
    expected = 1.8 / 1.5 * np.array([np.cos(np.radians(30)), -np.sin(np.radians(30))])  # render px, y down
    assert np.linalg.norm(measured - expected) <= 0.1 * np.linalg.norm(expected), (measured, expected)
