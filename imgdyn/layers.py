"""`--layer TYPE key=value ...` on the command line -> layers of a job (docs/job-spec.md).

    --layer fluid rect=0,0.2,1,0.38 hint=0.2,0.3,2,0 hint=0.8,0.3,2.5,0 feather=0.03
    --layer drift rect=0,0.62,1,1 speed=0.6 angle=0
    --layer sway rect=0.1,0.3,0.5,1 amplitude=5 wind=0 pin=0.3,0.3,0.02
    --layer clip rect=0,0.2,1,0.38 clip=waterfall.mp4 method=predict model=out/waterfall.pt
Speeds are image pixels per frame, angles degrees (0 to the right, 90 up), positions UV (0..1, v up).
"""

import math


class UsageError(Exception):
    """A bad command line: the message is the one line the user sees."""


TYPES = {"fluid": "fluid", "drift": "drift", "sway": "oscillation", "oscillation": "oscillation", "clip": "clip"}
NUMBERS = {"feather", "pin_falloff", "edge_tolerance", "amplitude", "wind", "falloff", "scale", "sway_across",
           "train_seconds"}
WORDS = {"clip", "motion", "method", "model"}
WHOLE_NUMBERS = {"terms", "seed", "phase_frames"}


def parse_layers(layer_args):
    return [_parse_layer(tokens, index) for index, tokens in enumerate(layer_args)]


def _parse_layer(tokens, index):
    kind = tokens[0].lower()
    if kind not in TYPES:
        raise UsageError(f"--layer {index + 1}: unknown layer type '{tokens[0]}' (use fluid, drift, sway or clip)")
    layer = {"name": f"{kind} {index + 1}", "type": TYPES[kind], "mask": {"rect": [0.0, 0.0, 1.0, 1.0]}}
    speed, angle = None, 0.0
    for token in tokens[1:]:
        key, _, value = token.partition("=")
        where = f"--layer {index + 1} {key}"
        if not value:
            raise UsageError(f"{where}: expected key=value, got '{token}'")
        if key == "name":
            layer["name"] = value
        elif key == "rect":
            layer["mask"] = {"rect": _numbers(value, 4, where)}
        elif key == "mask":
            layer["mask"] = {"image": value}
        elif key == "pin_mask":
            layer["pin_mask"] = {"image": value}
        elif key == "hint":
            u, v, vx, vy = _numbers(value, 4, where)
            layer.setdefault("hints", []).append({"uv": [u, v], "velocity": [vx, vy]})
        elif key == "pin":
            values = _numbers(value, (2, 3), where)
            layer.setdefault("pins", []).append({"uv": values[:2], "radius": values[2] if len(values) > 2 else 0.0})
        elif key == "speed":
            speed = _numbers(value, 1, where)[0]
            if speed < 0:
                raise UsageError(f"{where}: speed must be 0 or more (pixels per frame), got {speed:g}; "
                                 f"use angle= to reverse the direction")
        elif key == "angle":
            angle = _numbers(value, 1, where)[0]
        elif key in WORDS:
            layer[key] = value
        elif key in NUMBERS:
            layer[key] = _numbers(value, 1, where)[0]
        elif key in WHOLE_NUMBERS:
            layer[key] = int(_numbers(value, 1, where)[0])
        else:
            raise UsageError(f"{where}: unknown setting '{key}'")
    if layer["type"] == "drift":
        speed = 1.0 if speed is None else speed
        layer["velocity"] = [speed * math.cos(math.radians(angle)), speed * math.sin(math.radians(angle))]
    elif speed is not None:
        raise UsageError(f"--layer {index + 1}: speed= is for drift layers; fluid layers take hint=u,v,vx,vy")
    return layer


def _numbers(text, count, where):
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"{where}: '{text}' is not a list of numbers") from None
    counts = count if isinstance(count, tuple) else (count,)
    if len(values) not in counts or not all(math.isfinite(v) for v in values):
        raise UsageError(f"{where}: expected {' or '.join(map(str, counts))} finite numbers, got '{text}'")
    return values
