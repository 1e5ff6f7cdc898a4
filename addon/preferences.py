"""Add-on preferences: which Python (or which command, for another machine) runs the backend, on which device,
and how long to wait for it."""

import bpy
from bpy.props import EnumProperty, FloatProperty, IntProperty, StringProperty

ROOT_PACKAGE = __package__.rpartition(".")[0]

# What "Check Backend" found, shown in the preferences until the next check (not saved).
last_check = {}


class IMAGEDYN_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ROOT_PACKAGE

    backend_python: StringProperty(
        name="Backend Python", subtype="FILE_PATH",
        description="Python interpreter with torch, numpy and opencv installed, which runs the motion backend")
    backend_command: StringProperty(
        name="Backend Command",
        description="Runs the backend elsewhere, e.g. on a machine with a GPU: a command whose stdin and stdout "
                    "carry the backend's protocol, split like a shell line, such as "
                    "ssh -o BatchMode=yes gpu-box 'cd /opt/imgdyn && venv/bin/python -m backend'. It must start "
                    "the backend by itself (no environment is passed; key login, no prompts). Check Backend asks "
                    "through it. Files on this computer (clips) are not sent. Empty: Backend Python, here")
    device: EnumProperty(name="Device", default="auto", items=[
        ("auto", "Automatic", "CUDA when present, otherwise the CPU"),
        ("cpu", "CPU", "Always compute on the CPU"),
        ("cuda", "CUDA", "An NVIDIA GPU"),
        ("mps", "Apple GPU", "Metal on Apple silicon")],
        description="Where the backend computes motion")
    max_working_resolution: IntProperty(
        name="Working Resolution Bound", default=2048, min=16, max=8192,
        description="Largest motion grid any plane may ask for (longest side in pixels): bounds memory and time")
    hang_timeout: FloatProperty(
        name="Hang Timeout", default=120.0, min=1.0, soft_max=600.0, unit="TIME_ABSOLUTE",
        description="Seconds without any word from the backend after which it is stopped and the job fails")
    idle_timeout: FloatProperty(
        name="Idle Timeout", default=10.0, min=0.0, soft_max=120.0,
        description="Minutes the backend stays loaded without jobs before it is stopped to free memory "
                    "(0 keeps it until Blender quits)")
    install_base_python: StringProperty(
        name="Build From", subtype="FILE_PATH",
        description="Python 3.10 or newer used to create the backend environment (empty: python3.11 or python3 "
                    "found on the system)")
    install_location: StringProperty(
        name="Install To", subtype="DIR_PATH",
        description="Folder for the backend environment (empty: the extension's user folder)")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "backend_python")
        layout.prop(self, "backend_command")
        layout.prop(self, "device")
        layout.prop(self, "max_working_resolution")
        row = layout.row()
        row.prop(self, "hang_timeout")
        row.prop(self, "idle_timeout")
        row = layout.row()
        row.operator("image_dynamics.check_backend", icon="CHECKMARK")
        if last_check:
            box = layout.box()
            for line in last_check.get("lines", ()):
                box.label(text=line)
        box = layout.box()
        box.label(text="Install Backend", icon="IMPORT")
        box.prop(self, "install_base_python")
        box.prop(self, "install_location")
        box.operator("image_dynamics.install_backend", icon="IMPORT")


def get_preferences(context=None):
    addon = (context or bpy.context).preferences.addons.get(ROOT_PACKAGE)
    return addon.preferences if addon else None


def register():
    bpy.utils.register_class(IMAGEDYN_AP_preferences)


def unregister():
    bpy.utils.unregister_class(IMAGEDYN_AP_preferences)
