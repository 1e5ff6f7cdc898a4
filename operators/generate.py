"""Generate (ask the backend for motion, then bake it) and Clear."""

import bpy

from ..addon.backend_client import shared_client
from ..addon.bake import bake, check_result, clear
from ..addon.job import build_job
from ..addon.plane import ImagePlane, PlaneError
from ..addon.preferences import get_preferences
from ..addon.rig import loop_timing
from ..backend.errors import BackendError


def _poll_plane(cls, context):
    obj = context.active_object
    if obj is None or obj.type != "MESH":
        cls.poll_message_set("Select an image plane (File > Import > Images as Planes)")
        return False
    return True


class IMAGEDYN_OT_generate(bpy.types.Operator):
    bl_idname = "image_dynamics.generate"
    bl_label = "Generate Motion"
    bl_description = "Compute the motion of this plane's layers and bake it into a looping rig"
    bl_options = {"REGISTER", "UNDO"}

    poll = classmethod(_poll_plane)

    def execute(self, context):
        obj = context.active_object
        settings = obj.image_dynamics
        window_manager = context.window_manager
        try:
            plane = ImagePlane(obj, settings.source_mesh)
            loop_start, loop_frames = loop_timing(context.scene, settings)
            if loop_frames < 2:
                raise PlaneError("A loop needs at least 2 frames: widen the scene's frame range or set Loop Length")
            preferences = get_preferences(context)
            job, arrays = build_job(plane, settings, loop_frames, preferences.device if preferences else "auto")
            client = shared_client(preferences.backend_python if preferences else "")
            window_manager.progress_begin(0, 100)
            try:
                meta, result = client.generate(
                    job, arrays, on_progress=lambda stage, fraction: window_manager.progress_update(fraction * 100))
            finally:
                window_manager.progress_end()
            lookup, weights = check_result(meta, result, loop_frames)
            shape_keys = bake(plane, settings, lookup, weights, loop_start, loop_frames)
        except PlaneError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        except BackendError as exc:
            self.report({"ERROR"}, f"Motion backend: {exc.message}")
            return {"CANCELLED"}
        width, height = meta["working_size"]
        self.report({"INFO"}, f"Baked a {loop_frames}-frame loop from frame {loop_start} "
                              f"({width}x{height} motion, {shape_keys} shape keys, on {meta['device']})")
        return {"FINISHED"}


class IMAGEDYN_OT_clear(bpy.types.Operator):
    bl_idname = "image_dynamics.clear"
    bl_label = "Clear Motion"
    bl_description = "Remove the baked motion and give the plane back its original mesh and material"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if not _poll_plane(cls, context):
            return False
        if not context.active_object.image_dynamics.is_baked:
            cls.poll_message_set("This plane has no baked motion")
            return False
        return True

    def execute(self, context):
        clear(context.active_object, context.active_object.image_dynamics)
        self.report({"INFO"}, "Removed the baked motion")
        return {"FINISHED"}


classes = (IMAGEDYN_OT_generate, IMAGEDYN_OT_clear)
