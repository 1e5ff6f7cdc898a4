"""What an engine returns: flowing or swaying motion (two shapes of result, two kinds of bake)."""

from dataclasses import dataclass

import numpy as np


@dataclass
class Flow:
    velocity: np.ndarray     # (H, W, 2) working px per frame, y down, before the layer's envelope
    sparkle: np.ndarray = None  # (h, w, 2) glints and where they show, read through the streams (a shimmer)


@dataclass
class Light:
    spectrum: np.ndarray      # (K, H, W) complex brightness modulation (envelope applied), see backend/appearance.py
    terms: list               # the K whole cycles per loop
    weights: list             # per channel (r, g, b): how much each follows the modulation (the tint)


@dataclass
class Sway:
    coefficients: np.ndarray  # (K, H, W, 2) complex working px (envelope applied), see backend/oscillation.py
