"""Sway ("oscillation"): swaying around a rest pose: trees, grass, flowers, flags, flames."""

from .declare import LayerType, Param
from .shared import COMMON

TERMS = Param("terms", "whole", "Terms", default=8, low=1, high=16,
              help="K, Fourier terms at 1..K cycles per loop (at most T / 2): the frequencies in the motion")
SCALE = Param("scale", "number", "Scale", default=0.1, low=0.001, high=2.0, unit="width",
              help="Size of the parts that move together, as a fraction of the image width: small for leaf "
                   "flutter, large for a whole tree swaying")
SEED = Param("seed", "whole", "Seed", default=0, low=0, high=2 ** 31 - 1,
             help="Another seed gives another variation; the same seed gives the same motion")
SWAY_ACROSS = Param("sway_across", "number", "Across the Wind", default=0.3, low=0.0, high=1.0,
                    help="Motion across the wind, relative to the motion along it")
SPECTRUM = (TERMS, SCALE, SEED, SWAY_ACROSS)  # what shapes a sway's spectrum, also for a swaying clip

LAYER = LayerType(
    "oscillation", "Sway", "Swaying around a rest pose: trees, grass, flowers, flags, flames", "FORCE_WIND",
    motion="sway", aliases=("sway",),
    params=COMMON + (
        Param("amplitude", "number", "Amplitude", default=4.0, low=0.0, high=10000.0, soft_high=50.0, unit="px",
              help="Size of the sway in source pixels: the amplitude of a sine with the same power along the "
                   "wind, at every pixel (no part swings more than a few times it); over 3% of the image's longer "
                   "side gets a warning"),
        Param("wind", "number", "Wind", default=0.0, low=-360.0, high=360.0, unit="degrees", blender="wind_angle",
              help="Direction of the sway in degrees, 0 to the right, 90 up (an Arrow guide, if the layer has one, "
                   "sets it instead)"),
        Param("falloff", "number", "Calm", default=2.0, low=0.0, high=6.0,
              help="Power of term k is proportional to k^-falloff: about 3 is a calm breeze, 1 is gusty"),
    ) + SPECTRUM)
