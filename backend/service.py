"""The backend service: framed messages on stdin/stdout, one job at a time, cancellable.

Requests:  hello {protocol, probe?} | generate {id, job, arrays: image and masks} | cancel {id} | shutdown
Replies:   hello {protocol, backend_version, python, torch, devices, pid, probe?} | progress {id, stage, fraction}
           | result {id, meta, arrays} | error {id, kind, message}
A frame that cannot be read is answered with a ProtocolError and ends the service: the stream can no longer
be trusted, so the running job and those queued are cancelled. The service also ends when stdin closes (after the
job it runs), so it never outlives Blender. A cancel reaches a queued job too: it answers Cancelled, unrun.
"""

import os
import platform
import queue
import sys
import threading
import traceback

import torch

from . import __version__
from .device import available_devices
from .engine import run_job
from .errors import BackendError, CancelledError, InputError, InternalError, JobSpecError, ProtocolError
from .jobspec import parse_job
from .limits import check_image_size
from .probe import probe
from .protocol import PROTOCOL_VERSION, payload_bytes, read_arrays, read_header, skip_arrays, write_message

_END = object()
# While a job runs, the requests read ahead (so that a cancel can reach it) may hold at most this much; a larger
# one is refused from its header and its bytes are passed over unread, so memory stays bounded.
READ_AHEAD_BYTES = 256 * 1024 ** 2


class _Requests:
    """What the reader thread and the job loop share, under one lock: the running request and those queued."""

    def __init__(self):
        self.lock = threading.Lock()
        self.queue = queue.Queue()
        self.running = None
        self.pending = []

    def admit(self, header, specs, header_bytes):
        """The record of a request about to be read, or an error that refuses it from its header alone."""
        size = header_bytes + payload_bytes(specs)
        image = next((spec["shape"] for spec in specs if spec["name"] == "image"), None)
        if header["type"] == "generate" and image is not None and len(image) >= 2:
            try:
                check_image_size(image[1], image[0])
            except InputError as exc:
                return {"header": header, "error": exc}
        with self.lock:
            held = sum(record["bytes"] for record in self.pending)
            if (self.running is not None or self.pending) and held + size > READ_AHEAD_BYTES:
                return {"header": header, "error": InputError(
                    f"the backend is busy and keeps at most {READ_AHEAD_BYTES >> 20} MiB of requests waiting; this "
                    f"one has {size / 2 ** 20:.0f} MiB: send it when the running job has ended")}
            record = {"header": header, "bytes": size, "cancel": threading.Event()}
            self.pending.append(record)
            return record

    def cancel(self, job_id):
        """Cancel the running job or a queued one with this id; a job that ended needs nothing."""
        with self.lock:
            for record in [self.running] + self.pending:
                if record is not None and record["header"]["type"] == "generate" \
                        and record["header"].get("id") == job_id:
                    record["cancel"].set()

    def cancel_all(self):
        with self.lock:
            for record in [self.running] + self.pending:
                if record is not None:
                    record["cancel"].set()

    def start(self, record):
        with self.lock:
            if record in self.pending:
                self.pending.remove(record)
            self.running = record

    def done(self):
        with self.lock:
            self.running = None


