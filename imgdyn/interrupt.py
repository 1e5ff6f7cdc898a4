"""Ctrl-C, SIGTERM and SIGHUP stop a headless run at the next safe point.

Cycles and Blender's operator calls swallow KeyboardInterrupt (a render goes on, an exception in a handler is
only printed), so the handler does not raise: it notes the signal, asks a running backend job to cancel, and
the run checks the note between frames and stages (`check`), then cleans up and exits with 128 + the signal.
"""

import signal
import sys
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_received = None


class Interrupted(Exception):
    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self):
        return 128 + self.signum


def install(job_module=None):
    """Handle the stop signals from now on; `job_module()` gives the add-on's jobs module (or None) so that a
    motion job in the backend can be cancelled at once instead of computing to its end."""
    def handler(signum, frame):
        global _received
        if _received is None:
            _received = signum
        jobs = job_module() if job_module else None
        job = jobs.active_job() if jobs is not None else None
        if job is not None:  # from a thread: the handler may run while this thread holds the client's lock
            threading.Thread(target=job.cancel, daemon=True).start()
    for signum in SIGNALS:
        signal.signal(signum, handler)


def received():
    """The signal that asked the run to stop, or None."""
    return _received


def check():
    """Raise Interrupted if a stop signal arrived."""
    if _received is not None:
        raise Interrupted(_received)


def jobs_module(module_name):
    """The add-on's jobs module once the extension is loaded (never imports it from the handler)."""
    return lambda: sys.modules.get(f"{module_name}.addon.service.worker")
