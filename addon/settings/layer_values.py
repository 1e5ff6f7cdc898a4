"""A layer's Blender properties, built from the layer types' declarations (layertypes/), and the two ways across:
properties -> the layer of a backend job (Generate), and a job's layer -> properties (the command line's --job).

Everything here goes by a parameter's kind, never by its name: a parameter declared in layertypes/ gets its
property, its panel row, its place in the request and its way back from a job file without an edit here.
The shapes that need the scene (masks, pins and hints drawn as guides, a drift's speed and direction) have one
handler per kind.
"""

import math
import os

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, FloatVectorProperty, IntProperty, PointerProperty, \
    StringProperty

from ...backend.sizes import fit_longest
from ...layertypes import LAYER_TYPES, layer_type
from ..plane import PlaneError, read_pixels
from ..request.guides import drift_velocity

MASK_SOURCES = [("RECT", "Rectangle", "A rectangle in UV space"),
                ("IMAGE", "Image", "A grey-scale image over the plane: white, brighter, counts more"),
                ("VERTEX_GROUP", "Vertex Group", "Weights painted on a subdivided plane: 1 counts fully, 0 not")]
SCENE_KINDS = ("pins", "hints", "velocity", "array")  # shown and given through guides and fixed properties
MAX_HINT_SPEED = 1000.0  # image pixels per frame, as the job allows (layertypes/declare.py)


def declared_params():
    """Every parameter of every layer type once, by property name (a key shared by types is one property)."""
    params = {}
    for declared in LAYER_TYPES.values():
        for param in declared.params:
            if not param.old:
                params.setdefault(param.prop, param)
    return params


def layer_type_items():
    return [(layer.name.upper(), layer.label, layer.help) for layer in LAYER_TYPES.values()]


def annotations():
    """Blender properties for every declared parameter (to be added to the layer's PropertyGroup)."""
    made = {}
    for name, param in declared_params().items():
        if param.kind == "mask":
            # An optional region (a pin mask) is there once its image or vertex group is chosen.
            made[f"{name}_source"] = EnumProperty(name=param.label, items=MASK_SOURCES,
                                                  default="RECT" if param.required else "IMAGE",
                                                  description=param.help)
            made[f"{name}_rect"] = FloatVectorProperty(
                name="Rectangle", size=4, min=0.0, max=1.0, default=(0.0, 0.0, 1.0, 1.0),
                description="The region as (u min, v min, u max, v max) in UV space")
            made[f"{name}_image"] = PointerProperty(name=f"{param.label} Image", type=bpy.types.Image,
                                                    description=param.help)
            made[f"{name}_vertex_group"] = StringProperty(name="Vertex Group",
                                                          description="Vertex group of the plane whose weights "
                                                                      "paint the region")
        elif param.kind not in SCENE_KINDS:
            made[name] = _scalar_property(param)
    return made


def _scalar_property(param):
    common = {"name": param.label, "description": param.help}
    if param.kind == "number":
        low, high, default, soft = param.low, param.high, param.default, param.soft_high
        if param.unit == "degrees":  # Blender shows angles in the user's unit and stores radians
            low, high, default = math.radians(low), math.radians(high), math.radians(default)
            return FloatProperty(subtype="ANGLE", min=low, max=high, default=default, **common)
        extra = {"soft_max": soft} if soft is not None else {}
        subtype = "FACTOR" if param.unit == "width" and high <= 1.0 else "NONE"
        return FloatProperty(min=low, max=high, default=default, subtype=subtype, **extra, **common)
    if param.kind == "whole":
        return IntProperty(min=param.low, max=param.high, default=param.default, **common)
    if param.kind == "switch":
        return BoolProperty(default=param.default, **common)
    if param.kind == "color":
        return FloatVectorProperty(subtype="COLOR", size=3, min=0.0, max=1.0, default=param.default, **common)
    if param.kind == "choice":
        items = [(value.upper(), label, text) for value, label, text in param.choices]
        return EnumProperty(items=items, default=param.default.upper(), **common)
    return StringProperty(subtype="FILE_PATH", **common)  # path


