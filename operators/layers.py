"""Add and remove motion layers, their direction hints and their guides (arrows, pins, flow lines)."""

import math

import bpy
import numpy as np
from mathutils import Vector

from ..addon.animation import set_constant_interpolation
from ..addon.plane import ImagePlane, PlaneError
from ..backend.sizes import fit_longest
from ..addon.rig import PLUCK_FRAME, PLUCK_GAIN
from .polls import OnActiveLayer, OnPlane, RemoveFromActiveLayer, active_layer, active_plane


class IMAGEDYN_OT_layer_add(OnPlane, bpy.types.Operator):
    bl_idname = "image_dynamics.layer_add"
    bl_label = "Add Motion Layer"
    bl_description = "Add a fluid motion layer to the active plane"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.active_object.image_dynamics
        layer = settings.layers.add()
        layer.name = f"Fluid {len(settings.layers)}"
        layer.uid = 1 + max((other.uid for other in settings.layers), default=0)
        settings.active_layer = len(settings.layers) - 1
        return {"FINISHED"}


class IMAGEDYN_OT_layer_remove(OnActiveLayer, bpy.types.Operator):
    bl_idname = "image_dynamics.layer_remove"
    bl_label = "Remove Motion Layer"
    bl_description = "Remove the active motion layer"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.active_object.image_dynamics
        settings.layers.remove(settings.active_layer)
        settings.active_layer = max(0, min(settings.active_layer, len(settings.layers) - 1))
        return {"FINISHED"}


class IMAGEDYN_OT_layer_move(bpy.types.Operator):
    bl_idname = "image_dynamics.layer_move"
    bl_label = "Move Motion Layer"
    bl_description = "Move the active layer up or down the list"
    bl_options = {"REGISTER", "UNDO"}

    direction: bpy.props.EnumProperty(items=[("UP", "Up", ""), ("DOWN", "Down", "")])

    @classmethod
    def poll(cls, context):
        obj = active_plane(context, cls)
        return obj is not None and len(obj.image_dynamics.layers) > 1

    def execute(self, context):
        settings = context.active_object.image_dynamics
        target = settings.active_layer + (-1 if self.direction == "UP" else 1)
        if not 0 <= target < len(settings.layers):
            return {"CANCELLED"}
        settings.layers.move(settings.active_layer, target)
        settings.active_layer = target
        return {"FINISHED"}


class IMAGEDYN_OT_paint_mask(OnActiveLayer, bpy.types.Operator):
    bl_idname = "image_dynamics.paint_mask"
    bl_label = "Paint Mask"
    bl_description = ("Paint where the active layer moves (white moves, black stays) on its own mask image, "
                      "in Texture Paint mode; press again to go back to Object mode")
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        obj = context.active_object
        if obj.mode == "TEXTURE_PAINT":
            bpy.ops.object.mode_set(mode="OBJECT")
            return {"FINISHED"}
        layer = active_layer(context)
        try:
            plane = ImagePlane(obj, obj.image_dynamics.source_mesh)
        except PlaneError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if layer.mask_image is None:
            layer.mask_image = _new_mask_image(f"{obj.name} {layer.name} mask", *plane.image.size)
        layer.mask_source = "IMAGE"
        paint = context.scene.tool_settings.image_paint
        paint.mode, paint.canvas = "IMAGE", layer.mask_image  # paint on the mask, through the plane's UVs
        if bpy.app.background:
            self.report({"INFO"}, f"Mask '{layer.mask_image.name}' is ready to paint")
            return {"FINISHED"}
        bpy.ops.object.mode_set(mode="TEXTURE_PAINT")
        brush = paint.brush
        if brush is not None:
            brush.color = (1.0, 1.0, 1.0)
        self.report({"INFO"}, "Paint white where the picture moves; press Paint Mask again when done")
        return {"FINISHED"}


def _new_mask_image(name, width, height, longest=1024):
    """A black mask with the picture's aspect, packed so that it is saved with the .blend."""
    size = fit_longest(width, height, longest, enlarge=True)
    image = bpy.data.images.new(name, *size, alpha=False)
    black = np.zeros(size[0] * size[1] * 4, np.float32)
    black[3::4] = 1.0
    image.pixels.foreach_set(black)  # real pixels: a generated image would not pack, and paint would be lost
    image.pack()
    return image


class IMAGEDYN_OT_hint_add(OnActiveLayer, bpy.types.Operator):
    bl_idname = "image_dynamics.hint_add"
    bl_label = "Add Direction Hint"
    bl_description = "Add a point that tells the active layer which way and how fast to move"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        active_layer(context).hints.add()
        return {"FINISHED"}


class IMAGEDYN_OT_hint_remove(RemoveFromActiveLayer, bpy.types.Operator):
    bl_idname = "image_dynamics.hint_remove"
    bl_label = "Remove Direction Hint"
    bl_description = "Remove a direction hint from the active layer"
    bl_options = {"REGISTER", "UNDO"}
    listed, what = "hints", "hint"

    index: bpy.props.IntProperty()

    def execute(self, context):
        return {"FINISHED"} if self.remove(context) is not None else {"CANCELLED"}


GUIDE_NAMES = {"ARROW": "Flow Arrow", "PIN": "Pin", "LINE": "Flow Line"}


