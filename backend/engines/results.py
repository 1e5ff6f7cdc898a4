"""What an engine returns: flowing or swaying motion (two shapes of result, two kinds of bake)."""

from dataclasses import dataclass

import numpy as np

from .. import loop

# Memory, per working-grid pixel (measured with getrusage and tracemalloc, CPU path, working resolutions 512 and
# 1024; estimates with some headroom, held to a real job by test_limits.py): the work besides the results
# (densifying, integrating, the masks), and a spectrum's noise fields and coefficients per term (~160 measured).
FLOW_OVERHEAD = 256
PER_TERM = 176


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


def flow_estimate(layer, job, pixels, where):
    """(result bytes, working bytes, advice) of a flowing layer: its lookups by age over one phase period."""
    period = loop.layer_period(job.loop_frames, layer.values)
    ages = 2 * loop.half_span(period) + 1
    return (pixels * (ages * 8 + 12), pixels * FLOW_OVERHEAD,
            f"{where}: {ages} ages of lookups for a phase period of {period} frames; lower phase_frames, or "
            f"working_resolution")


def spectrum_estimate(terms, channels, pixels, where, lower):
    """(result bytes, working bytes, advice) of a spectrum of `terms` terms of `channels` floats per pixel."""
    return (pixels * (terms * channels * 4 + 4), pixels * (terms * PER_TERM + FLOW_OVERHEAD),
            f"{where}: {terms} terms; lower {lower}")

