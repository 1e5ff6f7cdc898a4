"""`python -m imgdyn animate` against unlucky and hostile conditions (issue 18): another drive, a read-only or
full disk, reruns, a second run into the same folder, symlinks, stop signals and bad numbers. Every run is a real
process with its own empty temp folder, which must stay empty; a failed run must leave the earlier result
byte-identical and everything outside the destination as it was."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from files import snapshot
from imgdyn.extension import REPO_ROOT
from test_rendered_motion import textured_png

FILES_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files.py")
QUICK = ("--frames", "4", "--working-resolution", "32", "--layer", "drift", "rect=0,0.5,1,1", "speed=2",
         "--width", "64", "--samples", "1", "--grid", "8")


@pytest.fixture
def space(tmp_path):
    """inputs/texture.png (96x64) and an empty temp folder for the runs; the destination is out/."""
    (tmp_path / "inputs").mkdir()
    (tmp_path / "tmp").mkdir()
    textured_png(str(tmp_path / "inputs" / "texture.png"), 96, 64)
    return tmp_path


def command(space, *args):
    return [sys.executable, "-m", "imgdyn", "animate", str(space / "inputs" / "texture.png"), *args]


def environment(space):
    return dict(os.environ, PYTHONPATH=REPO_ROOT, TMPDIR=str(space / "tmp"))


def animate(space, *args, alone=True):
    """Run to the end; the temp folder must then be empty (if no other run shares it)."""
    done = subprocess.run(command(space, *args), cwd=str(space), env=environment(space), capture_output=True,
                          text=True, timeout=600)
    if alone:
        assert os.listdir(space / "tmp") == [], f"left in the temp folder: {os.listdir(space / 'tmp')}"
    return done


def start(space, *args, own_group=False):
    """Start a run in the background, its stderr readable line by line (in a process group of its own, as a
    terminal's foreground job, with `own_group`)."""
    stdout = open(space / "stdout.log", "w")
    try:
        return subprocess.Popen(command(space, *args), cwd=str(space), env=environment(space), stdout=stdout,
                                stderr=subprocess.PIPE, text=True, process_group=0 if own_group else None)
    finally:
        stdout.close()


def outside(space):
    """Everything in the test's folder but the destination, the temp folder and the logs."""
    return snapshot(str(space), skip={"out", "drive", "tmp", "stdout.log"})


def one_line(done):
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-3000:]
    return lines[0]


def succeeded(done):
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


# --- names, numbers, files: refused up front ----------------------------------------------------------------

@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """One successful run, shared by the refusal tests: its out/ must stay byte-identical."""
    space = tmp_path_factory.mktemp("earlier")
    (space / "inputs").mkdir()
    (space / "tmp").mkdir()
    textured_png(str(space / "inputs" / "texture.png"), 96, 64)
    succeeded(animate(space, *QUICK, "--out", str(space / "out"), "--formats", "mp4,png"))
    return space, snapshot(str(space / "out"))


def thin_png(space):
    return textured_png(str(space / "inputs" / "thin.png"), 1000, 4)


def bad_job(space):
    path = space / "inputs" / "latin1.json"
    path.write_bytes('{"loop_frames": 4, "layers": [{"name": "rivi\u00e8re"}]}'.encode("latin-1"))
    return str(path)


