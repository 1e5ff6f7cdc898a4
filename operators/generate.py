"""Generate (ask the backend for motion, then bake it), Cancel, Re-time and Clear.

Generate runs modal in the UI: the backend works in a thread, the progress bar and the status bar show its stage,
Esc cancels. From scripts and in background mode it runs to the end before returning, on the same path.
"""

import bpy

from ..addon.carriers import bake, check_result, clear, retime
from ..addon.plane import ImagePlane, PlaneError
from ..addon.preferences import get_preferences
from ..addon.request.build import active_layers, build_job
from ..addon.rig import layer_strength_name
from ..addon.service.client import shared_client
from ..addon.service.worker import GenerateJob, active_job
from ..addon.settings.state import motion_signature
from ..addon.ui import overlay
from ..backend.errors import BackendError
from .polls import OnBakedPlane, active_plane


# A preview computes on a grid this small (longest side) and bends a shape-key grid this coarse.
PREVIEW_RESOLUTION = 64
PREVIEW_GRID = 16


def _loop(scene, settings):
    """(first frame, length) of the loop, or PlaneError when it is too short to loop."""
    loop_start, loop_frames = settings.loop_timing(scene)
    if loop_frames < 2:
        raise PlaneError("A loop needs at least 2 frames: widen the scene's frame range or set Loop Length")
    return loop_start, loop_frames


