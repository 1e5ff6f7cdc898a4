"""Add and remove motion layers and their direction hints."""

import bpy


class IMAGEDYN_OT_layer_add(bpy.types.Operator):
    bl_idname = "image_dynamics.layer_add"
    bl_label = "Add Motion Layer"
    bl_description = "Add a fluid motion layer to the active plane"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return context.active_object is not None and context.active_object.type == "MESH"

    def execute(self, context):
        settings = context.active_object.image_dynamics
        layer = settings.layers.add()
        layer.name = f"Fluid {len(settings.layers)}"
        layer.hints.add()
        settings.active_layer = len(settings.layers) - 1
        return {"FINISHED"}


class IMAGEDYN_OT_layer_remove(bpy.types.Operator):
    bl_idname = "image_dynamics.layer_remove"
    bl_label = "Remove Motion Layer"
    bl_description = "Remove the active motion layer"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return obj is not None and obj.type == "MESH" and len(obj.image_dynamics.layers) > 0

    def execute(self, context):
        settings = context.active_object.image_dynamics
        settings.layers.remove(settings.active_layer)
        settings.active_layer = max(0, min(settings.active_layer, len(settings.layers) - 1))
        return {"FINISHED"}


def _active_layer(context):
    obj = context.active_object
    if obj is None or obj.type != "MESH":
        return None
    settings = obj.image_dynamics
    return settings.layers[settings.active_layer] if 0 <= settings.active_layer < len(settings.layers) else None


class IMAGEDYN_OT_hint_add(bpy.types.Operator):
    bl_idname = "image_dynamics.hint_add"
    bl_label = "Add Direction Hint"
    bl_description = "Add a point that tells the active layer which way and how fast to move"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _active_layer(context) is not None

    def execute(self, context):
        _active_layer(context).hints.add()
        return {"FINISHED"}


class IMAGEDYN_OT_hint_remove(bpy.types.Operator):
    bl_idname = "image_dynamics.hint_remove"
    bl_label = "Remove Direction Hint"
    bl_description = "Remove a direction hint from the active layer"
    bl_options = {"REGISTER", "UNDO"}

    index: bpy.props.IntProperty()

    @classmethod
    def poll(cls, context):
        layer = _active_layer(context)
        return layer is not None and len(layer.hints) > 0

    def execute(self, context):
        hints = _active_layer(context).hints
        if not 0 <= self.index < len(hints):
            self.report({"ERROR"}, f"There is no hint number {self.index + 1}")
            return {"CANCELLED"}
        hints.remove(self.index)
        return {"FINISHED"}


classes = (IMAGEDYN_OT_layer_add, IMAGEDYN_OT_layer_remove, IMAGEDYN_OT_hint_add, IMAGEDYN_OT_hint_remove)
