"""Every layer type, declared once: its name, label, help, parameters and carriers (layertypes/<type>.py).

Both sides read these: the backend's job checks (backend/jobspec.py) and engines (backend/engines/<type>.py),
the add-on's properties, panel and request (addon/settings/layer.py), the command line's `--layer`
(imgdyn/layers.py) and the test that keeps docs/job-spec.md in step. Adding a layer type: a module here, an
engine, and a line in each registry.
"""

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
