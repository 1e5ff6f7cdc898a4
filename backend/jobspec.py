"""The job: what to animate and how. Parsed from plain JSON data and checked key by key.

docs/job-spec.md is the user-facing description of every key; keep the two in step.
"""

import math
import os
from dataclasses import dataclass, field

from .errors import JobSpecError

LAYER_TYPES = ("fluid", "drift", "oscillation", "clip")
CLIP_MOTIONS = ("fluid", "oscillation")
CLIP_METHODS = ("stats", "predict", "aligned")
MAX_TERMS = 16
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class Hint:
    uv: tuple          # position in UV space, (0, 0) bottom left, (1, 1) top right
    velocity: tuple    # source-image pixels per frame, x to the right, y up


@dataclass
class Mask:
    rect: tuple = None   # (u0, v0, u1, v1) in UV space
    image: str = None    # a file path (command line) ...
    array: str = None    # ... or the name of an array sent with the job (protocol)


@dataclass
class Pin:
    uv: tuple
    radius: float      # fraction of the image width


@dataclass
class Layer:
    name: str
    type: str
    mask: Mask
    hints: list = field(default_factory=list)    # fluid: where and how fast it moves
    velocity: tuple = None                       # drift: one velocity for the whole mask
    feather: float = 0.02
    edge_tolerance: float = 0.25
    pins: list = field(default_factory=list)
    pin_mask: Mask = None
    pin_falloff: float = 0.05
    phase_frames: int = 0        # flowing layers: the streams' restart period P (0: about a second, dividing T)
    # oscillation
    amplitude: float = 4.0       # source pixels
    wind: float = 0.0            # degrees: 0 to the right, 90 up
    terms: int = 8
    falloff: float = 2.0         # power of term k proportional to k^-falloff
    scale: float = 0.1           # coherence length, fraction of the image width
    seed: int = 0
    sway_across: float = 0.3     # motion across the wind, relative to along it
    # clip: the motion comes from a reference clip
    clip: str = None             # a video file, a folder of images or a glob pattern
    clip_array: str = None       # ... or the name of an (N, H, W, 3) uint8 array sent with the job
    motion: str = "fluid"
    method: str = "stats"
    model: str = None            # where the learned predictor is saved, and reused from
    reuse_model: bool = True
    train_seconds: float = 30.0


@dataclass
class Job:
    loop_frames: int
    layers: list
    working_resolution: int = 256
    device: str = "auto"
    image_size: tuple = None  # (width, height) of the original when the image sent is a reduced copy


def parse_job(data):
    where = "job"
    _expect(isinstance(data, dict), where, "must be a JSON object")
    _only_keys(data, where, required={"loop_frames", "layers"},
               optional={"working_resolution", "device", "image_size"})
    job = Job(
        loop_frames=_int(data["loop_frames"], f"{where}.loop_frames", 2, 100000),
        layers=[],
        working_resolution=_int(data.get("working_resolution", 256), f"{where}.working_resolution", 8, 8192),
        device=data.get("device", "auto"),
    )
    if "image_size" in data:
        size = data["image_size"]
        _expect(isinstance(size, list) and len(size) == 2, f"{where}.image_size", "must be [width, height]")
        job.image_size = tuple(_int(n, f"{where}.image_size[{i}]", 1, 1 << 20) for i, n in enumerate(size))
    _expect(job.device in DEVICES, f"{where}.device", f"must be one of {', '.join(DEVICES)}, not {job.device!r}")
    layers = data["layers"]
    _expect(isinstance(layers, list) and layers, f"{where}.layers", "must be a non-empty list of layers")
    for index, layer in enumerate(layers):
        job.layers.append(_parse_layer(layer, f"{where}.layers[{index}]"))
    for index, layer in enumerate(job.layers):
        _expect(layer.phase_frames == 0 or job.loop_frames % layer.phase_frames == 0,
                f"{where}.layers[{index}].phase_frames",
                f"must divide the loop length {job.loop_frames} (or be 0 for about a second), got {layer.phase_frames}")
    names = [layer.name for layer in job.layers]
    _expect(len(set(names)) == len(names), f"{where}.layers", f"layer names must be unique, got {names}")
    return job


