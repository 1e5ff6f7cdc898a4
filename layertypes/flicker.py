"""Flicker: brightness and colour that live (fire, candles, lamps, neon, lightning glow): the picture does not
move, its light changes, as a loop of whole cycles per loop around the flicker rate."""

from .declare import LayerType, Param
from .shared import COMMON
from .sway import SEED

LAYER = LayerType(
    "flicker", "Flicker", "Light that lives: fire, candles, lamps, neon, a glow: brightness and colour change in "
    "place", "LIGHT", motion="light",
    params=COMMON + (
        Param("amount", "number", "Amount", default=0.2, low=0.0, high=4.0, soft_high=1.0,
              help="How much the brightness changes: the amplitude of a sine with the same power, as a share of "
                   "the picture's brightness (0.2: about 20% brighter and darker)"),
        Param("rate", "number", "Rate", default=3.0, low=0.01, high=60.0, soft_high=12.0, unit="per second",
              help="Flickers per second: the centre of the flicker's frequencies (rounded to whole cycles per "
                   "loop, so the loop stays exact)"),
        Param("spread", "number", "Spread", default=0.5, low=0.0, high=2.0,
              help="How irregular: the width of the band of frequencies around the rate, relative to it (0: one "
                   "steady pulse)"),
        Param("scale", "number", "Scale", default=0.05, low=0.001, high=2.0, unit="width", blender="flicker_scale",
              help="How far neighbouring pixels flicker together, as a fraction of the image width (small: "
                   "sparkling, large: the whole flame pulses)"),
        Param("color_shift", "number", "Colour Shift", default=0.5, low=0.0, high=1.0,
              help="How much the colour moves towards the tint when brighter (and away from it when darker)"),
        Param("tint", "color", "Tint", default=(1.0, 0.45, 0.1),
              help="The colour the light turns towards when it flares up (linear RGB)"),
        SEED))
