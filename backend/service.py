"""The backend service: framed messages on stdin/stdout, one job at a time, cancellable.

Requests:  hello {protocol} | generate {id, job, arrays: image and masks} | cancel {id} | shutdown
Replies:   hello {protocol, backend_version, python, torch, devices} | progress {id, stage, fraction}
           | result {id, meta, arrays} | error {id, kind, message}
A frame that cannot be read is answered with a ProtocolError and ends the service: the stream can no longer
be trusted. The service also ends when stdin closes, so it never outlives Blender.
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
from .errors import BackendError, CancelledError, InternalError, JobSpecError, ProtocolError
from .jobspec import parse_job
from .protocol import PROTOCOL_VERSION, read_message, write_message

_END = object()


def serve(stdin, stdout):
    requests = queue.Queue()
    cancelled = threading.Event()
    current = {"id": None}

    def read_loop():
        # Reads ahead so a cancel reaches the running job; everything else waits its turn in the queue.
        try:
            while True:
                message = read_message(stdin)
                if message is None:
                    break
                header, arrays = message
                if header["type"] == "cancel" and header.get("id") == current["id"]:
                    cancelled.set()
                else:
                    requests.put((header, arrays))
        except ProtocolError as exc:
            requests.put(exc)
        requests.put(_END)

    threading.Thread(target=read_loop, daemon=True, name="protocol-reader").start()
    while True:
        item = requests.get()
        if item is _END:
            return 0
        if isinstance(item, ProtocolError):
            _send_error(stdout, None, item)
            return 3
        header, arrays = item
        kind = header["type"]
        if kind == "shutdown":
            return 0
        if kind == "hello":
            _hello(stdout, header)
        elif kind == "generate":
            current["id"] = header.get("id")
            cancelled.clear()
            _generate(stdout, header, arrays, cancelled)
            current["id"] = None
        elif kind != "cancel":  # a cancel for a job that already ended needs no answer
            _send_error(stdout, header.get("id"), ProtocolError(f"unknown message type {kind!r}"))


def _hello(stdout, header):
    if header.get("protocol") != PROTOCOL_VERSION:
        _send_error(stdout, None, ProtocolError(
            f"the add-on speaks protocol {header.get('protocol')!r} but this backend speaks {PROTOCOL_VERSION}; "
            f"update the add-on and the backend to the same version"))
        return
    write_message(stdout, {"type": "hello", "protocol": PROTOCOL_VERSION, "backend_version": __version__,
                           "python": platform.python_version(), "torch": torch.__version__,
                           "devices": available_devices(), "pid": os.getpid()})


def _generate(stdout, header, arrays, cancelled):
    job_id = header.get("id")

    def progress(stage, fraction):
        if cancelled.is_set():
            raise CancelledError("the job was cancelled")
        write_message(stdout, {"type": "progress", "id": job_id, "stage": stage, "fraction": round(fraction, 4)})

    try:
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
    code = serve(sys.stdin.buffer, protocol_out)
    # Exit at once: a normal interpreter shutdown aborts while the reader thread still blocks on stdin.
    protocol_out.flush()
    sys.stderr.flush()
    os._exit(code)
