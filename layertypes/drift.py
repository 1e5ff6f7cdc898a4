"""Drift: the whole masked region drifts one way at one speed: cloud banks, fog."""

from .declare import LayerType, Param
from .shared import COMMON, PHASE_FRAMES

LAYER = LayerType(
    "drift", "Drift", "The whole masked region drifts one way at one speed: clouds, fog banks",
    "OUTLINER_OB_FORCE_FIELD", motion="flow",
    params=COMMON + (
        Param("velocity", "velocity", "Velocity", required=True, unit="px/frame",
              help="[x, y] in source pixels per frame, x to the right, y up. In Blender: Speed and Direction, or "
                   "an Arrow guide"),
        PHASE_FRAMES))