class IMAGEDYN_OT_generate(bpy.types.Operator):
    bl_idname = "image_dynamics.generate"
    bl_label = "Generate Motion"
    bl_description = ("Compute the motion of this object's layers and bake it into a looping rig, on every object "
                      "that shows the same painting")
    bl_options = {"REGISTER", "UNDO"}

    preview: bpy.props.BoolProperty(
        name="Preview", default=False, options={"SKIP_SAVE"},
        description="A quick, coarse version (small motion grid and shape-key grid) to check the motion before "
                    "the full Generate")

    @classmethod
    def description(cls, context, properties):
        if properties.preview:
            return "Compute a quick, coarse version of the motion to check it before the full Generate"
        return cls.bl_description

    @classmethod
    def poll(cls, context):
        if active_plane(context, cls) is None:
            return False
        if active_job() is not None:
            cls.poll_message_set("A motion job is running: wait for it or press Esc to cancel it")
            return False
        return True

    def execute(self, context):
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        try:
            job.wait()
        except BackendError:
            pass  # reported by _finish
        return self._finish(context, job)

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        self._job = self._start(context)
        if self._job is None:
            return {"CANCELLED"}
        window_manager = context.window_manager
        self._timer = window_manager.event_timer_add(0.1, window=context.window)
        window_manager.progress_begin(0, 100)
        window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        job = self._job
        if event.type == "ESC" and event.value == "PRESS":
            job.cancel()
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        job.watch()
        window_manager = context.window_manager
        if not job.done:
            window_manager.progress_update(job.fraction * 100)
            context.workspace.status_text_set(f"Image Dynamics: {job.stage} {job.fraction:.0%}   (Esc to cancel)")
            return {"PASS_THROUGH"}
        window_manager.event_timer_remove(self._timer)
        window_manager.progress_end()
        context.workspace.status_text_set(None)
        return self._finish(context, job)

    def _start(self, context):
        obj = context.active_object
        settings = obj.image_dynamics
        try:
            plane = ImagePlane(obj, settings.source_mesh)
            self._loop_start, self._loop_frames = _loop(context.scene, settings)
            preferences = get_preferences(context)
            bound = preferences.max_working_resolution if preferences else None
            if self.preview:
                bound = min(bound or PREVIEW_RESOLUTION, PREVIEW_RESOLUTION)
            job, arrays = build_job(plane, settings, self._loop_frames,
                                    preferences.device if preferences else "auto", bound)
            self._signature = "preview" if self.preview else motion_signature(obj, context.scene)
            self._strengths = [layer_strength_name(layer) for _, layer in active_layers(settings)]
            client = shared_client(preferences.backend_python if preferences else "",
                                   preferences.backend_command if preferences else "")
            self._object_name = obj.name
            return GenerateJob(client, job, arrays, preferences.hang_timeout if preferences else 120.0,
                               obj.name).start()
        except (PlaneError, BackendError) as exc:
            self.report({"ERROR"}, str(exc))
            return None

    def _finish(self, context, job):
        if job.error is not None:
            if job.cancelled:
                self.report({"WARNING"}, "Cancelled: the scene was not changed")
            else:
                self.report({"ERROR"}, f"Motion backend: {job.error.message}")
            return {"CANCELLED"}
        meta, result = job.result
        obj = bpy.data.objects.get(self._object_name)
        try:
            if obj is None:
                raise PlaneError(f"'{self._object_name}' was deleted while its motion was computed: nothing was baked")
            settings = obj.image_dynamics
            plane = ImagePlane(obj, settings.source_mesh)
            motion = check_result(meta, result, self._loop_frames, self._strengths)
            grid = min(settings.grid_resolution, PREVIEW_GRID) if self.preview else settings.grid_resolution
            shape_keys = bake(plane, settings, motion, self._loop_start, self._loop_frames, grid, self._signature)
        except (PlaneError, BackendError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        flowing = [part.label for part in motion.flowing()]
        problem = plane.geometry_problem() if settings.carrier == "GEOMETRY" and motion.swaying() else None
        if problem:
            self.report({"WARNING"}, f"Sway On: Geometry: {problem}")
        if plane.sharers:
            self.report({"INFO"}, f"The painting also moves on {', '.join(plane.sharers[:5])}"
                                  f"{' and others' if len(plane.sharers) > 5 else ''}, driven by '{obj.name}'")
        if settings.carrier == "GEOMETRY" and flowing:
            self.report({"WARNING"}, f"{', '.join(flowing)} flow{'s' if len(flowing) == 1 else ''} on the texture: a "
                                     f"mesh cannot flow, so Sway On: Geometry moves only the swaying layers")
        for message in meta.get("warnings", []):  # what the backend noticed, with the number that triggered it
            self.report({"WARNING"}, message)
        width, height = meta["working_size"]
        what = "Preview: baked" if self.preview else "Baked"
        self.report({"INFO"}, f"{what} a {self._loop_frames}-frame loop from frame {self._loop_start} "
                              f"({width}x{height} motion, {shape_keys} shape keys, on {meta['device']})")
        return {"FINISHED"}


class IMAGEDYN_OT_cancel(bpy.types.Operator):
    bl_idname = "image_dynamics.cancel"
    bl_label = "Cancel Motion Job"
    bl_description = "Stop the running motion job; the scene stays as it was"

    @classmethod
    def poll(cls, context):
        if active_job() is None:
            cls.poll_message_set("No motion job is running")
            return False
        return True

    def execute(self, context):
        active_job().cancel()
        return {"FINISHED"}


class IMAGEDYN_OT_retime(OnBakedPlane, bpy.types.Operator):
    bl_idname = "image_dynamics.retime"
    bl_label = "Re-time"
    bl_description = ("Play the baked loop over the scene's frame range (or the plane's Loop Length) without "
                      "computing the motion again")
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.active_object.image_dynamics
        try:
            loop_start, loop_frames = _loop(context.scene, settings)
        except PlaneError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        retime(settings, loop_start, loop_frames)
        self.report({"INFO"}, f"The loop now plays {loop_frames} frames from frame {loop_start}")
        return {"FINISHED"}


class IMAGEDYN_OT_flow_overlay(OnBakedPlane, bpy.types.Operator):
    bl_idname = "image_dynamics.flow_overlay"
    bl_label = "Show Flow"
    bl_description = "Draw the baked motion as arrows over the plane in the viewport (press again to hide)"

    needs_bake_message = "Generate (or Preview) first: the arrows show the baked motion"

    def execute(self, context):
        try:
            overlay.toggle(context.active_object)
        except PlaneError as exc:  # arrows are drawn over a flat plane; a projected matte has no such frame
            self.report({"ERROR"}, f"Show Flow: {exc}")
            return {"CANCELLED"}
        for area in context.screen.areas if context.screen else ():
            if area.type == "VIEW_3D":
                area.tag_redraw()
        return {"FINISHED"}


class IMAGEDYN_OT_clear(OnBakedPlane, bpy.types.Operator):
    bl_idname = "image_dynamics.clear"
    bl_label = "Clear Motion"
    bl_description = "Remove the baked motion and give the plane back its original mesh and material"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        clear(context.active_object, context.active_object.image_dynamics)
        self.report({"INFO"}, "Removed the baked motion")
        return {"FINISHED"}


classes = (IMAGEDYN_OT_generate, IMAGEDYN_OT_cancel, IMAGEDYN_OT_retime, IMAGEDYN_OT_flow_overlay,
           IMAGEDYN_OT_clear)
