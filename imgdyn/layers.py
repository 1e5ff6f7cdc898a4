"""`--layer TYPE key=value ...` on the command line -> layers of a job (docs/job-spec.md).

    --layer fluid rect=0,0.2,1,0.38 hint=0.2,0.3,2,0 hint=0.8,0.3,2.5,0 feather=0.03
    --layer drift rect=0,0.62,1,1 speed=0.6 angle=0
    --layer sway rect=0.1,0.3,0.5,1 amplitude=5 wind=0 pin=0.3,0.3,0.02
    --layer flicker rect=0.4,0.2,0.6,0.63 amount=0.35 rate=6 tint=1,0.45,0.1
    --layer clip rect=0,0.2,1,0.38 clip=waterfall.mp4 method=predict model=out/waterfall.pt

Every parameter a layer type declares (layertypes/) is a key; `python -m imgdyn layers` lists them. Besides:
rect= / mask= (the mask as a rectangle or an image), pin_mask=IMAGE, hint=u,v,vx,vy and pin=u,v[,radius]
(repeatable), and for a drift speed= and angle= instead of velocity=x,y. Speeds are image pixels per frame,
angles degrees (0 to the right, 90 up), positions UV (0..1, v up).
"""

import math

from layertypes import LAYER_TYPES, SpecError, layer_type


class UsageError(Exception):
    """A bad command line: the message is the one line the user sees."""


def parse_layers(layer_args):
    return [_parse_layer(tokens, index) for index, tokens in enumerate(layer_args)]


def _parse_layer(tokens, index):
    try:
        declared = layer_type(tokens[0].lower())
    except SpecError:
        names = ", ".join(sorted({name for layer in LAYER_TYPES.values() for name in (layer.name,) + layer.aliases}))
        raise UsageError(f"--layer {index + 1}: unknown layer type '{tokens[0]}' (use {names})") from None
    params = {param.key: param for param in declared.params}
    own_mask = next(param.key for param in declared.params if param.kind == "mask" and param.required)
    # hint= and pin= add to the layer's list of that kind; speed= and angle= make its velocity
    listed = {{"hints": "hint", "pins": "pin"}[param.kind]: param.key for param in declared.params
              if param.kind in ("pins", "hints")}
    velocity = next((param.key for param in declared.params if param.kind == "velocity"), None)
    layer = {"name": f"{tokens[0].lower()} {index + 1}", "type": declared.name,
             own_mask: {"rect": [0.0, 0.0, 1.0, 1.0]}}
    speed, angle = None, 0.0
    for token in tokens[1:]:
        key, _, value = token.partition("=")
        where = f"--layer {index + 1} {key}"
        if not value:
            raise UsageError(f"{where}: expected key=value, got '{token}'")
        if key == "name":
            layer["name"] = value
        elif key == "rect":  # the layer's own mask, as a rectangle
            layer[own_mask] = {"rect": _numbers(value, 4, where)}
        elif key == "hint" and key in listed:
            u, v, vx, vy = _numbers(value, 4, where)
            layer.setdefault(listed[key], []).append({"uv": [u, v], "velocity": [vx, vy]})
        elif key == "pin" and key in listed:
            values = _numbers(value, (2, 3), where)
            radius = values[2] if len(values) > 2 else 0.0
            layer.setdefault(listed[key], []).append({"uv": values[:2], "radius": radius})
        elif key in ("speed", "angle") and velocity:
            number = _numbers(value, 1, where)[0]
            if key == "speed" and number < 0:
                raise UsageError(f"{where}: speed must be 0 or more (pixels per frame), got {number:g}; "
                                 f"use angle= to reverse the direction")
            speed, angle = (number, angle) if key == "speed" else (speed, number)
        elif key in params and params[key].kind not in ("pins", "hints", "array"):
            layer[key] = _value(params[key], value, where)
        else:
            raise UsageError(f"{where}: '{key}' is not a setting of a {declared.name} layer "
                             f"(see `python -m imgdyn layers`)")
    if velocity and velocity not in layer:
        speed = 1.0 if speed is None else speed
        layer[velocity] = [speed * math.cos(math.radians(angle)), speed * math.sin(math.radians(angle))]
    return layer


def _value(param, text, where):
    if param.kind == "number":
        return _numbers(text, 1, where)[0]
    if param.kind == "whole":
        number = _numbers(text, 1, where)[0]
        if number != int(number):
            raise UsageError(f"{where}: expected a whole number, got '{text}'")
        return int(number)
    if param.kind == "switch":
        if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
            raise UsageError(f"{where}: expected true or false, got '{text}'")
        return text.lower() in ("true", "yes", "1")
    if param.kind == "mask":
        return {"image": text}
    if param.kind == "velocity":
        return _numbers(text, 2, where)
    if param.kind == "color":
        return _numbers(text, 3, where)
    return text  # choice, path: checked with the job


def _numbers(text, count, where):
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"{where}: '{text}' is not a list of numbers") from None
    counts = count if isinstance(count, tuple) else (count,)
    if len(values) not in counts or not all(math.isfinite(v) for v in values):
        raise UsageError(f"{where}: expected {' or '.join(map(str, counts))} finite numbers, got '{text}'")
    return values


def describe():
    """Every layer type and its settings, from the declarations: `python -m imgdyn layers`."""
    lines = []
    for declared in LAYER_TYPES.values():
        names = " or ".join((declared.name,) + declared.aliases)
        lines.append(f"{names}: {declared.help}")
        for param in declared.params:
            if param.kind in ("array",):
                continue
            default = "" if param.default in (None, ()) else f" (default {param.default})"
            unit = f" [{param.unit}]" if param.unit else ""
            lines.append(f"  {param.key}{unit}{default}: {param.help}")
        lines.append("")
    return "\n".join(lines)
