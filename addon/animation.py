"""F-curves and drivers that play without this extension and without Python (simple expressions only)."""

import bpy


def add_driver(id_data, data_path, expression, variables=(), index=-1):
    """A scripted driver; `variables` are (name, id_type, id, data_path) single-property reads."""
    fcurve = id_data.driver_add(data_path, index) if index >= 0 else id_data.driver_add(data_path)
    for modifier in list(fcurve.modifiers):  # driver_add puts a generator on new curves; we want the raw value
        fcurve.modifiers.remove(modifier)
    driver = fcurve.driver
    driver.type = "SCRIPTED"
    for name, id_type, target_id, target_path in variables:
        variable = driver.variables.new()
        variable.name = name
        variable.type = "SINGLE_PROP"
        variable.targets[0].id_type = id_type
        variable.targets[0].id = target_id
        variable.targets[0].data_path = target_path
    driver.expression = expression
    if not driver.is_simple_expression:
        raise RuntimeError(f"driver expression {expression!r} would need Python to run")
    return fcurve


def ensure_fcurve(id_data, data_path, index, action_name):
    """An F-curve on the ID's own action, created as needed (layered actions in 4.4+, legacy before)."""
    anim = id_data.animation_data or id_data.animation_data_create()
    if anim.action is None:
        anim.action = bpy.data.actions.new(action_name)
    action = anim.action
    if hasattr(action, "fcurve_ensure_for_datablock"):
        return action.fcurve_ensure_for_datablock(id_data, data_path, index=index)
    return action.fcurves.find(data_path, index=index) or action.fcurves.new(data_path, index=index)


def set_linear_keys(fcurve, frames, values):
    """Keyframes in one bulk call, linear between them and straight on before and after."""
    points = fcurve.keyframe_points
    points.clear()
    points.add(len(frames))
    coords = [c for pair in zip(frames, values) for c in pair]
    points.foreach_set("co", coords)
    points.foreach_set("interpolation", [bpy.types.Keyframe.bl_rna.properties["interpolation"]
                                         .enum_items["LINEAR"].value] * len(frames))
    fcurve.extrapolation = "LINEAR"
    fcurve.update()


def set_constant_interpolation(id_data, data_paths):
    """Keys of these paths hold their value until the next key (a pluck is a step, not a ramp)."""
    for fcurve in fcurves_of(id_data):
        if fcurve.data_path in data_paths:
            for point in fcurve.keyframe_points:
                point.interpolation = "CONSTANT"


def fcurves_of(id_data):
    """The F-curves of the ID's own action (layered actions in 4.4+, legacy before); empty when it has none."""
    anim = id_data.animation_data
    if anim is None or anim.action is None:
        return ()
    if hasattr(anim.action, "fcurves"):
        return anim.action.fcurves
    from bpy_extras.anim_utils import action_get_channelbag_for_slot
    channelbag = action_get_channelbag_for_slot(anim.action, anim.action_slot)
    return channelbag.fcurves if channelbag else ()


def remove_fcurve(id_data, fcurve):
    """Take one F-curve out of the ID's own action (layered actions in 4.4+, legacy before)."""
    action = id_data.animation_data.action
    if hasattr(action, "fcurves"):
        action.fcurves.remove(fcurve)
        return
    from bpy_extras.anim_utils import action_get_channelbag_for_slot
    action_get_channelbag_for_slot(action, id_data.animation_data.action_slot).fcurves.remove(fcurve)


def remove_animation(id_data):
    """Drop the ID's drivers and its action (deleting the action too, so none are left orphaned)."""
    anim = id_data.animation_data
    if anim is None:
        return
    action = anim.action
    id_data.animation_data_clear()
    if action is not None and action.users == 0:
        bpy.data.actions.remove(action)