def serve(stdin, stdout):
    requests = _Requests()

    def read_loop():
        # Reads ahead so a cancel reaches the running job; everything else waits its turn in the queue. Whatever
        # goes wrong here ends the service with a ProtocolError: a reader that died would leave it deaf for good.
        failure = None
        try:
            while True:
                read = read_header(stdin)
                if read is None:
                    break
                header, specs, header_bytes = read
                if header["type"] == "cancel":
                    skip_arrays(stdin, specs)
                    requests.cancel(header.get("id"))
                    continue
                record = requests.admit(header, specs, header_bytes)
                if "error" in record:
                    requests.queue.put(record)  # answered now, before its bytes are passed over
                    skip_arrays(stdin, specs)
                else:
                    record["arrays"] = read_arrays(stdin, specs)
                    requests.queue.put(record)
        except ProtocolError as exc:
            failure = exc
        except BaseException as exc:  # MemoryError, or a bug: still an answer and an exit, never a silent reader
            text = " ".join(str(exc).split())[:200]  # one line
            failure = ProtocolError(f"the backend could not read a request ({type(exc).__name__}: {text})")
        if failure is not None:
            requests.cancel_all()  # the stream cannot be trusted: what was asked before it is not run either
            requests.queue.put(failure)
        requests.queue.put(_END)

    threading.Thread(target=read_loop, daemon=True, name="protocol-reader").start()
    while True:
        item = requests.queue.get()
        if item is _END:
            return 0
        if isinstance(item, ProtocolError):
            _send_error(stdout, None, item)
            return 3
        header = item["header"]
        if "error" in item:
            _send_error(stdout, header.get("id"), item["error"])
            continue
        requests.start(item)
        try:
            kind = header["type"]
            if kind == "shutdown":
                return 0
            if kind == "hello":
                _hello(stdout, header)
            elif kind == "generate":
                _generate(stdout, header, item.pop("arrays"), item["cancel"])
            elif kind != "cancel":
                _send_error(stdout, header.get("id"), ProtocolError(f"unknown message type {kind!r}"))
        finally:
            requests.done()


def _hello(stdout, header):
    if header.get("protocol") != PROTOCOL_VERSION:
        _send_error(stdout, None, ProtocolError(
            f"the add-on speaks protocol {header.get('protocol')!r} but this backend speaks {PROTOCOL_VERSION}; "
            f"update the add-on and the backend to the same version"))
        return
    reply = {"type": "hello", "protocol": PROTOCOL_VERSION, "backend_version": __version__,
             "python": platform.python_version(), "torch": torch.__version__, "devices": available_devices(),
             "pid": os.getpid()}
    if header.get("probe") is True:  # Check Backend through a Backend Command: the probe's report, over the wire
        reply["probe"] = probe()
    write_message(stdout, reply)


def _generate(stdout, header, arrays, cancelled):
    job_id = header.get("id")

    def progress(stage, fraction):
        if cancelled.is_set():
            raise CancelledError("the job was cancelled")
        write_message(stdout, {"type": "progress", "id": job_id, "stage": stage, "fraction": round(fraction, 4)})

    try:
        if cancelled.is_set():  # cancelled while it waited in the queue: it never runs
            raise CancelledError("the job was cancelled before it started")
        job = parse_job(header.get("job"))
        for index, layer in enumerate(job.layers):
            for kind, spec in layer.masks():
                if spec.image is not None:  # the service reads no files
                    raise JobSpecError(f"job.layers[{index}].{kind}.image: file paths are not accepted by the "
                                       f"service; send the {kind.replace('_', ' ')} as an array")
        if "image" not in arrays:
            raise ProtocolError("a generate request must carry an array named 'image'")
        meta, result = run_job(job, arrays["image"], arrays, progress)
    except BackendError as exc:
        _send_error(stdout, job_id, exc)
        return
    except OSError:
        raise  # stdout is gone (Blender ended): nothing to report to
    except Exception as exc:  # a bug: report it typed, with the trace on stderr for the log
        traceback.print_exc(file=sys.stderr)
        _send_error(stdout, job_id, InternalError(f"{type(exc).__name__}: {exc}"))
        return
    write_message(stdout, {"type": "result", "id": job_id, "meta": meta}, result)


def _send_error(stdout, job_id, error):
    write_message(stdout, {"type": "error", "id": job_id, "kind": error.kind, "message": error.message})


def main():
    # The protocol owns the real stdout; anything else printed (by us or a library) goes to stderr.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    try:
        code = serve(sys.stdin.buffer, protocol_out)
    except OSError as exc:  # the other end closed our stdout: it no longer listens
        print(f"the protocol's output closed ({exc}); exiting", file=sys.stderr)
        code = 4
    # Exit at once: a normal interpreter shutdown aborts while the reader thread still blocks on stdin.
    protocol_out.flush()
    sys.stderr.flush()
    os._exit(code)
