"""The UI as the user drives it: panels drawn into a layout that checks every property, operator and icon they
name; the layer list operators; Paint Mask; Preview, then Generate, then Clear; the stale-bake line."""

import types

import bpy
import numpy as np
import pytest

from imgdyn import extension, measure

ICONS = set(bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items.keys())


class CheckingLayout:
    """Stands in for bpy.types.UILayout: records what is drawn and fails on any name Blender would not know."""

    def __init__(self, log):
        self.log = log

    def _icon(self, kwargs):
        icon = kwargs.get("icon")
        assert icon is None or icon in ICONS, f"unknown icon {icon}"

    def row(self, **kwargs):
        return CheckingLayout(self.log)

    column = box = split = row

    def separator(self, **kwargs):
        pass

    def label(self, text="", **kwargs):
        self._icon(kwargs)
        self.log.append(("label", text))

    def prop(self, data, name, **kwargs):
        self._icon(kwargs)
        if name.startswith('["'):
            assert name[2:-2] in data.keys(), f"no custom property {name}"
        else:
            assert data.bl_rna.properties.get(name) is not None, f"{data.bl_rna.identifier} has no '{name}'"
        self.log.append(("prop", name))

    def operator(self, idname, **kwargs):
        self._icon(kwargs)
        module, name = idname.split(".")
        operator = getattr(getattr(bpy.ops, module), name)
        self.log.append(("operator", idname))
        return OperatorProperties(operator.get_rna_type())

    def prop_search(self, data, name, search_data, search_name, **kwargs):
        self._icon(kwargs)
        assert data.bl_rna.properties.get(name) is not None, f"{data.bl_rna.identifier} has no '{name}'"
        assert search_data.bl_rna.properties.get(search_name) is not None
        self.log.append(("prop", name))

    def template_list(self, list_type, list_id, data, name, active_data, active_name, **kwargs):
        assert hasattr(bpy.types, list_type), f"no UIList {list_type}"
        assert data.bl_rna.properties.get(name) and active_data.bl_rna.properties.get(active_name)
        self.log.append(("list", name))


class OperatorProperties:
    def __init__(self, rna):
        object.__setattr__(self, "rna", rna)

    def __setattr__(self, name, value):
        assert self.rna.properties.get(name) is not None, f"{self.rna.identifier} has no property '{name}'"


def module(name):
    return extension.extension_module(name)


def draw_panel(context):
    log = []
    panel = module("addon.ui.panels").IMAGEDYN_PT_main
    panel.draw(types.SimpleNamespace(layout=CheckingLayout(log), draw_layer=panel.draw_layer), context)
    settings = context.active_object.image_dynamics
    ui_list = module("addon.ui.panels").IMAGEDYN_UL_layers
    for layer in settings.layers:
        ui_list.draw_item(None, context, CheckingLayout(log), settings, layer, 0, settings, "active_layer", 0)
    return log


def test_every_panel_state_draws_with_real_names(plane):
    context = bpy.context
    settings = plane.image_dynamics
    for layer_type in ("FLUID", "DRIFT", "OSCILLATION", "CLIP"):
        settings.layers[0].layer_type = layer_type
        draw_panel(context)
    for mask_source in ("IMAGE", "VERTEX_GROUP", "RECT"):
        settings.layers[0].mask_source = mask_source
        draw_panel(context)
    settings.layers[0].layer_type = "FLUID"
    for kind in ("ARROW", "PIN", "LINE"):
        assert bpy.ops.image_dynamics.guide_add(kind=kind) == {"FINISHED"}
    labels = [text for kind, text in draw_panel(context) if kind == "label"]
    assert "Not baked" in labels

    settings.working_resolution = 96
    assert bpy.ops.image_dynamics.generate(preview=True) == {"FINISHED"}
    assert tuple(settings.baked_working_size) == (64, 36)
    assert "Preview baked: Generate for the full motion" in [t for k, t in draw_panel(context) if k == "label"]
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    assert tuple(settings.baked_working_size) == (96, 54)
    assert any(t.startswith("Baked: plays 12 frames") for k, t in draw_panel(context) if k == "label")
    settings.layers[0].guides[0].object.location.x += 0.1  # an edit after the bake
    bpy.context.view_layer.update()
    assert "Baked, but the settings changed since: Generate again" in [t for k, t in draw_panel(context)
                                                                     if k == "label"]
    assert bpy.ops.image_dynamics.clear() == {"FINISHED"}

    preferences = bpy.context.preferences.addons[extension.MODULE].preferences
    log = []
    proxy = types.SimpleNamespace(layout=CheckingLayout(log), bl_rna=preferences.bl_rna)
    module("addon.preferences").IMAGEDYN_AP_preferences.draw(proxy, context)
    assert ("operator", "image_dynamics.install_backend") in log and ("prop", "idle_timeout") in log


