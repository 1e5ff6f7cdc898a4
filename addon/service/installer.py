"""Create the backend's Python environment: a venv from a chosen Python, then pip install of the pinned
requirements, with a log. Running it again when the environment is current does nothing."""

import os
import shutil
import subprocess
import sys
import threading

from .client import REQUIREMENTS

STAMP = ".image-dynamics-requirements"


def default_base_python():
    return shutil.which("python3.11") or shutil.which("python3") or ""


def env_python(location):
    if sys.platform == "win32":
        return os.path.join(location, "Scripts", "python.exe")
    return os.path.join(location, "bin", "python")


class BackendInstaller:
    def __init__(self, base_python, location, requirements=REQUIREMENTS):
        self.base_python, self.location, self.requirements = base_python, location, requirements
        self.python = env_python(location)
        self.log_path = os.path.join(location, "install.log")
        self.stage, self.last_line = "starting", ""
        self.error = None
        self.already_current = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="image-dynamics-install")

    @property
    def done(self):
        return not self._thread.is_alive()

    def is_current(self):
        stamp = os.path.join(self.location, STAMP)
        if not (os.path.isfile(self.python) and os.path.isfile(stamp)):
            return False
        with open(stamp, encoding="utf-8") as old, open(self.requirements, encoding="utf-8") as new:
            return old.read() == new.read()

    def start(self):
        self._thread.start()
        return self

    def wait(self):
        self._thread.join()
        return self

    def _run(self):
        try:
            if self.is_current():
                self.already_current = True
                return
            if not self.base_python or not os.path.isfile(self.base_python):
                raise RuntimeError(f"The Python to build the backend from, '{self.base_python}', does not exist: "
                                   f"choose a Python 3.10+ interpreter in the add-on preferences")
            os.makedirs(self.location, exist_ok=True)
            with open(self.log_path, "w", encoding="utf-8") as log:
                self.stage = "creating the environment"
                self._step(log, [self.base_python, "-m", "venv", self.location])
                self.stage = "installing torch, numpy and opencv (this can take minutes)"
                self._step(log, [self.python, "-m", "pip", "install", "-r", self.requirements])
            shutil.copyfile(self.requirements, os.path.join(self.location, STAMP))
            self.stage = "installed"
        except Exception as exc:
            self.error = str(exc)

    def _step(self, log, command):
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            log.write(line)
            log.flush()
            self.last_line = line.strip()
        if process.wait() != 0:
            raise RuntimeError(f"'{' '.join(command[:3])} ...' failed ({self.last_line}); "
                               f"the whole log is in {self.log_path}")
