"""Install Backend from the preferences: a real venv and a real pip run, with a log; a second run does nothing."""

import os

import bpy
import pytest

from imgdyn import extension as dev_extension


def test_install_backend_creates_the_environment_once(extension, tmp_path):
    preferences = bpy.context.preferences.addons[dev_extension.MODULE].preferences
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# nothing to download in this test; the real file pins torch, numpy and opencv\n")
    location = tmp_path / "env"
    preferences.install_base_python = dev_extension.default_backend_python()
    preferences.install_location = str(location)

    # The new environment has none of the backend's packages, so the check after the install says what is missing.
    with pytest.raises(RuntimeError, match="not installed for"):
        bpy.ops.image_dynamics.install_backend(requirements=str(requirements))
    python = location / "bin" / "python"
    assert preferences.backend_python == str(python) and python.exists()
    log = (location / "install.log").read_text()
    assert "-m venv" in log and "-m pip install -r" in log
    made = os.path.getmtime(location / "install.log")

    with pytest.raises(RuntimeError, match="not installed for"):
        bpy.ops.image_dynamics.install_backend(requirements=str(requirements))
    assert os.path.getmtime(location / "install.log") == made  # already current: nothing was run again


def test_install_backend_with_a_missing_base_python_says_so(extension, tmp_path):
    preferences = bpy.context.preferences.addons[dev_extension.MODULE].preferences
    preferences.install_base_python = str(tmp_path / "no-python")
    preferences.install_location = str(tmp_path / "env")
    with pytest.raises(RuntimeError, match="does not exist: choose a Python"):
        bpy.ops.image_dynamics.install_backend()
