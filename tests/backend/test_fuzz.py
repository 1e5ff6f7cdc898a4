"""Random and mutated jobs and frames: the backend answers with a typed error or a valid result, never a crash
or a hang (hypothesis, bounded in time)."""

import copy
import io
import json
import os
import re
import struct
import subprocess
import sys
import threading

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.engine import run_job
from backend.errors import BackendError, JobSpecError, ProtocolError
from backend.jobspec import parse_job
from backend.protocol import MAGIC, read_message, write_message

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VALID = {"loop_frames": 4, "working_resolution": 16, "device": "cpu", "layers": [
    {"name": "w", "type": "fluid", "mask": {"rect": [0, 0.2, 1, 0.6]},
     "hints": [{"uv": [0.5, 0.4], "velocity": [1, 0]}]},
    {"name": "s", "type": "oscillation", "mask": {"rect": [0, 0.6, 1, 1]}, "terms": 2, "pins": [{"uv": [0.5, 0.7]}]},
    {"name": "d", "type": "drift", "mask": {"array": "m"}, "velocity": [0.5, 0.5]}]}
IMAGE = np.random.default_rng(0).random((12, 20, 3)).astype(np.float32)
ARRAYS = {"image": IMAGE, "m": np.ones((12, 20), np.float32)}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 6, 10 ** 6) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


