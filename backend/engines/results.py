"""What an engine returns: flowing or swaying motion (two shapes of result, two kinds of bake)."""

from dataclasses import dataclass

import numpy as np


@dataclass
class Flow:
    velocity: np.ndarray     # (H, W, 2) working px per frame, y down, before the layer's envelope


@dataclass
class Sway:
    coefficients: np.ndarray  # (K, H, W, 2) complex working px (envelope applied), see backend/oscillation.py
