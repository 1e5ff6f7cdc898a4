"""Every layer type, declared once: its name, label, help, parameters and carriers (layertypes/<type>.py).

Both sides read these: the backend's job checks (backend/jobspec.py) and engines (backend/engines/<type>.py),
the add-on's properties, panel and request (addon/settings/layer_values.py), the command line's `--layer`
(imgdyn/layers.py) and the test that keeps docs/job-spec.md in step. Adding a layer type: a module here, an
engine, and a line in each registry.
"""

import os

from . import clip, drift, flicker, fluid, sway
from .declare import KINDS, LayerType, Param, SpecError, numbers, number, whole  # noqa: F401
from .shared import divides_loop  # noqa: F401

LAYER_TYPES = {layer.name: layer for layer in (fluid.LAYER, drift.LAYER, sway.LAYER, flicker.LAYER, clip.LAYER)}


def layer_type(name, where="layer.type"):
    """The declaration of a type, by its job name or a command-line alias; SpecError for any other."""
    for layer in LAYER_TYPES.values():
        if name == layer.name or name in layer.aliases:
            return layer
    raise SpecError(f"{where} must be one of {', '.join(LAYER_TYPES)}, not {name!r}")


def resolve_layer(data, where="layer"):
    """A layer of a job with every parameter checked and defaulted (see LayerType.resolve)."""
    if not isinstance(data, dict):
        raise SpecError(f"{where} must be a JSON object")
    return layer_type(data.get("type"), f"{where}.type").resolve(data, where)


def baked_motion(spec):
    """"flow", "sway" or "light": what a job layer bakes; a clip bakes the motion it is told to take from the clip
    (its choices are the names of the types that bake that motion)."""
    declared = layer_type(spec.get("type"))
    if declared.motion != "any":
        return declared.motion
    return layer_type(spec.get("motion") or declared.param("motion").default).motion


def files_relative_to(job, base):
    """The job with every file path of its layers (a clip, a model file) taken relative to the job file's folder
    `base`, as mask images are; wrong values are left for the job checks to name. Both command lines use it."""
    layers = job.get("layers") if isinstance(job, dict) else None
    for layer in layers if isinstance(layers, list) else ():
        try:
            params = layer_type(layer.get("type")).params if isinstance(layer, dict) else ()
        except SpecError:
            continue
        for param in params:
            value = layer.get(param.key)
            if param.kind == "path" and isinstance(value, str) and value and "\0" not in value:
                layer[param.key] = os.path.join(base, os.path.expanduser(value))
    return job
