"""The backend as a real process: handshake, a job, typed errors, cancel, and ending with its stdin."""

import io
import json
import os
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

from backend import service as service_module
from backend.protocol import MAGIC, PROTOCOL_VERSION, read_message, write_message

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JOB = {"loop_frames": 8, "working_resolution": 32, "device": "cpu", "layers": [
    {"name": "water", "type": "fluid", "mask": {"rect": [0.0, 0.0, 1.0, 0.5]},
     "hints": [{"uv": [0.5, 0.25], "velocity": [1.0, 0.0]}]}]}
IMAGE = np.random.default_rng(0).random((24, 40, 3)).astype(np.float32)
# Several seconds of work on an idle core (400 Euler sub-steps per age): still running when a cancel comes.
LONG_JOB = dict(JOB, loop_frames=4000, working_resolution=256, layers=[
    dict(JOB["layers"][0], hints=[{"uv": [0.5, 0.25], "velocity": [400.0, 0.0]}])])
LONG_IMAGE = np.random.default_rng(1).random((144, 256, 3)).astype(np.float32)


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


def test_hello_with_probe_carries_the_probe_report(service):
    send(service, {"type": "hello", "protocol": PROTOCOL_VERSION})
    plain, _ = read_message(service.stdout)
    send(service, {"type": "hello", "protocol": PROTOCOL_VERSION, "probe": True})
    probed, _ = read_message(service.stdout)
    assert "probe" not in plain  # a job's hello does not pay for the probe
    report = probed["probe"]
    assert report["executable"] == sys.executable and report["python_ok"]
    assert report["packages"]["torch"] == probed["torch"] and report["devices"] == probed["devices"]


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
    send(service, {"type": "generate", "id": 2, "job": LONG_JOB}, {"image": LONG_IMAGE})
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


def raw_frame(header_bytes):
    return MAGIC + struct.pack("<I", len(header_bytes)) + header_bytes


def image_frame(shape, dtype="float32"):
    header = {"type": "generate", "id": 9, "job": JOB, "arrays": [{"name": "image", "dtype": dtype, "shape": shape}]}
    return raw_frame(json.dumps(header).encode())


# The frames that killed the reader thread (issue 18): the service must answer and exit, with stdin still open.
KILLERS = {
    "dtype as a list": raw_frame(json.dumps({"type": "generate", "id": 9, "arrays": [
        {"name": "image", "dtype": ["float32"], "shape": [1]}]}).encode()),
    "unhashable name": raw_frame(json.dumps({"type": "generate", "id": 9, "arrays": [
        {"name": {"a": 1}, "dtype": "float32", "shape": [1]}]}).encode()),
    "wrapping shape": image_frame([2 ** 32, 2 ** 32]),
    "shape 2**63": image_frame([2 ** 63]),
    "shape 10**30": image_frame([10 ** 30]),
    "boolean shape": image_frame([True, True, 3]),
    "nested 10,000 deep": raw_frame(b'{"type": "hello", "x": ' + b"[" * 10000 + b"]" * 10000 + b"}"),
}


@pytest.mark.parametrize("case", sorted(KILLERS))
def test_malformed_headers_get_a_protocol_error_and_the_service_exits(service, case):
    service.stdin.write(KILLERS[case])
    service.stdin.flush()  # stdin stays open: the service must end by itself
    header, _ = read_message(service.stdout)
    assert header["type"] == "error" and header["kind"] == "ProtocolError" and "malformed frame" in header["message"]
    assert service.wait(timeout=15) == 3


def test_any_reader_failure_is_a_protocol_error_and_an_exit(monkeypatch):
    """A fault injected into the reader thread (memory running out while an array is read): the service still
    answers and returns, it does not wait forever on a reader that died."""
    def no_memory(stream, specs):
        raise MemoryError()
    monkeypatch.setattr(service_module, "read_arrays", no_memory)
    requests, replies = io.BytesIO(), io.BytesIO()
    write_message(requests, {"type": "generate", "id": 5, "job": JOB}, {"image": IMAGE})
    requests.seek(0)
    assert service_module.serve(requests, replies) == 3
    replies.seek(0)
    header, _ = read_message(replies)
    assert header["kind"] == "ProtocolError" and "MemoryError" in header["message"]
    assert read_message(replies) is None


def test_a_huge_image_is_refused_from_its_header(service):
    """30000 x 20000 declared: refused before a byte of it is sent (none ever is), and the one-line answer names
    the size. The stream then ends mid-frame, which is the ProtocolError that ends the service."""
    service.stdin.write(image_frame([20000, 30000, 3], "uint8"))
    service.stdin.flush()
    header, _ = read_message(service.stdout)
    assert header["id"] == 9 and header["kind"] == "InputError" and "30000x20000" in header["message"]
    service.stdin.close()
    header, _ = read_message(service.stdout)
    assert header["kind"] == "ProtocolError" and "truncated" in header["message"]
    assert service.wait(timeout=15) == 3


def rss_bytes(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        return next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmRSS:"))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the service's memory from /proc")
def test_read_ahead_is_bounded_while_a_job_runs(service):
    """While a job runs, a queued request with a 1 GiB image is refused from its header; its bytes are passed over
    unread (the service stays small while they stream in), and the stream stays in step for what follows."""
    send(service, {"type": "generate", "id": 2, "job": LONG_JOB}, {"image": LONG_IMAGE})
    assert read_message(service.stdout)[0]["type"] == "progress"
    before = rss_bytes(service.pid)
    service.stdin.write(image_frame([8192, 8192, 4]))  # float32: 1 GiB declared
    chunk = bytes(1 << 24)
    for _ in range((1 << 30) // len(chunk)):
        service.stdin.write(chunk)
    service.stdin.flush()
    grown = rss_bytes(service.pid) - before
    send(service, {"type": "cancel", "id": 2})
    header, _, _ = receive_until_final(service)
    assert header["kind"] == "Cancelled" and header["id"] == 2
    header, _, _ = receive_until_final(service)
    assert header["id"] == 9 and header["kind"] == "InputError" and "busy" in header["message"]
    assert grown < 200 * 1024 ** 2, f"the service grew by {grown >> 20} MiB while 1 GiB streamed past it"
    send(service, {"type": "generate", "id": 3, "job": JOB}, {"image": IMAGE})
    assert receive_until_final(service)[0]["type"] == "result"


def test_a_cancel_for_a_queued_job_is_honoured(service):
    send(service, {"type": "generate", "id": 2, "job": LONG_JOB}, {"image": LONG_IMAGE})
    assert read_message(service.stdout)[0]["type"] == "progress"
    send(service, {"type": "generate", "id": 3, "job": JOB}, {"image": IMAGE})
    send(service, {"type": "cancel", "id": 3})  # queued behind job 2
    send(service, {"type": "cancel", "id": 2})
    header, _, _ = receive_until_final(service)
    assert header["kind"] == "Cancelled" and header["id"] == 2
    header, _, progress = receive_until_final(service)
    assert header == {"type": "error", "id": 3, "kind": "Cancelled",
                      "message": "the job was cancelled before it started"}
    assert progress == []  # it never ran
    send(service, {"type": "generate", "id": 4, "job": JOB}, {"image": IMAGE})
    assert receive_until_final(service)[0]["type"] == "result"
