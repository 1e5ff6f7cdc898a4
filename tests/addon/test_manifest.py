import os
import subprocess
import sys
import tomllib

import bpy

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_manifest_has_the_fields_blender_requires():
    with open(os.path.join(REPO, "blender_manifest.toml"), "rb") as handle:
        manifest = tomllib.load(handle)
    assert manifest["schema_version"] == "1.0.0"
    assert manifest["id"] == "image_dynamics"
    assert manifest["type"] == "add-on"
    assert manifest["blender_version_min"] == "4.2.0"
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    for key in ("version", "name", "tagline", "maintainer"):
        assert isinstance(manifest[key], str) and manifest[key]
    assert set(manifest["permissions"]) == {"files"} and manifest["permissions"]["files"]


def test_blenders_own_validator_accepts_the_manifest():
    tool = os.path.join(bpy.utils.system_resource("SCRIPTS"), "addons_core", "bl_pkg", "cli", "blender_ext.py")
    done = subprocess.run([sys.executable, tool, "validate", REPO], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout


def test_built_zip_installs_with_blenders_installer_and_generates(tmp_path):
    """`make dist`'s zip, installed the way a user installs it, carries everything: the add-on and the backend."""
    tool = os.path.join(bpy.utils.system_resource("SCRIPTS"), "addons_core", "bl_pkg", "cli", "blender_ext.py")
    built = subprocess.run([sys.executable, tool, "build", "--source-dir", REPO, "--output-dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    archive = str(tmp_path / "image_dynamics-0.1.0.zip")
    repository = tmp_path / "extensions"
    repository.mkdir()
    backend_python = os.environ.get("IMAGE_DYNAMICS_BACKEND_PYTHON") or os.path.join(
        REPO, ".venvs", "backend", "bin", "python")
    script = f"""
import os, bpy
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.context.preferences.extensions.repos.new(name="zipped", module="zipped", custom_directory={str(repository)!r},
                                             source="USER")
assert bpy.ops.extensions.package_install_files(filepath={archive!r}, repo="zipped",
                                                enable_on_install=True) == {{"FINISHED"}}
preferences = bpy.context.preferences.addons["bl_ext.zipped.image_dynamics"].preferences
preferences.backend_python = {backend_python!r}
sample = {os.path.join(REPO, "samples", "river")!r}
bpy.ops.image.import_as_mesh_planes(files=[{{"name": "river.png"}}], directory=sample)
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 6
plane = bpy.context.active_object
plane.image_dynamics.working_resolution = 32
bpy.ops.image_dynamics.layer_add()
plane.image_dynamics.layers[0].hints.add()
assert bpy.ops.image_dynamics.generate() == {{"FINISHED"}}
import importlib
client = importlib.import_module("bl_ext.zipped.image_dynamics.addon.service.client")
print("ROOT", client.EXTENSION_ROOT)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    root = next(line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("ROOT "))
    assert root == str(repository / "image_dynamics")  # the backend ran from the installed copy
