"""The job: what to animate and how. Parsed from plain JSON data and checked key by key.

The layer types and their parameters are declared once in layertypes/ (shared with the add-on and the command
line); this module checks the top level, turns a layer's checked values into the objects the engines use, and
turns SpecError into the backend's JobSpecError. docs/job-spec.md describes every key (a test keeps it in step).
"""

from dataclasses import dataclass

from layertypes import SpecError, divides_loop, layer_type, number, resolve_layer, whole

from .errors import JobSpecError

DEVICES = ("auto", "cpu", "cuda", "mps")
TOP_LEVEL = {"loop_frames", "layers", "working_resolution", "device", "image_size", "fps"}


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


class Layer:
    """One layer: every parameter of its type as an attribute (layertypes/<type>.py), masks, pins and hints as
    objects. `values` keeps the checked JSON form, as reported back."""

    def __init__(self, values):
        self.values = values
        for key, value in values.items():
            setattr(self, key, value)
        for param in layer_type(values["type"]).params:  # every mask (the layer's, its pin mask, a clip region)
            if param.kind == "mask":
                setattr(self, param.key, _mask(values[param.key]) if values.get(param.key) else None)
        self.pins = [Pin(uv=tuple(pin["uv"]), radius=pin["radius"]) for pin in values["pins"]]
        self.hints = [Hint(uv=tuple(h["uv"]), velocity=tuple(h["velocity"])) for h in values.get("hints") or []]
        self.velocity = tuple(values["velocity"]) if values.get("velocity") else None

    def masks(self, on_still=False):
        """(key, Mask) of every mask the layer has (its own, its pin mask, a clip's region), in declaration order;
        `on_still`: only those drawn over the still (the clip's region has the clip's aspect)."""
        kinds = [param.key for param in layer_type(self.type).params
                 if param.kind == "mask" and not (on_still and param.on_clip)]
        return [(key, getattr(self, key)) for key in kinds if getattr(self, key) is not None]


@dataclass
class Job:
    loop_frames: int
    layers: list
    working_resolution: int = 256
    device: str = "auto"
    image_size: tuple = None  # (width, height) of the original when the image sent is a reduced copy
    fps: float = 24.0         # frames per second of the scene: rates per second become cycles per loop

    def resolved(self):
        """The job as computed, every layer with every parameter after defaults (JSON data)."""
        data = {"loop_frames": self.loop_frames, "working_resolution": self.working_resolution,
                "device": self.device, "fps": self.fps, "layers": [layer.values for layer in self.layers]}
        if self.image_size:
            data["image_size"] = list(self.image_size)
        return data


def parse_job(data):
    try:
        return _parse(data)
    except SpecError as exc:
        raise JobSpecError(str(exc)) from None


def _parse(data):
    where = "job"
    _expect(isinstance(data, dict), where, "must be a JSON object")
    for key in data:
        _expect(key in TOP_LEVEL, f"{where}:", f"unknown key {key!r} (allowed: {', '.join(sorted(TOP_LEVEL))})")
    for key in ("layers", "loop_frames"):
        _expect(key in data, f"{where}:", f"missing key {key!r}")
    job = Job(loop_frames=whole(data["loop_frames"], f"{where}.loop_frames", 2, 100000), layers=[],
              working_resolution=whole(data.get("working_resolution", 256), f"{where}.working_resolution", 8, 8192),
              device=data.get("device", "auto"), fps=number(data.get("fps", 24.0), f"{where}.fps", 1.0, 1000.0))
    if "image_size" in data:
        size = data["image_size"]
        _expect(isinstance(size, list) and len(size) == 2, f"{where}.image_size", "must be [width, height]")
        job.image_size = tuple(whole(n, f"{where}.image_size[{i}]", 1, 1 << 20) for i, n in enumerate(size))
    _expect(job.device in DEVICES, f"{where}.device", f"must be one of {', '.join(DEVICES)}, not {job.device!r}")
    layers = data["layers"]
    _expect(isinstance(layers, list) and layers, f"{where}.layers", "must be a non-empty list of layers")
    for index, layer in enumerate(layers):
        values = resolve_layer(layer, f"{where}.layers[{index}]")
        problem = divides_loop(values, job.loop_frames)
        _expect(problem is None, f"{where}.layers[{index}]:", problem)
        job.layers.append(Layer(values))
    names = [layer.name for layer in job.layers]
    _expect(len(set(names)) == len(names), f"{where}.layers", f"layer names must be unique, got {names}")
    return job


def _mask(data):
    return Mask(rect=tuple(data["rect"])) if "rect" in data else Mask(**data)


def _expect(condition, where, message):
    if not condition:
        raise SpecError(f"{where} {message}")