@pytest.mark.parametrize("make_args, words", [
    (lambda s: ["--out", str(s / "inputs" / "texture.png")], "error: --out '{inputs}/texture.png' is a file"),
    (lambda s: ["--name", "../../x"], "error: --name '../../x' must be a plain file name"),
    (lambda s: ["--name", "sub/x"], "error: --name 'sub/x' must be a plain file name"),
    (lambda s: ["--name", ".."], "error: --name '..' must be a plain file name"),
    (lambda s: ["--fps", "nan"], "error: --fps must be a number from 1 to 120, not nan"),
    (lambda s: ["--fps", "inf"], "error: --fps must be a number from 1 to 120, not inf"),
    (lambda s: ["--samples", "99999999999"], "error: --samples must be a whole number from 1 to 16384"),
    (lambda s: ["--width", "16"], "error: image '{inputs}/texture.png' is 96x64: at --width 16 the render would be "
                                  "16x10, and each side needs at least 16 pixels: --width 24 or more"),
    (lambda s: ["--width", "65"], "error: --width 65: an MP4 needs an even width: use 64 or 66"),
    (lambda s: ["--job", bad_job(s)], "error: job file '{inputs}/latin1.json' is not UTF-8 text (byte 0xe8"),
])
def test_bad_numbers_names_and_files_get_one_line_before_any_work(earlier, make_args, words):
    space, before = earlier
    args = list(QUICK)
    extra = make_args(space)
    if "--job" in extra:  # instead of the --layer
        args = [a for a in args if a not in ("--layer", "drift", "rect=0,0.5,1,1", "speed=2")]
    if "--width" in extra:
        args[args.index("--width"):args.index("--width") + 2] = []
    inputs = snapshot(str(space / "inputs"))
    done = animate(space, *args, "--out", str(space / "out"), *extra)
    assert done.returncode == 2
    assert one_line(done).startswith(words.format(inputs=space / "inputs")), done.stderr
    assert snapshot(str(space / "out")) == before
    assert snapshot(str(space / "inputs")) == inputs
    assert not os.path.exists(space.parent / "x.blend") and not os.path.exists(space / "sub")