def test_layers_can_be_added_moved_muted_and_removed(plane):
    settings = plane.image_dynamics
    assert bpy.ops.image_dynamics.layer_add() == {"FINISHED"}
    assert bpy.ops.image_dynamics.layer_add() == {"FINISHED"}
    settings.layers[1].name, settings.layers[2].name = "mist", "clouds"
    assert [layer.name for layer in settings.layers] == ["river", "mist", "clouds"]
    assert settings.active_layer == 2
    assert bpy.ops.image_dynamics.layer_move(direction="UP") == {"FINISHED"}
    assert [layer.name for layer in settings.layers] == ["river", "clouds", "mist"] and settings.active_layer == 1
    assert bpy.ops.image_dynamics.layer_remove() == {"FINISHED"}
    assert [layer.name for layer in settings.layers] == ["river", "mist"]
    settings.layers[1].mute = True  # a layer with no hints, muted: Generate leaves it out
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    settings.layers[0].mute = True
    with pytest.raises(RuntimeError, match="Every layer is muted"):
        bpy.ops.image_dynamics.generate()


def test_paint_mask_makes_the_layers_own_image(plane):
    layer = plane.image_dynamics.layers[0]
    assert bpy.ops.image_dynamics.paint_mask() == {"FINISHED"}
    image = layer.mask_image
    assert layer.mask_source == "IMAGE" and image.name == "river river mask"
    assert tuple(image.size) == (1024, 576) and image.packed_file is not None
    assert bpy.context.scene.tool_settings.image_paint.canvas == image
    # the mask really is the layer's mask: unpainted (black), it keeps the whole picture still
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    assert np.abs(measure.flow_lookups(plane.image_dynamics)).max() == 0.0
    assert bpy.ops.image_dynamics.paint_mask() == {"FINISHED"}
    assert layer.mask_image == image  # the same image, not a new one


def test_flow_overlay_arrows_follow_the_baked_flow(plane):
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    segments = module("addon.ui.overlay").flow_segments(plane)
    assert len(segments) > 0 and len(segments) % 6 == 0
    shafts = segments.reshape(-1, 6, 3)[:, :2]  # start and tip of each arrow, world space
    direction = shafts[:, 1] - shafts[:, 0]
    assert (direction[:, 0] > 0).all()  # the river flows to the right
    assert np.abs(direction[:, 1]).max() < 0.3 * direction[:, 0].max()
    v_of_start = (shafts[:, 0, 1] - plane.bound_box[0][1]) / plane.dimensions.y
    assert v_of_start.min() > 0.15 and v_of_start.max() < 0.45  # only over the river's mask
    assert bpy.ops.image_dynamics.flow_overlay() == {"FINISHED"}
    assert module("addon.ui.overlay").is_shown(plane)
    assert bpy.ops.image_dynamics.flow_overlay() == {"FINISHED"}
    assert not module("addon.ui.overlay").is_shown(plane)
