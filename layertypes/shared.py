"""Parameters every layer type has (where it moves, how softly, what holds still), and those of flowing layers."""

from .declare import Param

MASK = Param(
    "mask", "mask", "Mask", required=True,
    help="Where the layer moves: a rectangle in UV space, a grey-scale image (white moves) or, in Blender, a vertex "
         "group; grey levels say how much")
FEATHER = Param(
    "feather", "number", "Soft Edge", default=0.02, low=0.0, high=0.5, unit="width",
    help="Width of the fade at the mask edge, as a fraction of the image width; the motion is exactly zero outside "
         "the mask and within one working pixel of its edge")
PINS = Param(
    "pins", "pins", "Pins", default=(),
    help="Points that must not move, each a UV position and a radius (a fraction of the image width; 0 is one "
         "pixel). In Blender: Pin guides")
PIN_MASK = Param(
    "pin_mask", "mask", "Pin Mask", blender="pin",
    help="A painted region that must not move (white is pinned), in the same forms as the mask")
PIN_FALLOFF = Param(
    "pin_falloff", "number", "Pin Falloff", default=0.05, low=0.0, high=1.0, unit="width",
    help="Distance over which the motion fades back in around pins, as a fraction of the image width (for sways: "
         "the stiffness, the sway grows up to this distance from the pins)")
EDGE_TOLERANCE = Param(
    "edge_tolerance", "number", "Edge Tolerance", default=0.25, low=0.01, high=100.0, soft_high=3.0,
    help="Colour change between regions of the picture (summed over R, G and B, 0 to 3; texture inside a region "
         "does not count) that the motion spreads across only weakly: lower keeps it tighter inside regions")
PHASE_FRAMES = Param(
    "phase_frames", "whole", "Phase Period", default=0, low=0, high=100000, unit="frames",
    help="Frames after which each of the loop's three staggered streams starts again from the still picture: "
         "longer flows further, shorter keeps detail. Must divide the loop length; 0 picks the divisor nearest 30 "
         "frames (at least 6)")

COMMON = (MASK, FEATHER, PIN_MASK, PINS, PIN_FALLOFF, EDGE_TOLERANCE)  # a drift accepts (and ignores) the tolerance


def divides_loop(values, loop_frames):
    """A rule across the job: a phase period must divide the loop (None when it does)."""
    period = values.get("phase_frames") or 0
    if period and loop_frames % period:
        return (f"the Phase Period (phase_frames) of {period} frames must divide the loop length {loop_frames}: "
                f"choose a divisor, or 0 for about 30 frames")
    return None
