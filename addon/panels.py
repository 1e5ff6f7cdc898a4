"""The sidebar panel (3D Viewport > N > Image Dynamics) for the active image plane."""

import bpy

from . import overlay
from .jobs import active_job
from .rig import PLUCK_DECAY, STRENGTH, layer_strength_name
from .state import motion_signature


LAYER_ICONS = {"FLUID": "MOD_FLUIDSIM", "DRIFT": "OUTLINER_OB_FORCE_FIELD", "OSCILLATION": "FORCE_WIND",
               "CLIP": "FILE_MOVIE"}


class IMAGEDYN_UL_layers(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        layout.prop(item, "name", text="", emboss=False, icon=LAYER_ICONS[item.layer_type])
        layout.prop(item, "mute", text="", emboss=False, icon="HIDE_ON" if item.mute else "HIDE_OFF")


class IMAGEDYN_PT_main(bpy.types.Panel):
    bl_label = "Image Dynamics"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Image Dynamics"

    @classmethod
    def poll(cls, context):
        return context.active_object is not None and context.active_object.type == "MESH"

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        settings = obj.image_dynamics

        row = layout.row()
        row.template_list("IMAGEDYN_UL_layers", "", settings, "layers", settings, "active_layer", rows=3)
        column = row.column(align=True)
        column.operator("image_dynamics.layer_add", icon="ADD", text="")
        column.operator("image_dynamics.layer_remove", icon="REMOVE", text="")
        column.separator()
        column.operator("image_dynamics.layer_move", icon="TRIA_UP", text="").direction = "UP"
        column.operator("image_dynamics.layer_move", icon="TRIA_DOWN", text="").direction = "DOWN"

        if 0 <= settings.active_layer < len(settings.layers):
            self.draw_layer(layout, settings.layers[settings.active_layer], obj)

        box = layout.box()
        box.prop(settings, "carrier", expand=True)
        box.prop(settings, "loop_frames")
        box.prop(settings, "working_resolution")
        box.prop(settings, "grid_resolution")
        if STRENGTH in obj.keys():
            box.prop(obj, f'["{STRENGTH}"]', text="Motion Strength")
            if any(entry.kind == "AGES" for entry in settings.warp_images):
                box.label(text="Flows run at the strength's speed (a loop every T / strength frames)",
                          icon="INFO")
        if settings.has_sway:
            row = box.row(align=True)
            row.operator("image_dynamics.pluck", icon="FORCE_WIND")
            row.prop(obj, f'["{PLUCK_DECAY}"]', text="Decay")
        job = active_job()
        if job is not None:
            box.label(text=f"Working on '{job.label}': {job.stage} {job.fraction:.0%}", icon="SORTTIME")
        elif settings.is_baked and settings.baked_signature == "preview":
            box.label(text="Preview baked: Generate for the full motion", icon="HIDE_OFF")
        elif settings.is_baked and settings.baked_signature != motion_signature(obj, context.scene):
            box.label(text="Baked, but the settings changed since: Generate again", icon="ERROR")
        elif settings.is_baked:
            box.label(text=f"Baked: plays {settings.timing_frames} frames from frame {settings.timing_start}",
                      icon="CHECKMARK")
        else:
            box.label(text="Not baked", icon="INFO")
        row = layout.row(align=True)
        if job is not None:
            row.operator("image_dynamics.cancel", icon="CANCEL")
        else:
            row.operator("image_dynamics.generate", icon="HIDE_OFF", text="Preview").preview = True
            row.operator("image_dynamics.generate", icon="PLAY")
            row.operator("image_dynamics.retime", icon="TIME", text="")
            row.operator("image_dynamics.flow_overlay", icon="ARROW_LEFTRIGHT", text="",
                         depress=overlay.is_shown(obj))
            row.operator("image_dynamics.clear", icon="X", text="")

    @staticmethod
    def draw_layer(layout, layer, obj):
        box = layout.box()
        box.prop(layer, "layer_type")
        if layer_strength_name(layer) in obj.keys():
            box.prop(obj, f'["{layer_strength_name(layer)}"]', text="Layer Strength")
        row = box.row(align=True)
        row.prop(layer, "mask_source")
        row.operator("image_dynamics.paint_mask", icon="BRUSH_DATA", text="")
        if layer.mask_source == "VERTEX_GROUP":
            box.prop_search(layer, "mask_vertex_group", obj, "vertex_groups")
        else:
            box.prop(layer, "mask_rect" if layer.mask_source == "RECT" else "mask_image")
        box.prop(layer, "feather")
        if layer.layer_type == "CLIP":
            box.prop(layer, "clip_path")
            box.prop(layer, "clip_motion")
            if layer.clip_motion == "FLUID":
                box.prop(layer, "clip_method")
                if layer.clip_method == "PREDICT":
                    box.prop(layer, "train_seconds")
                    box.prop(layer, "reuse_model")
            else:
                for name in ("terms", "scale", "seed"):
                    box.prop(layer, name)
        elif layer.layer_type == "OSCILLATION":
            for name in ("amplitude", "wind_angle", "terms", "falloff", "scale", "seed"):
                box.prop(layer, name)
        else:
            if layer.layer_type == "DRIFT":
                box.prop(layer, "drift_angle")
            row = box.row(align=True)
            row.prop(layer, "speed")
            row.prop(layer, "speed_unit", text="")
        if layer.layer_type in {"FLUID", "DRIFT"} or (layer.layer_type == "CLIP" and layer.clip_motion == "FLUID"):
            box.prop(layer, "phase_frames")
        if layer.layer_type in {"FLUID", "OSCILLATION"}:
            box.prop(layer, "edge_tolerance")
        box.label(text="Guides")
        for index, guide in enumerate(layer.guides):
            row = box.row(align=True)
            row.prop(guide, "object", text=guide.bl_rna.properties["kind"].enum_items[guide.kind].name)
            row.operator("image_dynamics.guide_remove", icon="X", text="").index = index
        row = box.row(align=True)
        for kind, icon in (("ARROW", "EMPTY_SINGLE_ARROW"), ("LINE", "CURVE_BEZCURVE"), ("PIN", "PINNED")):
            row.operator("image_dynamics.guide_add", icon=icon,
                         text=guide_label(kind)).kind = kind
        box.prop(layer, "pin_image")
        box.prop(layer, "pin_falloff")
        if layer.layer_type == "FLUID":
            box.label(text="Direction hints (UV position, pixels per frame)")
            for index, hint in enumerate(layer.hints):
                row = box.row(align=True)
                row.prop(hint, "uv", text="")
                row.prop(hint, "velocity", text="")
                row.operator("image_dynamics.hint_remove", icon="X", text="").index = index
            box.operator("image_dynamics.hint_add", icon="ADD")


def guide_label(kind):
    return {"ARROW": "Arrow", "LINE": "Flow Line", "PIN": "Pin"}[kind]


_classes = (IMAGEDYN_UL_layers, IMAGEDYN_PT_main)


def register():
    for cls in _classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
