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
