"""Faults injected into a real backend process: each one reaches the user as a typed, readable error, the scene
keeps what it had (an earlier bake included), and the next job starts a fresh backend and succeeds.

The same faults run twice: with the backend started here (local) and through a Backend Command that reaches it
the way ssh would (remote: tests/addon/ssh_like.py, which runs it in a session and an environment of its own and
relays its pipes), plus what only a connection can do: drop in the middle of a job, or not connect at all."""

import json
import os
import shlex
import signal
import stat
import subprocess
import sys
import time

import bpy
import numpy as np
import pytest
from helpers import datablock_counts, node_tree_state, vertex_coords

from imgdyn import extension as dev_extension

HERE = os.path.dirname(os.path.abspath(__file__))
FAULTY = os.path.join(HERE, "faulty_backend.py")
SSH_LIKE = os.path.join(HERE, "ssh_like.py")
MODES = ("local", "remote")
# Faults of the connection itself (ssh_like.py's options); the backend behind it is the real one.
CONNECTION_FAULTS = {"drop": ["--drop-after", "2000"], "unreachable": ["--unreachable"]}


def preferences():
    return bpy.context.preferences.addons[dev_extension.MODULE].preferences


def faulty_python(folder, fault):
    """A stand-in for the backend Python that runs the faulty backend (and the real probe)."""
    real = dev_extension.default_backend_python()
    path = os.path.join(folder, f"python-{fault}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"""#!/bin/sh
if [ "$2" = "backend.probe" ]; then exec "{real}" "$@"; fi
IMAGEDYN_FAULT={fault} exec "{real}" "{FAULTY}"
""")
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    return path


def launch(mode, folder, fault=None):
    """(Backend Python, Backend Command) that run the backend, or the faulty one, here or through the ssh-like
    command. The remote command starts the backend by itself: it gets none of our environment."""
    real = dev_extension.default_backend_python()
    if mode == "local":
        return (faulty_python(folder, fault) if fault else real), ""
    if fault in (None, *CONNECTION_FAULTS):
        remote = f"cd {shlex.quote(dev_extension.REPO_ROOT)} && {shlex.quote(real)} -m backend"
    else:
        remote = f"IMAGEDYN_FAULT={fault} {shlex.quote(real)} {shlex.quote(FAULTY)}"
    words = [sys.executable, SSH_LIKE, "--remote-pids", os.path.join(folder, "connections"),
             *CONNECTION_FAULTS.get(fault, []), "gpu-box", remote]
    return "/nowhere/python", shlex.join(words)  # a remote job never needs the Backend Python


def use(mode, folder, fault=None):
    preferences().backend_python, preferences().backend_command = launch(mode, folder, fault)


def connections(folder):
    """(ssh-like pid, pid of the remote command's shell: its session) of each connection made so far."""
    path = os.path.join(folder, "connections")
    if not os.path.exists(path):
        return []
    with open(path, encoding="ascii") as handle:
        return [tuple(map(int, line.split())) for line in handle if line.strip()]


def process_state(pid):
    """(state letter, process group) of a process, or None when there is none."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields[0], int(fields[2])


def running(pid):
    state = process_state(pid)
    return state is not None and state[0] != "Z"  # a zombie has ended; its parent just did not look yet


def group_is_empty(pgid, seconds=10.0):
    """Whether every process of the group has ended (given a moment: a kill takes effect asynchronously)."""
    deadline = time.monotonic() + seconds
    while True:
        states = [process_state(name) for name in os.listdir("/proc") if name.isdigit()]
        members = [state for state in states if state is not None and state[0] != "Z" and state[1] == pgid]
        if not members or time.monotonic() > deadline:
            return not members
        time.sleep(0.1)


def still_running_after(pids, seconds=60.0):
    """The pids still running once each had up to `seconds` to end by itself (events, not a speed test)."""
    deadline = time.monotonic() + seconds
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if running(pid)]


@pytest.fixture
def remote_end(tmp_path):
    """The folder of a test's launchers; afterwards the session's backend is stopped and any remote backend still
    running is killed (a backend that hangs on another machine stays there until someone ends it)."""
    yield str(tmp_path)
    client = sys.modules.get(f"{dev_extension.MODULE}.addon.service.client")
    if client is not None:
        client.stop_shared_client()
    for _, session in connections(str(tmp_path)):
        if running(session):
            os.killpg(session, signal.SIGKILL)  # the remote command's shell and the backend it started


def scene_state(obj):
    key = obj.data.shape_keys
    return (datablock_counts(), node_tree_state(obj.active_material), obj.data.name,
            vertex_coords(obj.data).tobytes(), len(key.key_blocks) if key else 0)


FAULTS = [
    ("kill", r"ended in the middle of the job \(exit code {killed}\)"),
    ("crash", r"ended in the middle of the job \(exit code 70\)[\s\S]*simulated crash"),
    ("hang", r"stopped answering for 3 s"),
    ("garbage", "not a protocol message"),
    ("wrong_shape", "arrays of shape"),
]
REMOTE_FAULTS = [
    ("drop", r"ended in the middle of the job \(exit code 255\)[\s\S]*Connection to gpu-box closed"),
    ("unreachable", r"Backend Command .* did not start the backend[\s\S]*Connection refused"),
]


@pytest.mark.parametrize("mode, fault, words", [(mode, fault, words) for mode in MODES for fault, words in FAULTS]
                         + [("remote", fault, words) for fault, words in REMOTE_FAULTS])
def test_fault_is_reported_and_the_earlier_bake_survives(plane, remote_end, mode, fault, words):
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    before = scene_state(plane)
    use(mode, remote_end, fault)
    preferences().hang_timeout = 3.0
    started = time.monotonic()
    # a killed remote backend: its shell's 128 + 9 over ssh, or ssh's 255 when the shell ran it in its place
    with pytest.raises(RuntimeError, match=words.format(killed="-9" if mode == "local" else "(?:137|255)")):
        bpy.ops.image_dynamics.generate()
    assert time.monotonic() - started < 30
    assert scene_state(plane) == before
    use(mode, remote_end)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}  # a fresh backend (a fresh connection)
    if mode == "remote":
        *failed, (_, warm) = connections(remote_end)
        assert running(warm) and warm not in [pid for _, pid in failed]
        assert all(group_is_empty(local) for local, _ in failed)  # nothing of ours outlives the connection
        stranded = [pid for _, pid in failed] if fault == "hang" else []  # a hung backend cannot notice
        assert still_running_after([pid for _, pid in failed]) == stranded


@pytest.mark.parametrize("mode", MODES)
def test_a_job_reports_its_progress(plane, remote_end, mode):
    jobs = dev_extension.extension_module("addon.service.worker")
    use(mode, remote_end)
    seen = []
    listener = lambda label, stage, fraction: seen.append((stage, fraction))  # noqa: E731
    jobs.progress_listeners.append(listener)
    try:
        assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    finally:
        jobs.progress_listeners.remove(listener)
    fractions = [fraction for _, fraction in seen]
    assert len(seen) >= 3 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    backend = dev_extension.extension_module("addon.service.client").current_client()
    if mode == "remote":  # it went through the command, to a backend that is not our child
        [(local, remote)] = connections(remote_end)
        assert backend.pid == local and os.getsid(backend.info["pid"]) == remote != os.getsid(local)
    else:
        assert backend.info["pid"] == backend.pid


def test_python_without_torch_is_explained(plane):
    counts = datablock_counts()
    preferences().backend_python = sys.executable  # the Blender environment: numpy, but no torch or opencv
    with pytest.raises(RuntimeError,
                       match=r"opencv-contrib-python-headless, torch are not installed for .*Install Backend"):
        bpy.ops.image_dynamics.generate()
    assert datablock_counts() == counts


def test_absent_cuda_is_explained(plane):
    preferences().device = "cuda"
    with pytest.raises(RuntimeError, match="device 'cuda' was requested but this machine only has cpu"):
        bpy.ops.image_dynamics.generate()


def test_environment_problems_each_have_their_own_message():
    client = dev_extension.extension_module("addon.service.client")
    good = {"executable": "/py", "python": "3.11.7", "python_ok": True, "min_python": "3.10",
            "packages": {"numpy": "2", "opencv-contrib-python-headless": "5", "torch": "2.13"}, "devices": ["cpu"]}
    assert client.environment_problem(good) is None
    assert "needs 3.10 or newer" in client.environment_problem(dict(good, python="3.8.1", python_ok=False))
    assert "torch is not installed" in client.environment_problem(
        dict(good, packages=dict(good["packages"], torch=None)))
    assert "Device 'cuda' was chosen" in client.environment_problem(good, device="cuda")
    assert "torch is not installed for '/py' on the backend's machine: install requirements/backend.txt there" in \
        client.environment_problem(dict(good, packages=dict(good["packages"], torch=None)), remote=True)


def test_check_backend_shows_what_it_found(extension):
    assert bpy.ops.image_dynamics.check_backend() == {"FINISHED"}
    lines = dev_extension.extension_module("addon.preferences").last_check["lines"]
    assert any("torch 2.13.0" in line for line in lines) and any("Free memory" in line for line in lines)
    preferences().backend_python = sys.executable
    with pytest.raises(RuntimeError, match="torch are not installed"):
        bpy.ops.image_dynamics.check_backend()


def test_check_backend_asks_through_the_backend_command(extension, remote_end):
    use("remote", remote_end)
    assert bpy.ops.image_dynamics.check_backend() == {"FINISHED"}
    lines = dev_extension.extension_module("addon.preferences").last_check["lines"]
    assert lines[0].startswith("Through: ") and "ssh_like.py" in lines[0] and lines[-1] == "Ready"
    assert any("torch 2.13.0" in line for line in lines) and any("Free memory" in line for line in lines)
    [(local, remote)] = connections(remote_end)
    assert group_is_empty(local) and still_running_after([remote]) == []  # asked, then let go
    use("remote", remote_end, "unreachable")
    with pytest.raises(RuntimeError, match=r"did not start the backend[\s\S]*Connection refused[\s\S]*terminal"):
        bpy.ops.image_dynamics.check_backend()


def test_a_remote_backend_is_not_sent_this_computers_files(plane, remote_end, tmp_path):
    """A clip is a file here: the other machine cannot open it, so the job is refused before anything starts."""
    from test_clip_layer import write_clip
    layer = plane.image_dynamics.layers[0]
    layer.hints.clear()
    layer.layer_type, layer.clip_path = "CLIP", write_clip(str(tmp_path / "clip"))
    use("remote", remote_end)
    counts = datablock_counts()
    with pytest.raises(RuntimeError, match=r"layer 'river' names a file on this computer \(Clip: .*clip\), which "
                                           r"the backend behind the Backend Command cannot open: clear Backend "
                                           r"Command"):
        bpy.ops.image_dynamics.generate()
    assert datablock_counts() == counts and connections(remote_end) == []  # no connection was even made


def test_the_command_line_computes_through_a_backend_command(tmp_path, remote_end):
    from test_command_line_safety import QUICK
    from test_rendered_motion import textured_png
    picture = textured_png(str(tmp_path / "texture.png"), 96, 64)
    python, command = launch("remote", remote_end)
    done = subprocess.run([sys.executable, "-m", "imgdyn", "animate", picture, *QUICK, "--out", str(tmp_path / "out"),
                           "--backend-python", python, "--backend-command", command], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=dev_extension.REPO_ROOT), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp_path / "out" / "report.json", encoding="utf-8") as handle:
        assert json.load(handle)["job"]["layers"][0]["type"] == "drift"
    [(local, remote)] = connections(remote_end)  # the one backend it used, reached through the command
    assert group_is_empty(local) and still_running_after([remote]) == []


def long_job(frames, resolution):
    """One stream period as long as the loop: `frames` ages of the flow to integrate."""
    return {"loop_frames": frames, "working_resolution": resolution, "device": "cpu", "layers": [
        {"name": "w", "type": "fluid", "mask": {"rect": [0, 0, 1, 1]}, "phase_frames": frames,
         "hints": [{"uv": [0.5, 0.5], "velocity": [1, 0]}]}]}


def start_long_job(frames, resolution, label, python=None, command=""):
    """A job that runs for a while through the session's warm backend: (jobs module, client, job)."""
    jobs = dev_extension.extension_module("addon.service.worker")
    client = dev_extension.extension_module("addon.service.client").shared_client(
        python or dev_extension.default_backend_python(), command)
    image = np.zeros((resolution * 9 // 16, resolution, 3), np.float32)
    job = jobs.GenerateJob(client, long_job(frames, resolution), {"image": image}, 60.0, label).start()
    return jobs, client, job


@pytest.mark.parametrize("mode", MODES)
def test_cancel_stops_the_job_and_the_backend_is_ready_within_two_seconds(extension, remote_end, mode):
    _, client, job = start_long_job(5000, 256, "test", *launch(mode, remote_end))
    while job.fraction == 0.0 and not job.done:
        time.sleep(0.05)
    assert not job.done
    asked = time.monotonic()
    job.cancel()
    with pytest.raises(Exception, match="cancelled"):
        job.wait()
    meta, _ = client.generate(long_job(4, 256), {"image": np.zeros((8, 8, 3), np.float32)})
    assert time.monotonic() - asked < 2.0 and meta["loop_frames"] == 4


@pytest.mark.parametrize("mode", MODES)
def test_cancel_between_progress_reports_ends_the_backend(extension, remote_end, mode):
    """A backend deep in a step does not see a cancel until its next report: it is cut off after the grace period.
    Here that kills its process; remotely it closes the connection, and the remote job ends by itself at its next
    report, since nobody listens any more."""
    _, client, job = start_long_job(40, 64, "slow", *launch(mode, remote_end, "slow"))
    while job.fraction == 0.0 and not job.done:
        time.sleep(0.05)
    process = client.process
    job.cancel()
    with pytest.raises(Exception, match="the job was cancelled"):
        job.wait()
    assert process.poll() is not None and not client.alive
    if mode == "remote":
        [(local, remote)] = connections(remote_end)
        assert group_is_empty(local)
        assert still_running_after([remote]) == []


def test_a_second_generate_while_one_runs_is_refused(plane):
    jobs, client, job = start_long_job(3000, 128, "other")
    try:
        assert not bpy.ops.image_dynamics.generate.poll()
        with pytest.raises(Exception, match="still running"):
            jobs.GenerateJob(client, long_job(3000, 128), {}, 60.0, "again").start()
    finally:
        job.cancel()
        with pytest.raises(Exception):
            job.wait()


def test_twenty_jobs_through_one_warm_backend_keep_memory_flat(plane):
    client_module = dev_extension.extension_module("addon.service.client")

    def rss_kib(pid):
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))

    samples, pids = [], set()
    for run in range(20):
        assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
        client = client_module.current_client()
        pids.add(client.pid)
        if run in (4, 19):
            samples.append(rss_kib(client.pid))
    assert len(pids) == 1  # one warm backend served every job
    assert samples[1] - samples[0] < 40 * 1024, samples


def test_idle_backend_is_stopped(plane):
    addon = dev_extension.extension_module("addon")
    client_module = dev_extension.extension_module("addon.service.client")
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    client = client_module.current_client()
    process = client.process
    preferences().idle_timeout = 1.0
    addon._stop_idle_backend()
    assert client.alive  # used just now
    client.last_activity -= 61
    addon._stop_idle_backend()
    assert client_module.current_client() is None
    assert process.wait(timeout=10) == 0


def test_huge_image_is_reduced_before_it_is_sent(plane):
    image_node = plane.active_material.node_tree.nodes["Image Texture"]
    original = image_node.image
    huge = bpy.data.images.new("huge", 16384, 8192)
    image_node.image = huge
    try:
        assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
        assert tuple(huge.size) == (16384, 8192)  # the user's image is not scaled
        assert tuple(plane.image_dynamics.baked_working_size) == (48, 24)
        plane_module = dev_extension.extension_module("addon.plane")
        assert plane_module.ImagePlane(plane, plane.image_dynamics.source_mesh).image_pixels(96).shape == (48, 96, 4)
    finally:
        image_node.image = original
        bpy.data.images.remove(huge)