def layer_type_of(layer):
    return LAYER_TYPES[layer.layer_type.lower()]


def shown(layer, param):
    """Whether the panel shows a parameter: some only matter when another has a certain value."""
    if param.kind in ("array", "velocity", "pins") or param.old:
        return False
    if not param.shown_if:
        return True
    key, value = param.shown_if
    return read_scalar(layer, layer_type_of(layer).param(key)) == value


def read_scalar(layer, param):
    value = getattr(layer, param.prop)
    if param.kind == "number":
        return math.degrees(value) if param.unit == "degrees" else float(value)
    if param.kind == "choice":
        return value.lower()
    if param.kind == "path":
        return bpy.path.abspath(value) if value else None
    if param.kind == "color":
        return [float(c) for c in value]
    return value


def write_scalar(layer, param, value, base):
    if value is None:
        return
    if param.kind == "number" and param.unit == "degrees":
        value = math.radians(value)
    elif param.kind == "choice":
        value = value.upper()
    elif param.kind == "path":
        value = os.path.join(base, value)
    setattr(layer, param.prop, value)


# --- properties -> the backend job ---------------------------------------------------------------------------

class RequestContext:
    """What turning a layer into a job needs besides the layer: the plane, the arrays that travel with the job,
    the guides' hints and pins, the loop, and where a file the backend writes may go."""

    def __init__(self, plane, arrays, max_side, loop_frames, model_folder):
        self.plane, self.arrays, self.max_side = plane, arrays, max_side
        self.loop_frames, self.model_folder = loop_frames, model_folder


def layer_request(layer, index, guides, context):
    """The job's layer for a layer of the panel: every parameter of its type (docs/job-spec.md)."""
    layer_type = layer_type_of(layer)
    hints, pins = guides
    spec = {"name": layer.name, "type": layer_type.name}
    for param in (param for param in layer_type.params if not param.old):
        where = f"Layer '{layer.name}'"
        if param.kind == "mask":
            spec[param.key] = _mask_request(layer, param, f"{param.prop}{index}", context, where)
        elif param.kind == "pins":
            spec[param.key] = pins
        elif param.kind == "hints":
            spec[param.key] = _hints_request(layer, hints, where)
        elif param.kind == "velocity":
            spec[param.key] = drift_velocity(layer, context.plane.image.size[0], context.loop_frames)
        elif param.kind == "array":
            spec[param.key] = None  # protocol only: a layer in Blender names files
        elif param.kind == "number" and param.unit == "degrees" and hints:
            spec[param.key] = _arrow_direction(hints, read_scalar(layer, param))
        elif param.kind == "path":
            spec[param.key] = _path_request(layer, param, context, where)
        else:
            spec[param.key] = read_scalar(layer, param)
    return spec


def _mask_request(layer, param, array_name, context, where):
    source = getattr(layer, f"{param.prop}_source")
    chosen = getattr(layer, f"{param.prop}_image" if source == "IMAGE" else f"{param.prop}_vertex_group")
    if not param.required and source != "RECT" and not chosen:
        return None
    if source == "RECT":
        return {"rect": [float(c) for c in getattr(layer, f"{param.prop}_rect")]}
    plane = context.plane
    if source == "VERTEX_GROUP":
        size = fit_longest(*plane.image.size, context.max_side, enlarge=True)
        context.arrays[array_name] = plane.vertex_group_mask(getattr(layer, f"{param.prop}_vertex_group"), *size)
        return {"array": array_name}
    image = getattr(layer, f"{param.prop}_image")
    if image is None:
        raise PlaneError(f"{where} uses an image for its {param.label} but no image is chosen")
    context.arrays[array_name] = read_pixels(image, context.max_side, f"{param.label} image")[..., :3]
    return {"array": array_name}


