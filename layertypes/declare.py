"""The parts a layer type is declared with: its parameters (type, default, range, unit, help) and itself.

Plain Python: the backend, the add-on, the command line and the docs test all read these, so nothing here may
import torch, numpy or bpy. Checking a value lives here too, so that every side refuses the same things.
"""

import math
import os
from dataclasses import dataclass, field

# What a parameter holds. Scalars: number, whole, switch, choice, path (a file), array (the name of an array sent
# with a protocol request), color ([r, g, b], linear, 0 to 1). Shapes: mask ({"rect"|"image"|"array": ...}),
# pins, hints, velocity ([x, y]).
KINDS = ("number", "whole", "switch", "choice", "path", "array", "color", "mask", "pins", "hints", "velocity")


class SpecError(ValueError):
    """A job value that is not allowed; the message names it by its path in the job."""


@dataclass(frozen=True)
class Param:
    key: str                 # the job's key
    kind: str
    label: str               # what the panel calls it
    help: str                # one or two sentences, for the panel's tooltip, --layer help and docs/job-spec.md
    default: object = None   # None with required=False: absent unless given
    low: float = None
    high: float = None
    soft_high: float = None  # where the panel's slider ends (typing can go up to `high`)
    unit: str = ""           # "px", "px/frame", "width", "degrees", "frames", "seconds"
    choices: tuple = ()      # (value, label, help) for kind "choice"
    required: bool = False
    shown_if: tuple = ()     # (key, value): the panel shows it only when another parameter has that value
    blender: str = None      # the add-on's property name, when older .blend files call it something else
    suffix: str = ""         # kind "path": the file's ending; the file is written, so only its folder must exist
    old: bool = False        # kept for old job files only: accepted and checked, never shown or sent by the add-on
    on_clip: bool = False    # kind "mask": drawn on a reference clip (its aspect), not on the still

    def __post_init__(self):
        assert self.kind in KINDS, self.kind

    @property
    def prop(self):
        return self.blender or self.key

    def check(self, value, where):
        """The value as the backend uses it (JSON types), or SpecError."""
        if value is None and not self.required and self.default is None:
            return None
        kind = self.kind
        if kind == "number":
            _expect(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
                    where, f"must be a finite number, got {value!r}")
            return float(self._in_range(value, where))
        if kind == "whole":
            _expect(isinstance(value, int) and not isinstance(value, bool), where,
                    f"must be a whole number, got {value!r}")
            return self._in_range(value, where)
        if kind == "switch":
            _expect(isinstance(value, bool), where, f"must be true or false, got {value!r}")
            return value
        if kind == "choice":
            names = [choice[0] for choice in self.choices]
            _expect(value in names, where, f"must be one of {', '.join(names)}, not {value!r}")
            return value
        if kind in ("path", "array"):
            _expect(isinstance(value, str) and value and "\0" not in value, where, "must be a non-empty path or name")
            if self.suffix:
                folder = os.path.dirname(os.path.abspath(value))
                _expect(os.path.isdir(folder) and value.endswith(self.suffix), where,
                        f"must be a {self.suffix} file in an existing folder, got {value!r}")
            return value
        if kind == "color":
            return list(numbers(value, where, 3, 0.0, 1.0))
        if kind == "mask":
            return check_mask(value, where)
        if kind == "pins":
            _expect(isinstance(value, (list, tuple)), where, "must be a list of pins")
            return [check_pin(pin, f"{where}[{i}]") for i, pin in enumerate(value)]
        if kind == "hints":
            _expect(isinstance(value, (list, tuple)) and value, where, "must list at least one hint")
            return [check_hint(hint, f"{where}[{i}]") for i, hint in enumerate(value)]
        return list(numbers(value, where, 2, -1000.0, 1000.0))  # velocity

    def _in_range(self, value, where):
        _expect(self.low <= value <= self.high, where, f"must be between {self.low:g} and {self.high:g}, got {value}")
        return value


