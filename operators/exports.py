"""Export the baked motion for other programs (addon/exports/): ST-maps, a flow map, motion vectors."""

import os

import bpy

from ..addon.exports.flowmap import NoFlow, write_flowmap
from ..addon.exports.motion_vectors import write_motion_vectors
from ..addon.exports.stmap import write_stmaps
from .polls import OnBakedPlane


class ExportToFolder(OnBakedPlane):
    """An export into a folder the user picks: `what` names the files in messages, `write(context, folder)` writes
    them and returns what to add to the report."""

    directory: bpy.props.StringProperty(subtype="DIR_PATH", options={"SKIP_SAVE"})
    what = "files"

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        folder = chosen_folder(self, self.what)
        if folder is None:
            return {"CANCELLED"}
        try:
            detail = self.write(context, folder)
        except NoFlow as exc:
            self.report({"ERROR"}, f"No {self.what}: {exc}")
            return {"CANCELLED"}
        except OSError as exc:
            self.report({"ERROR"}, f"Could not write the {self.what} to '{folder}': {exc.strerror or exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Wrote the {self.what}{detail} to {folder}")
        return {"FINISHED"}


class IMAGEDYN_OT_export_stmaps(ExportToFolder, bpy.types.Operator):
    bl_idname = "image_dynamics.export_stmaps"
    bl_label = "Export ST-Maps"
    bl_description = ("Write the baked loop as ST-map EXRs (one per frame and stream, with the stream's weight) for "
                      "a compositor's STMap node")
    what = "ST-maps"
    needs_bake_message = "Generate first: the ST-maps are made from the baked motion"

    def write(self, context, folder):
        write_stmaps(context.active_object.image_dynamics, folder)
        return ""


class IMAGEDYN_OT_export_flowmap(ExportToFolder, bpy.types.Operator):
    bl_idname = "image_dynamics.export_flowmap"
    bl_label = "Export Flow Map"
    bl_description = ("Write the flowing layers' motion as a game engine's flow map (16-bit PNG, RG = flow around "
                      "0.5) with flowmap.json (period, speed scale, fps); see docs/flowmaps.md")
    what = "flow map"
    needs_bake_message = "Generate first: the flow map is made from the baked motion"

    def write(self, context, folder):
        render = context.scene.render
        write_flowmap(context.active_object.image_dynamics, folder, render.fps / render.fps_base)
        return ""


class IMAGEDYN_OT_export_motion_vectors(ExportToFolder, bpy.types.Operator):
    bl_idname = "image_dynamics.export_motion_vectors"
    bl_label = "Export Motion Vectors"
    bl_description = ("Write one motion-vector EXR per frame of the loop, in pixels, as Blender's Vector pass (RG "
                      "towards the previous frame, BA from the next), for a compositor's vector blur")
    what = "motion vectors"
    width: bpy.props.IntProperty(name="Width", min=0, max=65536, options={"SKIP_SAVE"},
                                 description="Pixels across the picture the vectors are measured in, the plane "
                                             "filling it (0: the scene's render size)")
    height: bpy.props.IntProperty(name="Height", min=0, max=65536, options={"SKIP_SAVE"},
                                  description="Pixels down the picture (0: the scene's render height, or from the "
                                              "width and the picture's shape when a width is given)")
    needs_bake_message = "Generate first: the motion vectors are made from the baked motion"

    def write(self, context, folder):
        render, obj = context.scene.render, context.active_object
        scale = render.resolution_percentage / 100
        width = self.width or round(render.resolution_x * scale)
        across, down = obj.image_dynamics.baked_working_size
        if self.height:
            height = self.height
        elif self.width:
            height = max(1, round(width * down / across))
        else:
            height = round(render.resolution_y * scale)
        write_motion_vectors(obj.image_dynamics, folder, (width, height))
        return f" ({width}x{height} pixels)"


def chosen_folder(operator, what):
    """The operator's folder as a path, or None after telling the user to choose one."""
    folder = bpy.path.abspath(operator.directory)
    if not operator.directory or (os.path.exists(folder) and not os.path.isdir(folder)):
        operator.report({"ERROR"}, f"Choose a folder for the {what} ('{operator.directory}' is not one)")
        return None
    return folder


classes = (IMAGEDYN_OT_export_stmaps, IMAGEDYN_OT_export_flowmap, IMAGEDYN_OT_export_motion_vectors)
