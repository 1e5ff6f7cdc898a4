"""One backend job at a time, run in a worker thread so that Blender stays responsive.

The operator (or a script) starts a GenerateJob and polls it: it reports the stage and progress, can be
cancelled, and is killed when the backend stops answering for longer than the preferences allow.
"""

import threading
import time

from ...backend.errors import BackendError, InternalError

# After Cancel the backend gets this long to stop by itself before it is killed.
CANCEL_GRACE_S = 1.0
# A backend that is still starting (importing torch on a busy machine takes a while) gets at least this long.
START_TIMEOUT_S = 120.0

_active = None
# Callables (label, stage, fraction) told of every job's progress, from the worker thread: a command-line
# front end draws its progress bar with them.
progress_listeners = []


def active_job():
    """The job that is running now, or None."""
    return _active if _active is not None and not _active.done else None


def last_request():
    """The job (JSON data) last sent to the backend, as sent: what was computed. None before any."""
    return _active.request if _active is not None else None


def last_warnings():
    """The warnings of the last job's result (the backend's `warnings`), [] when it had none or failed."""
    result = _active.result if _active is not None else None
    return list(result[0].get("warnings", [])) if result else []


class GenerateJob:
    def __init__(self, client, job, arrays, hang_timeout_s, label):
        self.client = client
        self.label = label
        self.stage, self.fraction = "starting", 0.0
        self.result = self.error = None
        self._job, self._arrays = job, arrays
        self._hang_timeout_s = hang_timeout_s
        self._job_id = None
        self._cancel_asked_at = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="image-dynamics-job")

    @property
    def request(self):
        return self._job

    @property
    def done(self):
        return not self._thread.is_alive()

    @property
    def cancelled(self):
        return self._cancel_asked_at is not None

    def start(self):
        global _active
        if active_job() is not None:
            raise BackendError(f"A motion job for '{_active.label}' is still running: wait for it or cancel it")
        _active = self
        self.client.last_activity = time.monotonic()
        self._thread.start()
        return self

    def cancel(self):
        if self._cancel_asked_at is None:
            self._cancel_asked_at = time.monotonic()
            if self._job_id is not None:
                self.client.cancel(self._job_id)

    def watch(self):
        """Call often while the job runs: enforces the hang timeout and the cancel grace period."""
        if self.done:
            return
        now = time.monotonic()
        if self._cancel_asked_at is not None and now - self._cancel_asked_at > CANCEL_GRACE_S:
            self.client.kill("the job was cancelled")
        else:
            limit = self._hang_timeout_s if self.client.ready else max(self._hang_timeout_s, START_TIMEOUT_S)
            if now - self.client.last_activity > limit:
                self.client.kill(f"the backend stopped answering for {limit:.0f} s" if self.client.ready else
                                 f"the backend did not answer within {limit:.0f} s of starting")

    def wait(self, poll_s=0.05):
        """Block until the job ends (scripts and background mode); returns (meta, arrays) or raises."""
        while not self.done:
            self.watch()
            self._thread.join(poll_s)
        if self.error is not None:
            raise self.error
        return self.result

    def _submitted(self, job_id):
        self._job_id = job_id
        if self._cancel_asked_at is not None:  # cancelled while the backend was still starting
            self.client.cancel(job_id)

    def _progress(self, stage, fraction):
        self.stage, self.fraction = stage, fraction
        for listener in list(progress_listeners):
            listener(self.label, stage, fraction)

    def _run(self):
        try:
            self.result = self.client.generate(self._job, self._arrays, on_progress=self._progress,
                                               on_submitted=self._submitted)
        except BackendError as exc:
            self.error = exc
        except Exception as exc:  # a bug on our side must still end the job with a message
            self.error = InternalError(f"{type(exc).__name__}: {exc}")
        finally:
            self._arrays = None  # the image can be large: do not keep it after the job
