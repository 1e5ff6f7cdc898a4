"""Fluid: one static velocity field spread from hints, flowing: water, smoke, clouds."""

from .declare import LayerType, Param
from .shared import COMMON, PHASE_FRAMES

LAYER = LayerType(
    "fluid", "Fluid", "Flowing water, smoke or clouds, guided by arrows, flow lines and hints", "MOD_FLUIDSIM",
    motion="flow",
    params=COMMON + (
        Param("hints", "hints", "Direction Hints", required=True,
              help="At least one hint: a UV position and a velocity in source pixels per frame (x to the right, "
                   "y up). In Blender: Arrow and Flow Line guides and the hint list"),
        Param("shimmer", "number", "Shimmer", default=0.0, low=0.0, high=2.0, soft_high=1.0,
              help="Sparkle on the bright parts of the water that travels downstream with the flow: how much the "
                   "highlights brighten and darken (0: none)"),
        PHASE_FRAMES))
