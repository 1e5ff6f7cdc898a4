"""One engine per layer type, found by the type's name: each turns its layer's parameters into motion.

An engine module has `motion(layer, work)` returning a Flow (a velocity field: the loop is built from it by
backend/engine.py, the same for every flowing type), a Sway (spectral coefficients of positions) or a Light
(spectral coefficients of brightness, backend/appearance.py). Everything specific to
a type lives in its module; what all types share (masks, pins, the working grid, the loop) stays in
backend/engine.py. Adding a type: a module here and a line in ENGINES (its declaration is in layertypes/).
"""

from dataclasses import dataclass

import numpy as np

from . import clip, drift, flicker, fluid, oscillation

ENGINES = {"fluid": fluid, "drift": drift, "oscillation": oscillation, "flicker": flicker, "clip": clip}


@dataclass
class Work:
    """What an engine may use besides its layer: the working grid, the picture and the job's context."""
    grid: object          # backend.engine.Grid
    guide: np.ndarray     # (H, W, C) structure guide on the working grid
    image: np.ndarray     # the image as sent, float
    arrays: dict          # arrays sent with the job
    loop_frames: int
    fps: float            # the scene's frames per second (rates per second -> cycles per loop)
    device: object        # torch device
    envelope: np.ndarray  # (H, W) the layer's soft mask times its pins' stiffness
    edge_tolerance: float  # how strongly what spreads over the picture keeps to its regions (every layer has it)
    seed: int             # the layer's seed, for the types that have one (the same seed, the same motion)
    progress: object      # progress(stage, fraction), may raise CancelledError
    info: dict            # the layer's metadata: an engine records what it measured here

    def warn(self, message):
        """Something the user should know about the result (with the number that triggered it): listed in the
        layer's `warnings` and the job's."""
        self.info.setdefault("warnings", []).append(message)


def engine_for(layer_type):
    return ENGINES[layer_type]


def estimate(layer, job, pixels, where):
    """(result bytes, working bytes, advice naming the setting to lower) of a layer's own motion on `pixels`
    working-grid pixels, before any of it is computed (backend/limits.py)."""
    return ENGINES[layer.type].estimate(layer, job, pixels, where)