def _parse_layer(data, where):
    _expect(isinstance(data, dict), where, "must be a JSON object")
    _expect(data.get("type") in LAYER_TYPES, f"{where}.type",
            f"must be one of {', '.join(LAYER_TYPES)}, not {data.get('type')!r}")
    common = {"feather", "edge_tolerance", "pins", "pin_mask", "pin_falloff"}
    hints = []
    flowing = common | {"phase_frames"}
    if data["type"] == "fluid":
        _only_keys(data, where, required={"name", "type", "mask", "hints"}, optional=flowing)
        hints = data["hints"]
        _expect(isinstance(hints, list) and hints, f"{where}.hints", "must list at least one hint")
    elif data["type"] == "drift":
        _only_keys(data, where, required={"name", "type", "mask", "velocity"}, optional=flowing)
    elif data["type"] == "oscillation":
        _only_keys(data, where, required={"name", "type", "mask"}, optional=common | {
            "amplitude", "wind", "terms", "falloff", "scale", "seed", "sway_across"})
    else:
        _only_keys(data, where, required={"name", "type", "mask"}, optional=flowing | {
            "clip", "clip_array", "motion", "method", "model", "reuse_model", "train_seconds", "terms", "scale",
            "seed", "sway_across"})
        _expect(("clip" in data) != ("clip_array" in data), where, "needs exactly one of 'clip' and 'clip_array'")
        _expect(data.get("motion", "fluid") in CLIP_MOTIONS, f"{where}.motion",
                f"must be one of {', '.join(CLIP_MOTIONS)}")
        _expect(data.get("method", "stats") in CLIP_METHODS, f"{where}.method",
                f"must be one of {', '.join(CLIP_METHODS)}")
        _expect(data.get("motion", "fluid") == "fluid" or data.get("method", "stats") == "stats",
                f"{where}.method", "must be 'stats' for swaying motion from a clip")
        for key in ("clip", "clip_array", "model"):
            if key in data:
                _expect(isinstance(data[key], str) and data[key] and "\0" not in data[key], f"{where}.{key}",
                        "must be a non-empty path or name")
        if "model" in data:
            folder = os.path.dirname(os.path.abspath(data["model"]))
            _expect(os.path.isdir(folder) and data["model"].endswith(".pt"), f"{where}.model",
                    f"must be a .pt file in an existing folder, got {data['model']!r}")
    name = data["name"]
    _expect(isinstance(name, str) and name.strip(), f"{where}.name", "must be a non-empty string")
    pins = data.get("pins", [])
    _expect(isinstance(pins, list), f"{where}.pins", "must be a list of pins")
    return Layer(
        name=name,
        type=data["type"],
        mask=_parse_mask(data["mask"], f"{where}.mask"),
        hints=[_parse_hint(hint, f"{where}.hints[{i}]") for i, hint in enumerate(hints)],
        velocity=(_numbers(data["velocity"], f"{where}.velocity", 2, -1000.0, 1000.0)
                  if "velocity" in data else None),
        feather=_number(data.get("feather", 0.02), f"{where}.feather", 0.0, 0.5),
        edge_tolerance=_number(data.get("edge_tolerance", 0.25), f"{where}.edge_tolerance", 0.01, 100.0),
        pins=[_parse_pin(pin, f"{where}.pins[{i}]") for i, pin in enumerate(pins)],
        pin_mask=_parse_mask(data["pin_mask"], f"{where}.pin_mask") if "pin_mask" in data else None,
        pin_falloff=_number(data.get("pin_falloff", 0.05), f"{where}.pin_falloff", 0.0, 1.0),
        phase_frames=_int(data.get("phase_frames", 0), f"{where}.phase_frames", 0, 100000),
        amplitude=_number(data.get("amplitude", 4.0), f"{where}.amplitude", 0.0, 10000.0),
        wind=_number(data.get("wind", 0.0), f"{where}.wind", -360.0, 360.0),
        terms=_int(data.get("terms", 8), f"{where}.terms", 1, MAX_TERMS),
        falloff=_number(data.get("falloff", 2.0), f"{where}.falloff", 0.0, 6.0),
        scale=_number(data.get("scale", 0.1), f"{where}.scale", 0.001, 2.0),
        seed=_int(data.get("seed", 0), f"{where}.seed", 0, 2 ** 31 - 1),
        sway_across=_number(data.get("sway_across", 0.3), f"{where}.sway_across", 0.0, 1.0),
        clip=data.get("clip"),
        clip_array=data.get("clip_array"),
        motion=data.get("motion", "fluid"),
        method=data.get("method", "stats"),
        model=data.get("model"),
        reuse_model=_bool(data.get("reuse_model", True), f"{where}.reuse_model"),
        train_seconds=_number(data.get("train_seconds", 30.0), f"{where}.train_seconds", 0.0, 3600.0),
    )


