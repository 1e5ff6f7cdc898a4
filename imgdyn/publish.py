"""Where `imgdyn animate` writes, and how its outputs appear there.

The destination (`--out`) is checked and locked before any work: a file or an unwritable folder is one line, and
a second run into the same folder stops at once while the first holds the lock. Outputs are written to a hidden
staging folder INSIDE the destination, so publishing them is a rename on one filesystem (the destination may be
another drive than its parent). Publishing replaces the previous outputs of this tool (those its report.json
lists) and keeps every other file; it swaps the set as one unit and puts the previous one back if a rename fails.
Whatever happens, the staging folder and the lock go, and a destination this run created goes if it stays empty.
"""

import errno
import fcntl
import json
import os
import shutil
import tempfile

from . import written
from .layers import UsageError

STAGING_PREFIX = ".imgdyn-staging-"
LOCK_NAME = ".imgdyn-lock"
REPORT_NAME = "report.json"
REPLACED = ".replaced"  # inside the staging folder: the previous outputs while the new ones move in


def check_name(name):
    """The base name of the .blend: a plain file name, so that it stays inside --out."""
    separators = {"/", os.sep, os.altsep or "/", "\\", "\0"}
    if not name or name.startswith(".") or any(sep in name for sep in separators):
        raise UsageError(f"--name '{name}' must be a plain file name: no folders, '..', or leading '.'")
    return name


class Destination:
    """The output folder of one run: `open` before the work, `publish` at the end, `close` always."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.staging = None
        self._lock_fd = None
        self._created = []  # folders this run made, deepest last

    @classmethod
    def open(cls, path):
        destination = cls(path)
        try:
            destination._check_and_create()
            destination._lock()
            destination._sweep_stale_staging()
            destination.staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=destination.path)
        except OSError as exc:
            destination.close()
            raise UsageError(f"cannot write to --out '{destination.path}' ({exc.strerror}): choose a folder you "
                             f"can write to") from None
        except BaseException:
            destination.close()
            raise
        return destination

    def _check_and_create(self):
        if os.path.lexists(self.path) and not os.path.isdir(self.path):
            what = "a file" if os.path.isfile(self.path) else "not a folder"
            raise UsageError(f"--out '{self.path}' is {what}: choose a folder (new or existing)")
        missing, folder = [], self.path
        while not os.path.isdir(folder):
            if os.path.lexists(folder):
                raise UsageError(f"--out '{self.path}': '{folder}' is a file, not a folder: choose another --out")
            missing.append(folder)
            folder = os.path.dirname(folder)
        for folder in reversed(missing):
            try:
                os.mkdir(folder)
            except OSError as exc:
                raise UsageError(f"cannot create --out '{self.path}' ({exc.strerror}): choose a folder you can "
                                 f"write to") from None
            self._created.append(folder)

    def _lock(self):
        """Hold an exclusive lock on `--out/.imgdyn-lock` for the whole run; creating it also proves that the
        folder is writable."""
        lock_path = os.path.join(self.path, LOCK_NAME)
        for _ in range(10):
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise UsageError(f"cannot write to --out '{self.path}' ({exc.strerror}): choose a folder you can "
                                 f"write to") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_pid(fd)
                os.close(fd)
                raise UsageError(f"another imgdyn animate run{f' (pid {owner})' if owner else ''} is writing to "
                                 f"'{self.path}': wait for it to finish or choose another --out") from None
            except OSError as exc:
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    os.close(fd)
                    raise
                # A filesystem without locks: run unlocked rather than not at all.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(lock_path))
            except FileNotFoundError:
                same = False
            if same:  # (else the previous holder removed the file between our open and our lock: again)
                self._lock_fd = fd
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                return
            os.close(fd)
        raise UsageError(f"cannot lock '{lock_path}': another run keeps replacing it")

    def _sweep_stale_staging(self):
        """Staging folders of runs that were killed outright (SIGKILL, power loss): no run owns them while
        we hold the lock."""
        for entry in os.listdir(self.path):
            if entry.startswith(STAGING_PREFIX):
                shutil.rmtree(os.path.join(self.path, entry), ignore_errors=True)

    def publish(self, report):
        """Write report.json beside the staged outputs, then swap them in for the previous outputs."""
        with open(os.path.join(self.staging, REPORT_NAME), "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
        new = sorted(os.listdir(self.staging), key=lambda name: name == REPORT_NAME)  # the report last
        # The report first: a report.json in --out never lists files that are missing or half-replaced.
        old = [REPORT_NAME] + sorted((self._previous_outputs() | set(new)) - {REPORT_NAME})
        aside = os.path.join(self.staging, REPLACED)
        os.mkdir(aside)
        moved_old, moved_new = [], []
        try:
            for name in old:
                if os.path.lexists(os.path.join(self.path, name)):
                    os.rename(os.path.join(self.path, name), os.path.join(aside, name))  # a symlink moves as is
                    moved_old.append(name)
            for name in new:
                os.rename(os.path.join(self.staging, name), os.path.join(self.path, name))
                moved_new.append(name)
        except OSError:
            for name in reversed(moved_new):
                os.rename(os.path.join(self.path, name), os.path.join(self.staging, name))
            for name in reversed(moved_old):
                os.rename(os.path.join(aside, name), os.path.join(self.path, name))
            raise

    def _previous_outputs(self):
        """The names of the outputs the previous run's report.json lists (all of them sit directly in --out)."""
        try:
            with open(os.path.join(self.path, REPORT_NAME), "rb") as handle:
                outputs = json.loads(handle.read().decode("utf-8")).get("outputs", {})
        except (OSError, ValueError, AttributeError):
            return set()
        if not isinstance(outputs, dict):
            return set()
        names = {os.path.basename(os.path.normpath(path)) for path in outputs.values() if isinstance(path, str)}
        return {name for name in names if name and not name.startswith(".")}

    def explain(self, exc):
        """The one line for a failed run: a full disk says so, whatever the writer said (Blender's video writer
        blames the codec, its other writers say nothing and leave files cut short)."""
        free = written.free_bytes(self.staging or self.path)
        if (free is not None and free < written.NEARLY_FULL_BYTES) or getattr(exc, "errno", None) == errno.ENOSPC:
            return (f"disk full: only {(free or 0) / 1024:.0f} KiB left on the drive of '{self.path}': free some "
                    f"space or choose another --out, then run again")
        return _message(exc)

    def close(self, keep_created=False):
        """Remove the staging folder and the lock; a destination this run created goes if it is still empty."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        if self._lock_fd is not None:
            try:  # removed while still held: a run waiting on this file then sees it is stale (see _lock)
                os.unlink(os.path.join(self.path, LOCK_NAME))
            except OSError:
                pass
            os.close(self._lock_fd)
            self._lock_fd = None
        if not keep_created:
            for folder in reversed(self._created):
                try:
                    os.rmdir(folder)
                except OSError:
                    break
        self._created = []


def _read_pid(fd):
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None


def _message(exc):
    return str(exc).strip().removeprefix("Error: ") or type(exc).__name__
