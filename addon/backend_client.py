"""Talks to the backend process: starts it with the configured Python, frames requests, reads replies.

One backend is kept warm per Blender session and reused by later jobs; it ends when Blender quits (its stdin
closes) or when the extension is disabled.
"""

import collections
import os
import subprocess
import threading

from ..backend.errors import BackendCrashedError, BackendStartError, ProtocolError, from_kind
from ..backend.protocol import PROTOCOL_VERSION, read_message, write_message

EXTENSION_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG_LINES = 40


class BackendClient:
    def __init__(self, python):
        self.python = python
        self.process = None
        self.info = {}
        self.log = collections.deque(maxlen=LOG_LINES)
        self._next_id = 0

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None

    def start(self):
        if not self.python:
            raise BackendStartError("No backend Python is set: choose it in Preferences > Add-ons > Image Dynamics")
        if not os.path.isfile(self.python):
            raise BackendStartError(f"The backend Python '{self.python}' does not exist: fix the path in "
                                    f"Preferences > Add-ons > Image Dynamics")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
        env["PYTHONPATH"] = EXTENSION_ROOT
        try:
            self.process = subprocess.Popen([self.python, "-m", "backend"], cwd=EXTENSION_ROOT, env=env,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise BackendStartError(f"Could not start the backend Python '{self.python}': {exc.strerror}") from None
        threading.Thread(target=self._drain_stderr, args=(self.process.stderr,), daemon=True).start()
        try:
            header, _ = self._request({"type": "hello", "protocol": PROTOCOL_VERSION})
        except BackendCrashedError as exc:
            self.stop()
            raise BackendStartError(f"The backend did not start: {exc.message}") from None
        self.info = header
        return header

    def generate(self, job, arrays, on_progress=None):
        """Run one job; returns (meta, arrays). `on_progress(stage, fraction)` is called as the job advances."""
        if not self.alive:
            self.start()
        self._next_id += 1
        job_id = self._next_id
        header, result = self._request({"type": "generate", "id": job_id, "job": job}, arrays,
                                       on_progress=on_progress)
        return header["meta"], result

    def stop(self):
        if self.process is None:
            return
        try:
            if self.alive:
                write_message(self.process.stdin, {"type": "shutdown"})
                self.process.stdin.close()
                self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.process = None

    def log_tail(self, lines=8):
        return "\n".join(list(self.log)[-lines:])

    def _request(self, header, arrays=None, on_progress=None):
        try:
            write_message(self.process.stdin, header, arrays)
            while True:
                message = read_message(self.process.stdout)
                if message is None:
                    raise self._crashed("the backend closed its output")
                reply, reply_arrays = message
                if reply["type"] == "progress":
                    if on_progress:
                        on_progress(reply["stage"], reply["fraction"])
                    continue
                if reply["type"] == "error":
                    raise from_kind(reply.get("kind"), reply.get("message", "unknown error"))
                return reply, reply_arrays
        except (BrokenPipeError, ProtocolError) as exc:
            raise self._crashed(str(exc)) from None

    def _crashed(self, what):
        code = None
        if self.process is not None:
            try:
                code = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:  # alive but talking nonsense: it cannot be trusted any more
                self.process.kill()
                code = self.process.wait()
        self.process = None
        return BackendCrashedError(f"{what} (exit code {code}). Last backend log lines:\n{self.log_tail()}")

    def _drain_stderr(self, stream):
        for line in iter(stream.readline, b""):
            self.log.append(line.decode("utf-8", "replace").rstrip())


_shared = None


def shared_client(python):
    """The session's warm backend, (re)started when it is not running or the Python changed."""
    global _shared
    if _shared is None or _shared.python != python or not _shared.alive:
        stop_shared_client()
        _shared = BackendClient(python)
        _shared.start()
    return _shared


def stop_shared_client():
    global _shared
    if _shared is not None:
        _shared.stop()
        _shared = None
