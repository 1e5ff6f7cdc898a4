"""Add-on preferences: which Python runs the backend, and on which device."""

import bpy
from bpy.props import EnumProperty, StringProperty

ROOT_PACKAGE = __package__.rpartition(".")[0]


class IMAGEDYN_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ROOT_PACKAGE

    backend_python: StringProperty(
        name="Backend Python", subtype="FILE_PATH",
        description="Python interpreter with torch, numpy and opencv installed, which runs the motion backend")
    device: EnumProperty(name="Device", default="auto", items=[
        ("auto", "Automatic", "CUDA when present, otherwise the CPU"),
        ("cpu", "CPU", "Always compute on the CPU"),
        ("cuda", "CUDA", "An NVIDIA GPU"),
        ("mps", "Apple GPU", "Metal on Apple silicon")],
        description="Where the backend computes motion")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "backend_python")
        layout.prop(self, "device")


def get_preferences(context=None):
    addon = (context or bpy.context).preferences.addons.get(ROOT_PACKAGE)
    return addon.preferences if addon else None


def register():
    bpy.utils.register_class(IMAGEDYN_AP_preferences)


def unregister():
    bpy.utils.unregister_class(IMAGEDYN_AP_preferences)