def test_a_too_thin_image_is_refused_with_the_limit(space):
    picture = thin_png(space)
    before = outside(space)
    done = subprocess.run([sys.executable, "-m", "imgdyn", "animate", picture, *QUICK, "--out", str(space / "out")],
                          cwd=str(space), env=environment(space), capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    assert one_line(done) == (f"error: image '{picture}' is 1000x4: at --width 64 the render would be 64x0, and "
                              f"each side needs at least 16 pixels: --width 4000 or more")
    assert outside(space) == before and not os.path.exists(space / "out")
    assert os.listdir(space / "tmp") == []


# --- publishing: one unit, previous outputs replaced, user files kept ---------------------------------------

def test_a_rerun_replaces_the_previous_outputs_and_keeps_the_users_files(space):
    out = space / "out"
    succeeded(animate(space, *QUICK, "--out", str(out), "--formats", "mp4,gif,png"))
    (out / "notes.txt").write_text("mine")
    (out / "mine").mkdir()
    (out / "mine" / "sketch.png").write_bytes(b"not an image")
    before = outside(space)
    succeeded(animate(space, *QUICK, "--out", str(out), "--formats", "mp4", "--name", "other"))
    assert sorted(os.listdir(out)) == ["contact_sheet.png", "mine", "notes.txt", "other.blend", "preview.mp4",
                                       "report.json"]
    assert (out / "notes.txt").read_text() == "mine" and (out / "mine" / "sketch.png").read_bytes() == b"not an image"
    report = json.loads((out / "report.json").read_text())
    assert sorted(os.path.basename(path) for path in report["outputs"].values()) == [
        "contact_sheet.png", "other.blend", "preview.mp4"]
    assert outside(space) == before


def test_a_second_run_into_the_same_folder_fails_at_once(space):
    out = space / "out"
    first = start(space, *QUICK, "--out", str(out))
    try:
        deadline = time.monotonic() + 300  # (a bound for a hang, not a speed)
        while not (out.is_dir() and any(name.startswith(".imgdyn-staging-") for name in os.listdir(out))):
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
            time.sleep(0.05)
        first.send_signal(signal.SIGSTOP)  # it holds the lock for as long as the second run needs
        during = snapshot(str(out))
        second = animate(space, *QUICK, "--out", str(out), "--formats", "gif", alone=False)
        assert snapshot(str(out)) == during
    finally:
        first.send_signal(signal.SIGCONT)
    _, errors = first.communicate(timeout=600)
    assert second.returncode == 2
    assert one_line(second) == (f"error: another imgdyn animate run (pid {first.pid}) is writing to '{out}': wait "
                                f"for it to finish or choose another --out")
    assert first.returncode == 0, errors[-3000:]
    assert sorted(os.listdir(out)) == ["contact_sheet.png", "preview.mp4", "report.json", "texture.blend"]
    assert os.listdir(space / "tmp") == []


def test_a_symlinked_frames_folder_is_replaced_not_followed(space):
    out = space / "out"
    succeeded(animate(space, *QUICK, "--out", str(out), "--formats", "png"))
    elsewhere = space / "elsewhere"
    shutil.move(str(out / "frames"), str(elsewhere))
    (elsewhere / "keep.txt").write_text("not the tool's")
    os.symlink(elsewhere, out / "frames")
    before = outside(space)
    succeeded(animate(space, *QUICK, "--out", str(out), "--formats", "mp4,png", "--strength", "1:0,3:1"))
    assert not os.path.islink(out / "frames")
    assert sorted(os.listdir(out / "frames")) == [f"frame_{n:04d}.png" for n in range(1, 5)]
    assert outside(space) == before  # the folder the link pointed to is untouched
    report = json.loads((out / "report.json").read_text())
    assert report["strength_keys"] == [[1, 0.0], [3, 1.0]]
    assert all(os.path.exists(path) for path in report["outputs"].values())


# --- stop signals -------------------------------------------------------------------------------------------

def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def running(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for_stage(process, stage):
    """Read the run's progress lines until `stage` shows; returns what was read."""
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.startswith(f"[{stage:>8}]"):
            return seen
    raise AssertionError("the run ended before its " + stage + " stage:\n" + "".join(seen)[-3000:])


@pytest.mark.parametrize("signum, stage, whole_group", [
    (signal.SIGINT, "render", False),
    (signal.SIGINT, "render", True),  # Ctrl-C in a terminal: the backend and the encoders get it too
    (signal.SIGTERM, "generate", False),
])
def test_a_stop_signal_stops_the_whole_run_and_leaves_nothing(space, signum, stage, whole_group):
    out = space / "out"
    succeeded(animate(space, *QUICK, "--out", str(out), "--formats", "mp4,png"))
    earlier, before = snapshot(str(out)), outside(space)
    args = [a if a != "4" else "48" for a in QUICK]  # 48 frames: the render lasts
    run = start(space, *args, "--out", str(out), "--formats", "mp4,gif,png", own_group=whole_group)
    try:
        seen = wait_for_stage(run, stage)
        deadline = time.monotonic() + 300
        while not children(run.pid):  # the backend (it stays up until the run ends)
            assert run.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        helpers = children(run.pid)
        if whole_group:
            os.killpg(run.pid, signum)
        else:
            run.send_signal(signum)
        _, errors = run.communicate(timeout=300)  # (a bound for a hang)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    errors = "".join(seen) + errors
    assert run.returncode == 128 + signum, errors[-3000:]
    assert errors.strip().splitlines()[-1] == (f"interrupted ({signal.Signals(signum).name}): stopped; nothing was "
                                               f"written to '{out}'")
    assert "Traceback" not in errors
    assert helpers and not [pid for pid in helpers if running(pid)]
    assert snapshot(str(out)) == earlier
    assert outside(space) == before
    assert os.listdir(space / "tmp") == []


# --- other drives: real mounts in a private mount namespace -------------------------------------------------

def namespaces_work():
    try:
        return subprocess.run(["unshare", "-Urm", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_mounts = pytest.mark.skipif(not namespaces_work(), reason="needs `unshare -Urm` (user and mount namespaces)")


class Drive:
    """A tmpfs mounted at `path` in a private mount namespace: only commands run `inside` see it."""

    def __init__(self, path, size):
        os.makedirs(path, exist_ok=True)
        self.path = path
        self.holder = subprocess.Popen(
            ["unshare", "-Urm", "--propagation", "private", "sh", "-c",
             f"mount -t tmpfs -o size={size} tmpfs '{path}' && echo mounted && exec cat"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.holder.stdout.readline().strip() == "mounted"

    def inside(self, args, **kwargs):
        return subprocess.run(["nsenter", "-t", str(self.holder.pid), "-U", "-m", "--preserve-credentials", *args],
                              capture_output=True, text=True, timeout=600, **kwargs)

    def snapshot(self, folder):
        done = self.inside([sys.executable, FILES_SCRIPT, str(folder)])
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def free_bytes(self):
        done = self.inside([sys.executable, "-c", f"import os; s = os.statvfs({self.path!r}); "
                                                  f"print(s.f_bfree * s.f_frsize)"])
        return int(done.stdout)

    def close(self):
        self.holder.stdin.close()
        self.holder.wait(timeout=60)


@pytest.fixture
def drive(space):
    drives = []

    def mount(size="16m"):
        drives.append(Drive(str(space / "drive"), size))
        return drives[-1]
    yield mount
    for mounted in drives:
        mounted.close()


def animate_on(drive, space, *args):
    done = drive.inside(command(space, *args), cwd=str(space), env=environment(space))
    assert os.listdir(space / "tmp") == [], f"left in the temp folder: {os.listdir(space / 'tmp')}"
    return done


@needs_mounts
def test_out_on_another_drive_than_its_parent(space, drive):
    """--out is itself a mount point: staging inside it makes the publish a rename on one filesystem."""
    mounted = drive()
    before = outside(space)
    succeeded(animate_on(mounted, space, *QUICK, "--out", mounted.path, "--formats", "mp4,png"))
    assert sorted(mounted.snapshot(mounted.path)) == [
        "contact_sheet.png", "frames", *[f"frames/frame_{n:04d}.png" for n in range(1, 5)], "preview.mp4",
        "report.json", "texture.blend"]
    assert outside(space) == before  # nothing staged beside the mount point


@needs_mounts
def test_a_read_only_destination_is_refused_before_any_work(space, drive):
    mounted = drive()
    out = os.path.join(mounted.path, "out")
    succeeded(animate_on(mounted, space, *QUICK, "--out", out))
    earlier, before = mounted.snapshot(out), outside(space)
    assert mounted.inside(["mount", "-o", "remount,ro,bind", mounted.path]).returncode == 0
    done = animate_on(mounted, space, *QUICK, "--out", out, "--formats", "gif")
    assert done.returncode == 2
    assert one_line(done) == (f"error: cannot write to --out '{out}' (Read-only file system): choose a folder you "
                              f"can write to")
    assert mounted.snapshot(out) == earlier
    assert outside(space) == before


@needs_mounts
def test_a_full_disk_during_encoding_says_disk_full(space, drive):
    mounted = drive()
    out = os.path.join(mounted.path, "out")
    args = [{"4": "12", "64": "192"}.get(a, a) for a in QUICK]  # a video of some 30 KB
    succeeded(animate_on(mounted, space, *args, "--out", out, "--formats", "mp4,png"))
    earlier, before = mounted.snapshot(out), outside(space)

    def pages(size):
        return -(-size // 4096) * 4096
    blend_and_frames = sum(pages(entry[1]) for name, entry in earlier.items()
                           if name.endswith(".blend") or name.startswith("frames/"))
    video = earlier["preview.mp4"][1]
    room = blend_and_frames + 2 * 4096  # room for the .blend and the frames, with slack, but not the video
    assert video > 3 * 4096
    filler = os.path.join(mounted.path, "filler")
    assert mounted.inside(["fallocate", "-l", str(mounted.free_bytes() - room), filler]).returncode == 0
    done = animate_on(mounted, space, *args, "--out", out, "--formats", "mp4")
    assert done.returncode == 1, done.stderr[-3000:]
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("error: disk full: only ") and f"left on the drive of '{out}'" in line, line
    assert "codec" not in line and "[  render] done" in done.stderr  # it failed while encoding
    assert mounted.snapshot(out) == earlier
    assert outside(space) == before