def _parse_pin(data, where):
    _expect(isinstance(data, dict), where, "must be a JSON object")
    _only_keys(data, where, required={"uv"}, optional={"radius"})
    return Pin(uv=_numbers(data["uv"], f"{where}.uv", 2, 0.0, 1.0),
               radius=_number(data.get("radius", 0.0), f"{where}.radius", 0.0, 1.0))


def _parse_mask(data, where):
    _expect(isinstance(data, dict) and len(data) == 1, where,
            "must be an object with exactly one of 'rect', 'image' or 'array'")
    _only_keys(data, where, required=set(), optional={"rect", "image", "array"})
    if "rect" in data:
        rect = _numbers(data["rect"], f"{where}.rect", 4, 0.0, 1.0)
        _expect(rect[0] < rect[2] and rect[1] < rect[3], f"{where}.rect",
                f"must be [u0, v0, u1, v1] with u0 < u1 and v0 < v1, got {list(rect)}")
        return Mask(rect=rect)
    key = next(iter(data))
    value = data[key]
    _expect(isinstance(value, str) and value, f"{where}.{key}", "must be a non-empty string")
    return Mask(**{key: value})


def _parse_hint(data, where):
    _expect(isinstance(data, dict), where, "must be a JSON object")
    _only_keys(data, where, required={"uv", "velocity"}, optional=set())
    return Hint(uv=_numbers(data["uv"], f"{where}.uv", 2, 0.0, 1.0),
                velocity=_numbers(data["velocity"], f"{where}.velocity", 2, -1000.0, 1000.0))


def _only_keys(data, where, required, optional):
    for key in data:
        if key not in required and key not in optional:
            allowed = ", ".join(sorted(required | optional))
            raise JobSpecError(f"{where}: unknown key {key!r} (allowed: {allowed})")
    for key in sorted(required):
        if key not in data:
            raise JobSpecError(f"{where}: missing key {key!r}")


def _expect(condition, where, message):
    if not condition:
        raise JobSpecError(f"{where} {message}")


def _number(value, where, low, high):
    _expect(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
            where, f"must be a finite number, got {value!r}")
    _expect(low <= value <= high, where, f"must be between {low} and {high}, got {value}")
    return float(value)


def _numbers(value, where, count, low, high):
    _expect(isinstance(value, list) and len(value) == count, where, f"must be a list of {count} numbers")
    return tuple(_number(v, f"{where}[{i}]", low, high) for i, v in enumerate(value))


def _bool(value, where):
    _expect(isinstance(value, bool), where, f"must be true or false, got {value!r}")
    return value


def _int(value, where, low, high):
    _expect(isinstance(value, int) and not isinstance(value, bool), where, f"must be a whole number, got {value!r}")
    _expect(low <= value <= high, where, f"must be between {low} and {high}, got {value}")
    return value