def paths(data, prefix=()):
    """Every key path inside nested dicts and lists."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from paths(value, prefix + (index,))


@st.composite
def mutated_jobs(draw):
    job = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        mutate(draw, job, json_values, ["replace", "delete", "add"])
    return job


def mutate(draw, data, values, actions, grow_lists=False):
    """One change at a random place inside nested dicts and lists: a value replaced by one of `values`, a key or
    item deleted, or a key added (and with `grow_lists` an item appended to a list)."""
    path = draw(st.sampled_from(list(paths(data))[1:]))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(actions))
    if action == "replace":
        parent[path[-1]] = draw(values)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=8))] = draw(values)
    elif grow_lists:
        parent.append(draw(values))


unit = st.floats(0.0, 1.0)


@st.composite
def valid_jobs(draw):
    """Jobs inside every bound, with random values: they must all run and give finite motion."""
    layers = []
    for index in range(draw(st.integers(1, 3))):
        u0, v0 = draw(st.floats(0.0, 0.8)), draw(st.floats(0.0, 0.8))
        layer = {"name": f"l{index}", "mask": {"rect": [u0, v0, u0 + draw(st.floats(0.05, 0.2)),
                                                        v0 + draw(st.floats(0.05, 0.2))]},
                 "feather": draw(st.floats(0.0, 0.5)), "pin_falloff": draw(st.floats(0.0, 1.0)),
                 "edge_tolerance": draw(st.floats(0.01, 100.0)),
                 "pins": [{"uv": [draw(unit), draw(unit)], "radius": draw(st.floats(0.0, 0.3))}
                          for _ in range(draw(st.integers(0, 2)))]}
        kind = draw(st.sampled_from(["fluid", "drift", "oscillation"]))
        layer["type"] = kind
        if kind == "fluid":
            layer["hints"] = [{"uv": [draw(unit), draw(unit)],
                               "velocity": [draw(st.floats(-1000, 1000)), draw(st.floats(-1000, 1000))]}
                              for _ in range(draw(st.integers(1, 4)))]
        elif kind == "drift":
            layer["velocity"] = [draw(st.floats(-1000, 1000)), draw(st.floats(-1000, 1000))]
        else:
            layer.update(amplitude=draw(st.floats(0.0, 10000.0)), wind=draw(st.floats(-360, 360)),
                         terms=draw(st.integers(1, 16)), falloff=draw(st.floats(0.0, 6.0)),
                         scale=draw(st.floats(0.001, 2.0)), seed=draw(st.integers(0, 2 ** 31 - 1)))
        layers.append(layer)
    return {"loop_frames": draw(st.integers(2, 8)), "working_resolution": draw(st.integers(8, 32)),
            "device": "cpu", "layers": layers}


def run_bounded(job_data):
    """Parse, and run what is small enough to run quickly; any failure must be a typed BackendError."""
    try:
        job = parse_job(job_data)
    except JobSpecError:
        return
    if job.working_resolution > 32 or job.loop_frames > 8 or len(job.layers) > 3:
        return
    try:
        meta, result = run_job(job, IMAGE, ARRAYS, lambda stage, fraction: None)
    except BackendError:
        return
    for layer in meta["layers"]:
        assert all(np.isfinite(array).all() for name, array in result.items() if name.startswith(layer["prefix"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated_jobs(), json_values))
def test_jobs_get_a_typed_error_or_a_valid_result(job_data):
    run_bounded(job_data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_jobs())
def test_every_valid_job_runs_and_gives_finite_motion(job_data):
    job = parse_job(job_data)
    meta, result = run_job(job, IMAGE, ARRAYS, lambda stage, fraction: None)
    assert len(meta["layers"]) == len(job.layers)
    assert all(np.isfinite(array).all() for array in result.values())


def valid_frame():
    stream = io.BytesIO()
    write_message(stream, {"type": "generate", "id": 1, "job": VALID}, {"image": IMAGE[:2, :2]})
    return stream.getvalue()


@st.composite
def mutated_frames(draw):
    frame = bytearray(valid_frame())
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(frame) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            frame[position] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del frame[position:]
            if not frame:
                break
        else:
            frame[position:position] = draw(st.binary(min_size=1, max_size=8))
    return bytes(frame)


@settings(max_examples=300, deadline=None)
@given(st.one_of(mutated_frames(), st.binary(max_size=64),
                 st.builds(lambda body: MAGIC + struct.pack("<I", len(body)) + body, st.binary(max_size=64))))
def test_frames_get_a_protocol_error_or_a_message(raw):
    stream = io.BytesIO(raw)
    try:
        while read_message(stream) is not None:
            pass
    except ProtocolError:
        pass


def test_the_service_survives_garbage_and_bad_jobs_in_a_row():
    """A real process: bad jobs get typed errors and it serves on; a corrupt frame ends it with an error."""
    process = subprocess.Popen([sys.executable, "-m", "backend"], cwd=REPO, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        rng = np.random.default_rng(1)
        for index in range(10):
            job = json.loads(json.dumps(VALID))
            job["layers"][0]["hints"][0]["velocity"] = [float(rng.normal()) * 1e4, "fast"][index % 2]
            write_message(process.stdin, {"type": "generate", "id": index, "job": job}, ARRAYS)
            while True:
                header, _ = read_message(process.stdout)
                if header["type"] != "progress":
                    break
            assert header["type"] == "error" and header["kind"] == "JobSpecError" and header["id"] == index
        process.stdin.write(bytes(rng.integers(0, 256, 64, dtype=np.uint8)))
        process.stdin.flush()
        header, _ = read_message(process.stdout)
        assert header["kind"] == "ProtocolError"
        assert process.wait(timeout=10) != 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


# The service end to end, in this process: mutated types, shapes and nesting in a request's header must get an
# answer or end the service within a few seconds (a reader thread that died used to leave it waiting forever).
NEST = re.compile(rb'"@@nest(\d+)@@"')
hostile_values = st.one_of(
    json_values,
    st.integers(-(2 ** 70), 2 ** 70),
    st.sampled_from([2 ** 31, 2 ** 32, 2 ** 63, 2 ** 64, 10 ** 30, -1, True, False, None, 1.5, "float32", [], {}]),
    st.lists(st.sampled_from([0, 1, 2, 3, 2 ** 32, 2 ** 63, 10 ** 30, -1, True, 2.0, "3"]), max_size=10),
    st.integers(1, 12000).map(lambda depth: f"@@nest{depth}@@"),  # a list nested this deep, spliced in below
)


def request_header():
    return {"type": "generate", "id": 1, "job": copy.deepcopy(VALID),
            "arrays": [{"name": "image", "dtype": "float32", "shape": [2, 2, 3]},
                       {"name": "m", "dtype": "uint8", "shape": [2, 2]}]}


@st.composite
def mutated_requests(draw):
    header = request_header()
    for _ in range(draw(st.integers(1, 3))):
        mutate(draw, header, hostile_values, ["replace", "replace", "delete", "add"], grow_lists=True)
    encoded = NEST.sub(lambda m: b"[" * int(m[1]) + b"]" * int(m[1]),
                       json.dumps(header, separators=(",", ":")).encode())
    payload = np.zeros(12, np.float32).tobytes() + bytes(4)  # what the unmutated header declares
    return MAGIC + struct.pack("<I", len(encoded)) + encoded + payload


def hello_frame():
    stream = io.BytesIO()
    write_message(stream, {"type": "hello", "protocol": 1})
    return stream.getvalue()


def serve_bounded(raw, seconds=5.0):
    """Run the service on these bytes (then end of input); returns (exit code, replies) or fails on a hang."""
    from backend.service import serve
    replies, outcome = io.BytesIO(), []
    thread = threading.Thread(target=lambda: outcome.append(serve(io.BytesIO(raw), replies)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"the service neither answered nor ended within {seconds} s"
    replies.seek(0)
    messages = []
    while (message := read_message(replies)) is not None:  # every reply is a well-formed frame
        messages.append(message[0])
    return outcome[0], messages


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated_requests(), mutated_frames()), st.booleans())
def test_the_service_answers_or_ends_on_any_request(raw, then_hello):
    code, messages = serve_bounded(raw + (hello_frame() if then_hello else b""))
    finals = [m for m in messages if m["type"] != "progress"]
    if code == 3:  # a frame could not be read: one ProtocolError, last
        assert finals[-1]["type"] == "error" and finals[-1]["kind"] == "ProtocolError"
        assert "\n" not in finals[-1]["message"]
        return
    assert code == 0
    try:
        first = read_message(io.BytesIO(raw))
    except ProtocolError:
        return  # not a frame alone: the hello's bytes completed it
    silent = ("cancel", "shutdown")  # the only requests without an answer
    if first is not None and first[0]["type"] not in silent:
        assert finals and finals[0]["type"] in ("result", "error", "hello")
    if then_hello and (first is None or first[0]["type"] != "shutdown"):
        assert finals[-1]["type"] == "hello"  # read in step: the next request was understood