class IMAGEDYN_OT_guide_add(OnActiveLayer, bpy.types.Operator):
    bl_idname = "image_dynamics.guide_add"
    bl_label = "Add Guide"
    bl_description = "Add an arrow, a pin or a flow line over the plane, for the active layer; move it as you like"
    bl_options = {"REGISTER", "UNDO"}

    kind: bpy.props.EnumProperty(name="Kind", items=[
        ("ARROW", "Arrow", "The picture moves along the arrow, by its length in one loop"),
        ("PIN", "Pin", "The picture does not move inside the pin's sphere"),
        ("LINE", "Flow Line", "Draw a curve over the plane (Tab when done, then select the plane again): the "
                              "picture flows along it at the layer's speed")])

    def execute(self, context):
        plane_object = context.active_object
        try:
            origin, u_axis, v_axis = ImagePlane(plane_object, plane_object.image_dynamics.source_mesh).uv_frame()
        except PlaneError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        width = float((u_axis ** 2).sum() ** 0.5)
        centre = Vector(origin + 0.5 * u_axis + 0.5 * v_axis)
        name = f"{plane_object.name} {GUIDE_NAMES[self.kind]}"
        if self.kind == "LINE":
            curve = bpy.data.curves.new(name, "CURVE")
            curve.dimensions = "3D"
            spline = curve.splines.new("BEZIER")
            spline.bezier_points.add(2)
            for point, share in zip(spline.bezier_points, (-0.25, 0.0, 0.25)):
                point.co = Vector((share * width, 0.0, 0.0))
                point.handle_left_type = point.handle_right_type = "AUTO"
            guide_object = bpy.data.objects.new(name, curve)
        else:
            guide_object = bpy.data.objects.new(name, None)
            if self.kind == "ARROW":
                guide_object.empty_display_type = "SINGLE_ARROW"
                guide_object.empty_display_size = 0.25 * width
                guide_object.rotation_euler = (0.0, math.pi / 2, 0.0)  # its Z axis, the arrow, along the plane's u
            else:
                guide_object.empty_display_type = "SPHERE"
                guide_object.empty_display_size = 0.05 * width
        for collection in plane_object.users_collection:
            collection.objects.link(guide_object)
        guide_object.parent = plane_object
        guide_object.location = centre + Vector((0.0, 0.0, 0.001 * width))
        guide = active_layer(context).guides.add()
        guide.object, guide.kind = guide_object, self.kind
        if self.kind == "LINE" and not bpy.app.background and context.window is not None:
            _start_drawing(context, plane_object, guide_object)
        return {"FINISHED"}


def _start_drawing(context, plane_object, curve_object):
    """In the UI, a new flow line is drawn at once: edit mode on the curve with the Draw tool, strokes landing
    on the plane's surface. The placeholder segment goes, so only what the user draws counts."""
    curve_object.data.splines.clear()
    plane_object.select_set(False)
    curve_object.select_set(True)
    context.view_layer.objects.active = curve_object
    bpy.ops.object.mode_set(mode="EDIT")
    context.scene.tool_settings.curve_paint_settings.depth_mode = "SURFACE"
    bpy.ops.wm.tool_set_by_id(name="builtin.draw")


class IMAGEDYN_OT_guide_remove(RemoveFromActiveLayer, bpy.types.Operator):
    bl_idname = "image_dynamics.guide_remove"
    bl_label = "Remove Guide"
    bl_description = "Remove a guide from the active layer and delete its object"
    bl_options = {"REGISTER", "UNDO"}
    listed, what = "guides", "guide"

    index: bpy.props.IntProperty()

    def execute(self, context):
        guide_object = self.remove(context)
        if guide_object is None:
            return {"CANCELLED"}
        if guide_object is not True:
            data = guide_object.data
            bpy.data.objects.remove(guide_object)
            if data is not None and data.users == 0:
                bpy.data.curves.remove(data)
        return {"FINISHED"}


class IMAGEDYN_OT_pluck(bpy.types.Operator):
    bl_idname = "image_dynamics.pluck"
    bl_label = "Pluck"
    bl_description = ("Give the swaying motion a push at the current frame: it swings out and dies away on top "
                      "of the loop (keyframed, so it can be moved in the Graph Editor)")
    bl_options = {"REGISTER", "UNDO"}

    gain: bpy.props.FloatProperty(name="Strength", default=1.0, soft_min=-5.0, soft_max=5.0,
                                  description="How hard the push is, relative to the loop's own swing")

    @classmethod
    def poll(cls, context):
        obj = active_plane(context, cls)
        if obj is not None and not obj.image_dynamics.has_sway:
            cls.poll_message_set("Bake a Sway layer first")
        return obj is not None and obj.image_dynamics.has_sway

    def execute(self, context):
        obj, frame = context.active_object, context.scene.frame_current
        obj[PLUCK_GAIN], obj[PLUCK_FRAME] = self.gain, float(frame)
        for name in (PLUCK_GAIN, PLUCK_FRAME):
            obj.keyframe_insert(f'["{name}"]', frame=frame)
        set_constant_interpolation(obj, (f'["{PLUCK_GAIN}"]', f'["{PLUCK_FRAME}"]'))
        self.report({"INFO"}, f"Plucked at frame {frame}")
        return {"FINISHED"}


classes = (IMAGEDYN_OT_pluck, IMAGEDYN_OT_layer_move, IMAGEDYN_OT_paint_mask, IMAGEDYN_OT_layer_add,
           IMAGEDYN_OT_layer_remove, IMAGEDYN_OT_hint_add, IMAGEDYN_OT_hint_remove, IMAGEDYN_OT_guide_add,
           IMAGEDYN_OT_guide_remove)
