"""What the backend computed, checked before anything touches the scene, as the carriers bake it."""

import numpy as np

from ...backend import loop
from ...backend.errors import InputError


class MotionPart:
    """One layer's baked motion: flowing lookups by stream age (2H + 1, H, W, 2) with the streams' period in
    frames, or a swaying spectrum (K, H, W, 4) of Re u, Re v, Im u, Im v per term k = 1..K in UV units, or a
    flicker (K, H, W, 2) of Re, Im of the brightness per term k in `terms`, with its channel `weights`."""

    def __init__(self, label, strength, lookup=None, period=0, spectrum=None, flicker=None, terms=(),
                 weights=(1.0, 1.0, 1.0), sparkle=None):
        self.label, self.strength = label, strength
        self.lookup, self.period, self.spectrum = lookup, period, spectrum
        self.sparkle = sparkle  # a flow's shimmer: (h, w, 2) glints and where they show
        self.flicker, self.terms, self.weights = flicker, list(terms), list(weights)


class Motion:
    """One MotionPart per layer, at the working size."""

    def __init__(self, parts, working_size):
        self.parts, self.working_size = parts, working_size

    def flowing(self):
        return [part for part in self.parts if part.lookup is not None]

    def swaying(self):
        return [part for part in self.parts if part.spectrum is not None]

    def flickering(self):
        return [part for part in self.parts if part.flicker is not None]

    def moving_texels(self, margin=2):
        """(H, W) 1 where any layer moves or changes the picture, else 0, at the working size, grown by `margin`
        texels: a bilinear read of the data (or of this map) one texel away from motion can still see it."""
        width, height = self.working_size
        moving = np.zeros((height, width), bool)
        for part in self.parts:
            for data in (part.lookup, part.spectrum, part.flicker):
                if data is not None:
                    moving |= np.any(data != 0, axis=(0, 3))
            if part.sparkle is not None:  # at the picture's size: each glint marks the texel it falls in
                ys, xs = np.nonzero(np.any(part.sparkle != 0, axis=2))
                moving[ys * height // part.sparkle.shape[0], xs * width // part.sparkle.shape[1]] = True
        for _ in range(margin):
            grown = moving.copy()
            grown[1:] |= moving[:-1]
            grown[:-1] |= moving[1:]
            grown[:, 1:] |= grown[:, :-1].copy()
            grown[:, :-1] |= grown[:, 1:].copy()
            moving = grown
        return moving.astype(np.float32)


def motion_parts(result, meta, strengths):
    """The backend's layers, in job order, each with the name of its strength property."""
    parts = []
    for layer, strength in zip(meta["layers"], strengths, strict=True):
        prefix = layer["prefix"]
        if layer["result"] == "lookup":
            parts.append(MotionPart(layer["name"], strength, lookup=result[f"{prefix}_lookup"],
                                    period=int(layer["phase_period"]), sparkle=result.get(f"{prefix}_sparkle")))
        elif layer["result"] == "flicker":
            parts.append(MotionPart(layer["name"], strength, flicker=result[f"{prefix}_flicker"],
                                    terms=[int(k) for k in layer["cycles_per_loop"]],
                                    weights=[float(w) for w in layer["channel_weights"]]))
        else:
            parts.append(MotionPart(layer["name"], strength, spectrum=result[f"{prefix}_spectrum"]))
    return parts


def check_result(meta, result, loop_frames, strengths):
    """The backend is another program: check what it sent before anything touches the scene."""
    try:
        width, height = meta["working_size"]
        parts = motion_parts(result, meta, strengths)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"the backend's result is incomplete ({exc}); the scene was not changed") from None
    for part in parts:
        ages = 2 * loop.half_span(part.period) + 1
        if part.lookup is not None and (part.period < 1 or loop_frames % part.period
                                        or part.lookup.shape != (ages, height, width, 2)):
            raise InputError(f"the backend sent arrays of shape {part.lookup.shape} for a phase period of "
                             f"{part.period} frames, which do not fit a loop of {loop_frames} at {width}x{height}; "
                             f"the scene was not changed")
        if part.spectrum is not None and (part.spectrum.shape[1:] != (height, width, 4)
                                          or not 1 <= len(part.spectrum) <= loop_frames // 2):
            raise InputError(f"the backend sent a spectrum of shape {part.spectrum.shape}, expected (K <= "
                             f"{loop_frames // 2}, {height}, {width}, 4); the scene was not changed")
        if part.flicker is not None and (part.flicker.shape != (len(part.terms), height, width, 2)
                                         or not all(1 <= k <= loop_frames // 2 for k in part.terms)
                                         or len(part.weights) != 3):
            raise InputError(f"the backend sent a flicker of shape {part.flicker.shape} for terms {part.terms}, "
                             f"expected ({len(part.terms)}, {height}, {width}, 2) with terms 1..{loop_frames // 2}; "
                             f"the scene was not changed")
        if part.sparkle is not None and (part.sparkle.ndim != 3 or part.sparkle.shape[2] != 2
                                         or max(part.sparkle.shape[:2]) > 16384):
            raise InputError(f"the backend sent a shimmer of shape {part.sparkle.shape}, expected (h, w, 2); the "
                             f"scene was not changed")
        for array in (part.lookup, part.spectrum, part.flicker, part.sparkle, np.asarray(part.weights)):
            if array is not None and not np.isfinite(array).all():
                raise InputError("the backend sent NaN or infinite motion; the scene was not changed")
    return Motion(parts, (width, height))