def _hints_request(layer, guide_hints, where):
    hints = guide_hints + [{"uv": [float(c) for c in hint.uv], "velocity": [float(c) for c in hint.velocity]}
                           for hint in layer.hints]
    if not all(math.isfinite(c) for hint in hints for c in hint["uv"] + hint["velocity"]):
        raise PlaneError(f"{where} has a hint with a speed that is not a number: retype it")
    fastest = max((abs(c) for hint in hints for c in hint["velocity"]), default=0.0)
    if fastest > MAX_HINT_SPEED:
        raise PlaneError(f"{where} asks for {fastest:.0f} image pixels per frame, more than the {MAX_HINT_SPEED:.0f} a "
                         f"hint may have: shorten its arrow (an arrow's length is how far the picture moves in one "
                         f"loop), lower its speed, or lengthen the loop")
    if not hints:
        raise PlaneError(f"{where} has no hints: add an arrow, a flow line or a hint")
    return hints


def _arrow_direction(hints, fallback):
    """A direction set by the layer's first arrow, when it has one."""
    x, y = hints[0]["velocity"]
    return math.degrees(math.atan2(y, x)) if x or y else fallback


def _path_request(layer, param, context, where):
    path = read_scalar(layer, param)
    if param.suffix:  # a file the backend writes: next to the .blend unless the user chose one
        if path is None and context.model_folder:
            name = bpy.path.clean_name(f"{context.plane.obj.name}_{layer.name}")
            path = os.path.join(context.model_folder, f"{name}.imgdyn-model{param.suffix}")
        return path
    if layer_type_of(layer).one_of and param.key in layer_type_of(layer).one_of and (not path or
                                                                                      not os.path.exists(path)):
        what = param.help.split(" (")[0].split(";")[0]  # "A video file, a folder of images or ..."
        raise PlaneError(f"{where} needs a {param.label.lower()}: choose {what[0].lower()}{what[1:]} that exists")
    return path


# --- a job's layer -> properties ------------------------------------------------------------------------------

def apply_layer(layer, spec, base, place_pin):
    """Give a panel layer the values of a job's layer (paths relative to `base`); `place_pin(uv, radius)` adds a
    Pin guide. The layer's type must be set first."""
    layer.name = spec["name"]
    for param in (param for param in layer_type_of(layer).params if not param.old):
        value = spec.get(param.key)
        if value is None:
            continue
        if param.kind == "mask":
            _apply_mask(layer, param, value, base)
        elif param.kind == "pins":
            for pin in value:
                place_pin(pin["uv"], pin.get("radius", 0.0))
        elif param.kind == "hints":
            for given in value:
                hint = layer.hints.add()
                hint.uv, hint.velocity = given["uv"], given["velocity"]
        elif param.kind == "velocity":
            vx, vy = value
            layer.speed, layer.speed_unit, layer.drift_angle = math.hypot(vx, vy), "PX_PER_FRAME", math.atan2(vy, vx)
        elif param.kind != "array":
            write_scalar(layer, param, value, base)


def _apply_mask(layer, param, value, base):
    if "rect" in value:
        setattr(layer, f"{param.prop}_source", "RECT")
        setattr(layer, f"{param.prop}_rect", value["rect"])
    elif "image" in value:
        setattr(layer, f"{param.prop}_source", "IMAGE")
        setattr(layer, f"{param.prop}_image", bpy.data.images.load(os.path.join(base, value["image"]),
                                                                   check_existing=True))
    else:
        raise PlaneError(f"the {param.label} of layer '{layer.name}' names an array: only the protocol can send "
                         f"arrays; use a rectangle or an image file")


def layer_type_of_spec(spec):
    """The panel's type for a job's layer (a command-line alias such as "sway" included)."""
    return layer_type(spec["type"]).name.upper()
