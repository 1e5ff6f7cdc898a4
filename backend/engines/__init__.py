"""One engine per layer type, found by the type's name: each turns its layer's parameters into motion.

An engine module has `motion(layer, work)` returning a Flow (a velocity field: the loop is built from it by
backend/engine.py, the same for every flowing type) or a Sway (spectral coefficients). Everything specific to
a type lives in its module; what all types share (masks, pins, the working grid, the loop) stays in
backend/engine.py. Adding a type: a module here and a line in ENGINES (its declaration is in layertypes/).
"""

from dataclasses import dataclass

import numpy as np

from . import clip, drift, fluid, oscillation

ENGINES = {"fluid": fluid, "drift": drift, "oscillation": oscillation, "clip": clip}


@dataclass
class Work:
    """What an engine may use besides its layer: the working grid, the picture and the job's context."""
    grid: object          # backend.engine.Grid
    guide: np.ndarray     # (H, W, C) structure guide on the working grid
    image: np.ndarray     # the image as sent, float
    arrays: dict          # arrays sent with the job
    loop_frames: int
    device: object        # torch device
    envelope: np.ndarray  # (H, W) the layer's soft mask times its pins' stiffness
    progress: object      # progress(stage, fraction), may raise CancelledError
    info: dict            # the layer's metadata: an engine records what it measured here

    def warn(self, message):
        """Something the user should know about the result (with the number that triggered it): listed in the
        layer's `warnings` and the job's."""
        self.info.setdefault("warnings", []).append(message)


def engine_for(layer_type):
    return ENGINES[layer_type]
