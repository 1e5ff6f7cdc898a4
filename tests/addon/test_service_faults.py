"""Faults injected into a real backend process: each one reaches the user as a typed, readable error, the scene
keeps what it had (an earlier bake included), and the next job starts a fresh backend and succeeds."""

import os
import stat
import sys
import time

import bpy
import numpy as np
import pytest
from helpers import datablock_counts, node_tree_state, vertex_coords

from imgdyn import extension as dev_extension

FAULTY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "faulty_backend.py")


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


def scene_state(obj):
    key = obj.data.shape_keys
    return (datablock_counts(), node_tree_state(obj.active_material), obj.data.name,
            vertex_coords(obj.data).tobytes(), len(key.key_blocks) if key else 0)


@pytest.mark.parametrize("fault, words", [
    ("kill", r"ended in the middle of the job \(exit code -9\)"),
    ("crash", r"ended in the middle of the job \(exit code 70\)[\s\S]*simulated crash"),
    ("hang", r"stopped answering for 3 s"),
    ("garbage", "not a protocol message"),
    ("wrong_shape", "arrays of shape"),
])
def test_fault_is_reported_and_the_earlier_bake_survives(plane, tmp_path, fault, words):
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    before = scene_state(plane)
    preferences().backend_python = faulty_python(str(tmp_path), fault)
    preferences().hang_timeout = 3.0
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=words):
        bpy.ops.image_dynamics.generate()
    assert time.monotonic() - started < 30
    assert scene_state(plane) == before
    preferences().backend_python = dev_extension.default_backend_python()
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}


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


def test_check_backend_shows_what_it_found(extension):
    assert bpy.ops.image_dynamics.check_backend() == {"FINISHED"}
    lines = dev_extension.extension_module("addon.preferences").last_check["lines"]
    assert any("torch 2.13.0" in line for line in lines) and any("Free memory" in line for line in lines)
    preferences().backend_python = sys.executable
    with pytest.raises(RuntimeError, match="torch are not installed"):
        bpy.ops.image_dynamics.check_backend()


def long_job(frames, resolution):
    """One stream period as long as the loop: `frames` ages of the flow to integrate."""
    return {"loop_frames": frames, "working_resolution": resolution, "device": "cpu", "layers": [
        {"name": "w", "type": "fluid", "mask": {"rect": [0, 0, 1, 1]}, "phase_frames": frames,
         "hints": [{"uv": [0.5, 0.5], "velocity": [1, 0]}]}]}


def start_long_job(frames, resolution, label):
    """A job that runs for a while through the session's warm backend: (jobs module, client, job)."""
    jobs = dev_extension.extension_module("addon.service.worker")
    client = dev_extension.extension_module("addon.service.client").shared_client(
        dev_extension.default_backend_python())
    image = np.zeros((resolution * 9 // 16, resolution, 3), np.float32)
    job = jobs.GenerateJob(client, long_job(frames, resolution), {"image": image}, 60.0, label).start()
    return jobs, client, job


def test_cancel_stops_the_job_and_the_backend_is_ready_within_two_seconds(extension):
    _, client, job = start_long_job(5000, 256, "test")
    while job.fraction == 0.0 and not job.done:
        time.sleep(0.05)
    assert not job.done
    asked = time.monotonic()
    job.cancel()
    with pytest.raises(Exception, match="cancelled"):
        job.wait()
    meta, _ = client.generate(long_job(4, 256), {"image": np.zeros((8, 8, 3), np.float32)})
    assert time.monotonic() - asked < 2.0 and meta["loop_frames"] == 4


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
