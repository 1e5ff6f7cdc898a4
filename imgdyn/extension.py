"""Load this working copy into the bpy module the way Blender loads an installed extension.

A temporary local extension repository holds a link to the repository root, so the extension is imported as
`bl_ext.<repo>.image_dynamics` with its manifest, preferences and relative imports, exactly as when installed.
At exit the repository is unregistered and its folder removed (`cleanup`).
"""

import atexit
import os
import shutil
import tempfile

import addon_utils
import bpy

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_MODULE = "imgdyn_dev"
EXTENSION_ID = "image_dynamics"
MODULE = f"bl_ext.{REPO_MODULE}.{EXTENSION_ID}"

_repo_dir = None


def enable(backend_python=None, device="cpu", backend_command=""):
    """Register the extension (once per process) and point it at a backend Python (or a Backend Command that
    starts the backend elsewhere); returns the module name."""
    global _repo_dir
    if _repo_dir is None:
        _repo_dir = tempfile.mkdtemp(prefix="imgdyn-extensions-")
        atexit.register(cleanup)  # (runs before bpy's own exit handlers: they were registered earlier)
        os.symlink(REPO_ROOT, os.path.join(_repo_dir, EXTENSION_ID))
    repos = bpy.context.preferences.extensions.repos
    if not any(repo.module == REPO_MODULE for repo in repos):
        repos.new(name=REPO_MODULE, module=REPO_MODULE, custom_directory=_repo_dir, source="USER")
    if MODULE not in bpy.context.preferences.addons:
        addon_utils.enable(MODULE, default_set=True, handle_error=_raise)
    preferences = bpy.context.preferences.addons[MODULE].preferences
    preferences.backend_python = backend_python or default_backend_python()
    preferences.backend_command = backend_command or ""
    preferences.device = device
    return MODULE


def disable():
    addon_utils.disable(MODULE, default_set=True, handle_error=_raise)


def cleanup():
    """Unregister the temporary repository (which disables the extension) and remove its folder."""
    global _repo_dir
    if _repo_dir is None:
        return
    try:
        repos = bpy.context.preferences.extensions.repos
        for repo in [repo for repo in repos if repo.module == REPO_MODULE]:
            repos.remove(repo)
    finally:  # the folder goes even if Blender is already half shut down
        shutil.rmtree(_repo_dir, ignore_errors=True)
        _repo_dir = None


def default_backend_python():
    return os.environ.get("IMAGE_DYNAMICS_BACKEND_PYTHON") or os.path.join(
        REPO_ROOT, ".venvs", "backend", "bin", "python")


def _raise(exc):
    raise exc


def extension_module(name):
    """A submodule of the enabled extension, e.g. extension_module("addon.carriers.texture")."""
    import importlib
    return importlib.import_module(f"{MODULE}.{name}")
