"""Talks to the backend process: starts it with the configured Python, frames requests, reads replies.

One backend is kept warm per Blender session and reused by later jobs; it ends when Blender quits (its stdin
closes), when the extension is disabled, or after the idle time set in the preferences. A backend that crashes,
hangs or talks nonsense is killed, and the next job starts a fresh one.
"""

import atexit
import collections
import json
import os
import subprocess
import threading
import time

from ...backend.errors import BackendCrashedError, BackendStartError, ProtocolError, from_kind
from ...backend.protocol import PROTOCOL_VERSION, read_message, write_message

EXTENSION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # addon/service/ -> root
REQUIREMENTS = os.path.join(EXTENSION_ROOT, "requirements", "backend.txt")
LOG_LINES = 40
PROBE_TIMEOUT_S = 120


def backend_environment():
    """The environment for the backend's Python: ours, minus anything that would make it load other packages."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    env["PYTHONPATH"] = EXTENSION_ROOT
    return env


def check_python_path(python):
    if not python:
        raise BackendStartError("No backend Python is set: choose it in Preferences > Add-ons > Image Dynamics, "
                                "or press Install Backend there")
    if not os.path.isfile(python):
        raise BackendStartError(f"The backend Python '{python}' does not exist: fix the path in "
                                f"Preferences > Add-ons > Image Dynamics")


def probe(python):
    """What the backend Python has (python version, packages, devices, memory), from `backend.probe`."""
    check_python_path(python)
    try:
        done = subprocess.run([python, "-m", "backend.probe"], cwd=EXTENSION_ROOT, env=backend_environment(),
                              capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except OSError as exc:
        raise BackendStartError(f"'{python}' could not be run: {exc.strerror}. Choose a Python interpreter "
                                f"in Preferences > Add-ons > Image Dynamics") from None
    except subprocess.TimeoutExpired:
        raise BackendStartError(f"'{python}' did not answer within {PROBE_TIMEOUT_S} s") from None
    lines = done.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackendStartError(f"'{python}' is not a Python 3 that can run the backend ({tail})") from None


def environment_problem(report, device="auto"):
    """The one thing to fix in a probe report, as a sentence for the user, or None when all is well."""
    python = report["executable"]
    if not report["python_ok"]:
        return (f"The backend Python is {report['python']}, but the backend needs {report['min_python']} or newer: "
                f"choose another interpreter in Preferences > Add-ons > Image Dynamics")
    missing = [name for name, version in report["packages"].items() if version is None]
    if missing:
        return (f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed for '{python}': "
                f"press Install Backend in the add-on preferences, or run "
                f"'{python} -m pip install -r {REQUIREMENTS}'")
    if device not in ("auto", "cpu") and device not in report["devices"]:
        return (f"Device '{device}' was chosen but the backend's torch only sees {', '.join(report['devices'])}: "
                f"choose Automatic or CPU in the add-on preferences")
    return None


class BackendClient:
    def __init__(self, python):
        self.python = python
        self.process = None
        self.info = {}
        self.log = collections.deque(maxlen=LOG_LINES)
        self.last_activity = time.monotonic()
        self._next_id = 0
        self._write_lock = threading.Lock()
        self._kill_reason = None

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None

    @property
    def ready(self):
        """Started and handshaken: from here on, silence means a hang, not a slow start."""
        return self.alive and bool(self.info)

    @property
    def pid(self):
        return self.process.pid if self.process is not None else None

    def start(self):
        check_python_path(self.python)
        self._kill_reason = None
        self.info = {}
        try:
            self.process = subprocess.Popen([self.python, "-m", "backend"], cwd=EXTENSION_ROOT,
                                            env=backend_environment(), stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise BackendStartError(f"Could not start the backend Python '{self.python}': {exc.strerror}") from None
        threading.Thread(target=self._drain_stderr, args=(self.process.stderr,), daemon=True).start()
        try:
            header, _ = self._request({"type": "hello", "protocol": PROTOCOL_VERSION})
        except (BackendCrashedError, ProtocolError) as exc:
            self.stop()
            raise BackendStartError(self._explain_start_failure(exc)) from None
        self.info = header
        return header

    def generate(self, job, arrays, on_progress=None, on_submitted=None):
        """Run one job; returns (meta, arrays). Blocks: call it from a worker thread to keep Blender responsive.

        `on_submitted(job_id)` is called once the request is sent, `on_progress(stage, fraction)` as it advances.
        """
        on_progress = on_progress or (lambda stage, fraction: None)
        if not self.alive:
            on_progress("starting the backend", 0.0)
            self.start()
        self._next_id += 1
        job_id = self._next_id
        header, result = self._request({"type": "generate", "id": job_id, "job": job}, arrays,
                                       on_progress=on_progress,
                                       on_submitted=(lambda: on_submitted(job_id)) if on_submitted else None)
        return header["meta"], result

    def cancel(self, job_id):
        try:
            self._send({"type": "cancel", "id": job_id})
        except OSError:
            pass  # already gone: nothing left to cancel

    def kill(self, reason):
        """End the process now; a reader waiting on it fails with `reason` in its message."""
        self._kill_reason = reason
        if self.alive:
            self.process.kill()

    def stop(self):
        if self.process is None:
            return
        try:
            if self.alive:
                self._send({"type": "shutdown"})
                self.process.stdin.close()
                self.process.wait(timeout=5)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.process = None

    def log_tail(self, lines=8):
        return "\n".join(list(self.log)[-lines:])

    def _send(self, header, arrays=None):
        with self._write_lock:  # a cancel from the UI thread must not cut into a request being written
            write_message(self.process.stdin, header, arrays)

    def _request(self, header, arrays=None, on_progress=None, on_submitted=None):
        process = self.process
        try:
            self._send(header, arrays)
            if on_submitted:
                on_submitted()
            while True:
                message = read_message(process.stdout)
                self.last_activity = time.monotonic()
                if message is None:
                    raise self._crashed("the backend ended in the middle of the job")
                reply, reply_arrays = message
                if reply["type"] == "progress":
                    if on_progress:
                        on_progress(reply.get("stage", ""), reply.get("fraction", 0.0))
                    continue
                if reply["type"] == "error":
                    raise from_kind(reply.get("kind"), reply.get("message", "unknown error"))
                return reply, reply_arrays
        except (OSError, ValueError):  # broken pipe, or the pipe closed under us by kill()
            raise self._crashed("the backend ended in the middle of the job") from None
        except ProtocolError as exc:
            raise self._crashed(f"the backend sent something that is not a protocol message ({exc.message})") \
                from None

    def _crashed(self, what):
        code = None
        if self.process is not None:
            try:
                code = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:  # alive but talking nonsense: it cannot be trusted any more
                self.process.kill()
                code = self.process.wait()
        self.process = None
        reason = self._kill_reason or what
        return BackendCrashedError(f"{reason} (exit code {code}). The next job starts a fresh backend. "
                                   f"Last backend log lines:\n{self.log_tail()}")

    def _explain_start_failure(self, exc):
        try:
            problem = environment_problem(probe(self.python))
        except BackendStartError as probe_error:
            problem = probe_error.message
        return problem or f"The backend did not start: {exc.message}"

    def _drain_stderr(self, stream):
        for line in iter(stream.readline, b""):
            self.log.append(line.decode("utf-8", "replace").rstrip())


_shared = None


def shared_client(python):
    """The session's warm backend client; a new one when the Python changed. It starts on its first job."""
    global _shared
    if _shared is None or _shared.python != python:
        stop_shared_client()
        _shared = BackendClient(python)
    return _shared


def current_client():
    return _shared


def stop_shared_client():
    global _shared
    if _shared is not None:
        _shared.stop()
        _shared = None


# When Blender quits, end the backend before Python does: its closed stdin ends it anyway, but a log-reading
# thread still blocked on its stderr would otherwise make the interpreter's own shutdown abort.
atexit.register(stop_shared_client)
