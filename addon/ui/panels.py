"""The sidebar panel (3D Viewport > N > Image Dynamics) for the active image plane."""

import bpy

from . import overlay
from ..service.worker import active_job
from ..rig import PLUCK_DECAY, STRENGTH, layer_strength_name
from ..settings.layer_values import layer_type_of, shown
from ..settings.state import motion_signature
from ..plane import painting_owner




class IMAGEDYN_UL_layers(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        layout.prop(item, "name", text="", emboss=False, icon=layer_type_of(item).icon)
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
        owner = painting_owner(obj)
        if owner is not None and owner != obj:
            layout.label(text=f"This painting moves by the layers of '{owner.name}'", icon="LINKED")

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
        if settings.carrier == "GEOMETRY" and settings.has_sway and settings.shape_mesh is None:
            box.label(text="Swaying plays on the texture: only a lone flat plane showing the whole painting bends",
                      icon="INFO")
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
            row.operator("image_dynamics.export_stmaps", icon="EXPORT", text="")
            row.operator("image_dynamics.export_flowmap", icon="FORCE_TURBULENCE", text="")
            row.operator("image_dynamics.export_motion_vectors", icon="ORIENTATION_VIEW", text="")
            row.operator("image_dynamics.clear", icon="X", text="")

    @staticmethod
    def draw_layer(layout, layer, obj):
        """The active layer's settings, in the order its type declares them (layertypes/)."""
        box = layout.box()
        box.prop(layer, "layer_type")
        if layer_strength_name(layer) in obj.keys():
            box.prop(obj, f'["{layer_strength_name(layer)}"]', text="Layer Strength")
        for param in layer_type_of(layer).params:
            draw = KIND_DRAWERS.get(param.kind)
            if draw is not None:
                draw(box, layer, param, obj)
            elif shown(layer, param):
                box.prop(layer, param.prop)


def _draw_mask(box, layer, param, obj):
    row = box.row(align=True)
    row.prop(layer, f"{param.prop}_source")
    if param.required:  # the layer's own mask can be painted in place
        row.operator("image_dynamics.paint_mask", icon="BRUSH_DATA", text="")
    source = getattr(layer, f"{param.prop}_source")
    if source == "VERTEX_GROUP":
        box.prop_search(layer, f"{param.prop}_vertex_group", obj, "vertex_groups")
    else:
        box.prop(layer, f"{param.prop}_rect" if source == "RECT" else f"{param.prop}_image")


def _draw_guides(box, layer, param, obj):
    box.label(text="Guides")
    for index, guide in enumerate(layer.guides):
        row = box.row(align=True)
        row.prop(guide, "object", text=guide.bl_rna.properties["kind"].enum_items[guide.kind].name)
        row.operator("image_dynamics.guide_remove", icon="X", text="").index = index
    row = box.row(align=True)
    for kind, icon in (("ARROW", "EMPTY_SINGLE_ARROW"), ("LINE", "CURVE_BEZCURVE"), ("PIN", "PINNED")):
        row.operator("image_dynamics.guide_add", icon=icon, text=guide_label(kind)).kind = kind


def _draw_speed(box, layer):
    row = box.row(align=True)
    row.prop(layer, "speed")
    row.prop(layer, "speed_unit", text="")


def _draw_hints(box, layer, param, obj):
    _draw_speed(box, layer)  # along flow lines
    box.label(text="Direction hints (UV position, pixels per frame)")
    for index, hint in enumerate(layer.hints):
        row = box.row(align=True)
        row.prop(hint, "uv", text="")
        row.prop(hint, "velocity", text="")
        row.operator("image_dynamics.hint_remove", icon="X", text="").index = index
    box.operator("image_dynamics.hint_add", icon="ADD")


def _draw_velocity(box, layer, param, obj):
    box.prop(layer, "drift_angle")
    _draw_speed(box, layer)


KIND_DRAWERS = {"mask": _draw_mask, "pins": _draw_guides, "hints": _draw_hints, "velocity": _draw_velocity}


def guide_label(kind):
    return {"ARROW": "Arrow", "LINE": "Flow Line", "PIN": "Pin"}[kind]


_classes = (IMAGEDYN_UL_layers, IMAGEDYN_PT_main)


register, unregister = bpy.utils.register_classes_factory(_classes)
