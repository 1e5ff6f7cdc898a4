"""Export the baked motion for other programs (addon/exports/): ST-maps now."""

import os

import bpy

from ..addon.exports.stmap import write_stmaps
from .polls import OnBakedPlane


class IMAGEDYN_OT_export_stmaps(OnBakedPlane, bpy.types.Operator):
    bl_idname = "image_dynamics.export_stmaps"
    bl_label = "Export ST-Maps"
    bl_description = ("Write the baked loop as ST-map EXRs (one per frame and stream, with the stream's weight) for "
                      "a compositor's STMap node")

    directory: bpy.props.StringProperty(subtype="DIR_PATH", options={"SKIP_SAVE"})

    needs_bake_message = "Generate first: the ST-maps are made from the baked motion"

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        folder = bpy.path.abspath(self.directory)
        if not self.directory or (os.path.exists(folder) and not os.path.isdir(folder)):
            self.report({"ERROR"}, f"Choose a folder for the ST-maps ('{self.directory}' is not one)")
            return {"CANCELLED"}
        try:
            write_stmaps(context.active_object.image_dynamics, folder)
        except OSError as exc:
            self.report({"ERROR"}, f"Could not write the ST-maps to '{folder}': {exc.strerror or exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Wrote the ST-maps to {folder}")
        return {"FINISHED"}


classes = (IMAGEDYN_OT_export_stmaps,)
