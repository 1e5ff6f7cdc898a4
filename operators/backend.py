"""Check Backend and Install Backend, from the add-on preferences."""

import os

import bpy

from ..addon import preferences as prefs_module
from ..addon.service.client import REQUIREMENTS, environment_problem, probe, probe_through
from ..addon.service.installer import BackendInstaller, default_base_python
from ..addon.preferences import ROOT_PACKAGE, get_preferences
from ..backend.errors import BackendStartError


def describe(report):
    """Lines for the preferences: which Python, which packages, which devices, how much memory."""
    packages = ", ".join(f"{name} {version or 'missing'}" for name, version in report["packages"].items())
    lines = [f"Python {report['python']} at {report['executable']}", packages,
             f"Devices: {', '.join(report['devices']) or 'none (torch is missing)'}"]
    if report.get("cuda_name"):
        lines.append(f"GPU: {report['cuda_name']}, {report['cuda_free_memory'] / 2 ** 30:.1f} GiB free")
    if report.get("free_memory"):
        lines.append(f"Free memory: {report['free_memory'] / 2 ** 30:.1f} GiB")
    return lines


def check_and_report(operator, python, device, command=""):
    """Probe the backend Python (or the backend behind the Backend Command), remember what was found for the
    preferences, report it; True when usable."""
    command = command.strip()
    try:
        report = probe_through(command) if command else probe(python)
    except BackendStartError as exc:
        prefs_module.last_check.update(lines=exc.message.splitlines())
        operator.report({"ERROR"}, exc.message)
        return False
    problem = environment_problem(report, device, remote=bool(command))
    through = [f"Through: {command}"] if command else []
    prefs_module.last_check.update(lines=through + describe(report) + ([problem] if problem else ["Ready"]),
                                   report=report)
    if problem:
        operator.report({"ERROR"}, problem)
        return False
    operator.report({"INFO"}, f"Backend ready: torch {report['packages']['torch']} on "
                              f"{', '.join(report['devices'])}")
    return True


class IMAGEDYN_OT_check_backend(bpy.types.Operator):
    bl_idname = "image_dynamics.check_backend"
    bl_label = "Check Backend"
    bl_description = ("Run the backend Python (or the Backend Command) once and show its version, packages, "
                      "devices and free memory")

    def execute(self, context):
        preferences = get_preferences(context)
        ok = check_and_report(self, preferences.backend_python, preferences.device, preferences.backend_command)
        return {"FINISHED"} if ok else {"CANCELLED"}


class IMAGEDYN_OT_install_backend(bpy.types.Operator):
    bl_idname = "image_dynamics.install_backend"
    bl_label = "Install Backend"
    bl_description = ("Create a Python environment with torch, numpy and opencv for the backend and use it "
                      "(downloads about 1 GB; does nothing when it is already installed)")

    requirements: bpy.props.StringProperty(default=REQUIREMENTS, options={"HIDDEN", "SKIP_SAVE"})

    def _installer(self, context):
        preferences = get_preferences(context)
        location = preferences.install_location or bpy.utils.extension_path_user(
            ROOT_PACKAGE, path="backend-env", create=True)
        return BackendInstaller(bpy.path.abspath(preferences.install_base_python) or default_base_python(),
                                os.path.abspath(bpy.path.abspath(location)), self.requirements)

    def execute(self, context):
        return self._finish(context, self._installer(context).start().wait())

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        self._install = self._installer(context).start()
        window_manager = context.window_manager
        self._timer = window_manager.event_timer_add(0.25, window=context.window)
        window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        install = self._install
        if not install.done:
            context.workspace.status_text_set(f"Installing backend: {install.stage}  {install.last_line[:80]}")
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        context.workspace.status_text_set(None)
        return self._finish(context, install)

    def _finish(self, context, install):
        if install.error:
            self.report({"ERROR"}, f"Install Backend: {install.error}")
            return {"CANCELLED"}
        preferences = get_preferences(context)
        preferences.backend_python = install.python
        if install.already_current:
            self.report({"INFO"}, f"The backend environment at {install.location} is already up to date")
        check_and_report(self, install.python, preferences.device)
        return {"FINISHED"}


classes = (IMAGEDYN_OT_check_backend, IMAGEDYN_OT_install_backend)
