"""Talks to the backend process: starts it with the configured Python, frames requests, reads replies.

One backend is kept warm per Blender session and reused by later jobs; it ends when Blender quits (its stdin
closes), when the extension is disabled, or after the idle time set in the preferences. A backend that crashes,
hangs or talks nonsense is killed, and the next job starts a fresh one.

With a Backend Command (e.g. `ssh gpu-box 'cd /opt/imgdyn && venv/bin/python -m backend'`) the same protocol runs
through that command's stdin and stdout, usually on another machine: the command must start the backend by itself
(we set no environment there), it runs in a process group of its own so that killing it leaves nothing behind
here, and a job that names a file on this computer is refused, since the other machine cannot open it.
"""

import atexit
import collections
import json
import os
import shlex
import signal
import subprocess
import threading
import time

from ...backend.errors import BackendCrashedError, BackendStartError, InputError, ProtocolError, from_kind
from ...backend.protocol import PROTOCOL_VERSION, TruncatedFrame, read_message, write_message
from ...layertypes import SpecError, layer_type

EXTENSION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # addon/service/ -> root
REQUIREMENTS = os.path.join(EXTENSION_ROOT, "requirements", "backend.txt")
LOG_LINES = 40
PROBE_TIMEOUT_S = 120


def command_environment():
    """The environment for a Backend Command: ours, minus what would make a Python it starts load Blender's."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}


def backend_environment():
    """The environment for the backend's Python: ours, minus anything that would make it load other packages."""
    return dict(command_environment(), PYTHONPATH=EXTENSION_ROOT)


def command_words(command):
    """The Backend Command split as a shell would (shlex), or BackendStartError when it cannot be."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise BackendStartError(f"The Backend Command cannot be read ({exc}): fix its quotes in "
                                f"Preferences > Add-ons > Image Dynamics") from None
    if not words:
        raise BackendStartError("The Backend Command is empty")
    return words


def local_files(job):
    """(layer name, parameter label, path) for each file a job's layers name (a clip, a model file)."""
    for layer in job.get("layers", ()):
        try:
            params = layer_type(layer.get("type")).params
        except SpecError:
            continue  # a wrong type: the job's checks name it
        for param in params:
            if param.kind == "path" and layer.get(param.key):
                yield layer.get("name", "?"), param.label, layer[param.key]


def refuse_local_files(job):
    """A backend on another machine cannot open this computer's files: say so before anything is sent."""
    for name, label, path in local_files(job):
        raise InputError(f"layer '{name}' names a file on this computer ({label}: {path}), which the backend "
                         f"behind the Backend Command cannot open: clear Backend Command in Preferences > Add-ons > "
                         f"Image Dynamics to compute this layer with the local backend")


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


def probe_through(command):
    """What the backend behind a Backend Command has: the probe's report, asked for in the protocol's hello (the
    command line is the user's, so nothing can be added to it)."""
    client = BackendClient("", command)
    timer = threading.Timer(PROBE_TIMEOUT_S, client.kill, args=(f"no answer within {PROBE_TIMEOUT_S} s",))
    timer.start()
    try:
        report = client.start(probe=True).get("probe")
    finally:
        timer.cancel()
        client.stop()
    if report is None:
        raise BackendStartError("The backend behind the Backend Command is older than this add-on and cannot be "
                                "checked: install this version's backend there")
    return report


def environment_problem(report, device="auto", remote=False):
    """The one thing to fix in a probe report, as a sentence for the user, or None when all is well."""
    python = report["executable"]
    if not report["python_ok"]:
        return (f"The backend Python is {report['python']}, but the backend needs {report['min_python']} or newer: "
                f"choose another interpreter in Preferences > Add-ons > Image Dynamics")
    missing = [name for name, version in report["packages"].items() if version is None]
    if missing and remote:
        return (f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed for '{python}' on the "
                f"backend's machine: install requirements/backend.txt there into that Python")
    if missing:
        return (f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed for '{python}': "
                f"press Install Backend in the add-on preferences, or run "
                f"'{python} -m pip install -r {REQUIREMENTS}'")
    if device not in ("auto", "cpu") and device not in report["devices"]:
        return (f"Device '{device}' was chosen but the backend's torch only sees {', '.join(report['devices'])}: "
                f"choose Automatic or CPU in the add-on preferences")
    return None


