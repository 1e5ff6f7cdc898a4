"""The backend as a real process: handshake, a job, typed errors, cancel, and ending with its stdin."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from backend.protocol import PROTOCOL_VERSION, read_message, write_message

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JOB = {"loop_frames": 8, "working_resolution": 32, "device": "cpu", "layers": [
    {"name": "water", "type": "fluid", "mask": {"rect": [0.0, 0.0, 1.0, 0.5]},
     "hints": [{"uv": [0.5, 0.25], "velocity": [1.0, 0.0]}]}]}
IMAGE = np.random.default_rng(0).random((24, 40, 3)).astype(np.float32)


@pytest.fixture
def service():
    process = subprocess.Popen([sys.executable, "-m", "backend"], cwd=REPO, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        stream.close()


def send(process, header, arrays=None):
    write_message(process.stdin, header, arrays)


def receive_until_final(process):
    progress = []
    while True:
        header, arrays = read_message(process.stdout)
        if header["type"] != "progress":
            return header, arrays, progress
        progress.append(header)


def test_handshake_and_generate(service):
    send(service, {"type": "hello", "protocol": PROTOCOL_VERSION})
    hello, _ = read_message(service.stdout)
    assert hello["type"] == "hello" and hello["protocol"] == PROTOCOL_VERSION and "cpu" in hello["devices"]
    send(service, {"type": "generate", "id": 1, "job": JOB}, {"image": IMAGE})
    header, arrays, progress = receive_until_final(service)
    assert header["type"] == "result" and header["id"] == 1, header
    assert header["meta"]["device"] == "cpu"
    assert arrays["layer0_lookup"].shape == (9, 19, 32, 2)  # 8 frames: one phase period, ages -4..4
    assert progress and progress[-1]["fraction"] == 1.0
    assert any("integrating 8 ages of the flow" in p["stage"] for p in progress)


def test_unknown_job_key_is_a_typed_error_and_the_service_goes_on(service):
    send(service, {"type": "generate", "id": 7, "job": dict(JOB, colour="blue")}, {"image": IMAGE})
    header, _, _ = receive_until_final(service)
    assert header == {"type": "error", "id": 7, "kind": "JobSpecError",
                      "message": header["message"]} and "'colour'" in header["message"]
    send(service, {"type": "generate", "id": 8, "job": JOB}, {"image": IMAGE})
    assert receive_until_final(service)[0]["type"] == "result"


def test_wrong_protocol_version_is_refused(service):
    send(service, {"type": "hello", "protocol": 999})
    header, _ = read_message(service.stdout)
    assert header["kind"] == "ProtocolError" and "999" in header["message"]


def test_malformed_frame_gets_a_typed_error_then_the_service_ends(service):
    service.stdin.write(b"GARBAGE!GARBAGE!")
    service.stdin.flush()
    header, _ = read_message(service.stdout)
    assert header["type"] == "error" and header["kind"] == "ProtocolError" and "magic" in header["message"]
    assert service.wait(timeout=10) != 0


def test_service_exits_when_stdin_closes(service):
    send(service, {"type": "hello", "protocol": PROTOCOL_VERSION})
    read_message(service.stdout)
    service.stdin.close()
    assert service.wait(timeout=10) == 0


def test_cancel_stops_a_running_job_and_the_next_one_runs(service):
    long_job = dict(JOB, loop_frames=4000, working_resolution=256)
    send(service, {"type": "generate", "id": 2, "job": long_job}, {"image": IMAGE})
    header, _ = read_message(service.stdout)
    assert header["type"] == "progress"
    asked = time.monotonic()
    send(service, {"type": "cancel", "id": 2})
    header, _, _ = receive_until_final(service)
    assert header["kind"] == "Cancelled" and header["id"] == 2
    assert time.monotonic() - asked < 2.0
    send(service, {"type": "generate", "id": 3, "job": JOB}, {"image": IMAGE})
    assert receive_until_final(service)[0]["type"] == "result"


def test_shutdown_request_ends_the_service_cleanly(service):
    send(service, {"type": "hello", "protocol": PROTOCOL_VERSION})
    read_message(service.stdout)
    send(service, {"type": "shutdown"})
    assert service.wait(timeout=10) == 0


def test_the_service_reads_no_files_named_in_a_job(service):
    job = dict(JOB, layers=[dict(JOB["layers"][0], mask={"image": "/etc/passwd"})])
    send(service, {"type": "generate", "id": 4, "job": job}, {"image": IMAGE})
    header, _, _ = receive_until_final(service)
    assert header["kind"] == "JobSpecError" and "file paths are not accepted" in header["message"]