@dataclass(frozen=True)
class LayerType:
    name: str                # the job's "type"
    label: str               # the panel's name for it
    help: str
    icon: str                # Blender icon of the layer list
    params: tuple            # Param, in the order the panel shows them
    motion: str              # "flow" or "light" (play on the texture), "sway" (texture or geometry); clip: "any"
    aliases: tuple = ()      # other names the command line accepts
    one_of: tuple = ()       # keys of which exactly one must be given
    rules: tuple = field(default=())  # (check(values) -> message or None), for rules across keys

    @property
    def carriers(self):
        """The bakes that can play it: a mesh cannot flow, so flowing motion is texture-only."""
        return ("texture",) if self.motion in ("flow", "light") else ("texture", "geometry")

    def param(self, key):
        return next(param for param in self.params if param.key == key)

    def resolve(self, data, where):
        """Every parameter of the layer, checked, defaults filled in: what the backend computes with."""
        _expect(isinstance(data, dict), where, "must be a JSON object")
        allowed = {"name", "type"} | {param.key for param in self.params}
        for key in data:
            if key not in allowed:
                raise SpecError(f"{where}: unknown key {key!r} for a {self.name} layer "
                                f"(allowed: {', '.join(sorted(allowed))})")
        for param in self.params:
            if param.required and param.key not in data:
                raise SpecError(f"{where}: missing key {param.key!r}")
        name = data.get("name")
        _expect(isinstance(name, str) and name.strip(), f"{where}.name", "must be a non-empty string")
        if self.one_of:
            given = [key for key in self.one_of if data.get(key) is not None]
            _expect(len(given) == 1, where, f"needs exactly one of {' and '.join(map(repr, self.one_of))}")
        values = {"name": name, "type": self.name}
        for param in self.params:
            values[param.key] = param.check(data.get(param.key, param.default), f"{where}.{param.key}")
        for rule in self.rules:
            message = rule(values)
            _expect(message is None, where, message)
        return values


def check_mask(data, where):
    _expect(isinstance(data, dict) and len(data) == 1 and next(iter(data)) in ("rect", "image", "array"), where,
            "must be an object with exactly one of 'rect', 'image' or 'array'")
    if "rect" in data:
        rect = numbers(data["rect"], f"{where}.rect", 4, 0.0, 1.0)
        _expect(rect[0] < rect[2] and rect[1] < rect[3], f"{where}.rect",
                f"must be [u0, v0, u1, v1] with u0 < u1 and v0 < v1, got {list(rect)}")
        return {"rect": list(rect)}
    key, value = next(iter(data.items()))
    _expect(isinstance(value, str) and value, f"{where}.{key}", "must be a non-empty string")
    return {key: value}


def check_pin(data, where):
    _only(data, where, required={"uv"}, optional={"radius"})
    return {"uv": list(numbers(data["uv"], f"{where}.uv", 2, 0.0, 1.0)),
            "radius": number(data.get("radius", 0.0), f"{where}.radius", 0.0, 1.0)}


def check_hint(data, where):
    _only(data, where, required={"uv", "velocity"}, optional=set())
    return {"uv": list(numbers(data["uv"], f"{where}.uv", 2, 0.0, 1.0)),
            "velocity": list(numbers(data["velocity"], f"{where}.velocity", 2, -1000.0, 1000.0))}


def numbers(value, where, count, low, high):
    _expect(isinstance(value, (list, tuple)) and len(value) == count, where, f"must be a list of {count} numbers")
    return tuple(number(v, f"{where}[{i}]", low, high) for i, v in enumerate(value))


def number(value, where, low, high):
    _expect(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
            where, f"must be a finite number, got {value!r}")
    _expect(low <= value <= high, where, f"must be between {low} and {high}, got {value}")
    return float(value)


def whole(value, where, low, high):
    _expect(isinstance(value, int) and not isinstance(value, bool), where, f"must be a whole number, got {value!r}")
    _expect(low <= value <= high, where, f"must be between {low} and {high}, got {value}")
    return value


def _only(data, where, required, optional):
    _expect(isinstance(data, dict), where, "must be a JSON object")
    for key in data:
        if key not in required and key not in optional:
            raise SpecError(f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(required | optional))})")
    for key in sorted(required):
        if key not in data:
            raise SpecError(f"{where}: missing key {key!r}")


def _expect(condition, where, message):
    if not condition:
        raise SpecError(f"{where} {message}")