class BackendClient:
    def __init__(self, python, command=""):
        self.python = python
        self.command = command.strip()  # a Backend Command, or "" to start `python -m backend` here
        self.process = None
        self.info = {}
        self.log = collections.deque(maxlen=LOG_LINES)
        self.last_activity = time.monotonic()
        self._next_id = 0
        self._write_lock = threading.Lock()
        self._kill_reason = None
        self._stderr_reader = None

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

    def start(self, probe=False):
        """Start the backend and shake hands; `probe` asks the hello for the probe's report too."""
        self._kill_reason = None
        self.info = {}
        self.log.clear()
        if self.command:
            words = command_words(self.command)
            launch = {"env": command_environment(), "start_new_session": True}  # a group of its own, killed whole
        else:
            check_python_path(self.python)
            words = [self.python, "-m", "backend"]
            launch = {"env": backend_environment(), "cwd": EXTENSION_ROOT}
        try:
            self.process = subprocess.Popen(words, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, **launch)
        except OSError as exc:
            what = f"the Backend Command '{self.command}'" if self.command else f"the backend Python '{self.python}'"
            raise BackendStartError(f"Could not start {what}: {exc.strerror}") from None
        self._stderr_reader = threading.Thread(target=self._drain_stderr, args=(self.process.stderr,), daemon=True)
        self._stderr_reader.start()
        hello = {"type": "hello", "protocol": PROTOCOL_VERSION, **({"probe": True} if probe else {})}
        try:
            header, _ = self._request(hello, ended="the backend ended before it answered")
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
        if self.command:
            refuse_local_files(job)
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
            self._kill_process()

    def stop(self):
        if self.process is None:
            return
        try:
            if self.alive:
                self._send({"type": "shutdown"})
                self.process.stdin.close()
                self.process.wait(timeout=5)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            self._kill_process()
            self.process.wait()
        self._end_group()
        self.process = None

    def _kill_process(self):
        if self.command and hasattr(os, "killpg"):  # the command and what it started here (ssh and its helpers)
            self._end_group()
        else:
            self.process.kill()

    def _end_group(self):
        """Kill what is left of a Backend Command's process group. Safe once the command was reaped: a process
        group's number is not handed out again while any process is in it."""
        if self.command and self.process is not None and hasattr(os, "killpg"):  # (Windows has no groups)
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass  # nothing left

    def log_tail(self, lines=8):
        return "\n".join(list(self.log)[-lines:])

    def _send(self, header, arrays=None):
        with self._write_lock:  # a cancel from the UI thread must not cut into a request being written
            write_message(self.process.stdin, header, arrays)

    def _request(self, header, arrays=None, on_progress=None, on_submitted=None,
                 ended="the backend ended in the middle of the job"):
        process = self.process
        try:
            self._send(header, arrays)
            if on_submitted:
                on_submitted()
            while True:
                message = read_message(process.stdout)
                self.last_activity = time.monotonic()
                if message is None:
                    raise self._crashed(ended)
                reply, reply_arrays = message
                if reply["type"] == "progress":
                    if on_progress:
                        on_progress(reply.get("stage", ""), reply.get("fraction", 0.0))
                    continue
                if reply["type"] == "error":
                    raise from_kind(reply.get("kind"), reply.get("message", "unknown error"))
                return reply, reply_arrays
        except (OSError, ValueError, TruncatedFrame):  # a broken pipe, a pipe closed by kill(), a dropped connection
            raise self._crashed(ended) from None
        except ProtocolError as exc:
            raise self._crashed(f"the backend sent something that is not a protocol message ({exc.message})") \
                from None

    def _crashed(self, what):
        code = None
        if self.process is not None:
            try:
                code = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:  # alive but talking nonsense: it cannot be trusted any more
                self._kill_process()
                code = self.process.wait()
            self._end_group()
            if self._stderr_reader is not None:
                self._stderr_reader.join(timeout=2)  # its last words (a crash's, an ssh error) belong in the message
        self.process = None
        reason = self._kill_reason or what
        return BackendCrashedError(f"{reason} (exit code {code}). The next job starts a fresh backend. "
                                   f"Last backend log lines:\n{self.log_tail()}")

    def _explain_start_failure(self, exc):
        if self.command:  # nothing to probe here: what the command said is all there is
            return (f"The Backend Command '{self.command}' did not start the backend: {exc.message}\nRun it in a "
                    f"terminal: it must start the backend without asking anything (see 'Backend on another machine' "
                    f"in the README)")
        try:
            problem = environment_problem(probe(self.python))
        except BackendStartError as probe_error:
            problem = probe_error.message
        return problem or f"The backend did not start: {exc.message}"

    def _drain_stderr(self, stream):
        for line in iter(stream.readline, b""):
            self.log.append(line.decode("utf-8", "replace").rstrip())


_shared = None


def shared_client(python, command=""):
    """The session's warm backend client; a new one when the Python or the Backend Command changed. It starts on
    its first job."""
    global _shared
    if _shared is None or _shared.python != python or _shared.command != command.strip():
        stop_shared_client()
        _shared = BackendClient(python, command)
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
