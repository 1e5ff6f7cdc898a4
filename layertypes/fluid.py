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
        PHASE_FRAMES))
