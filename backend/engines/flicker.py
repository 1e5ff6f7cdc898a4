"""Flicker: a loop of brightness changes in place, as a spectrum of whole cycles per loop (like a sway's, but of
light instead of position). The picture does not move; the texture warp multiplies its colour by
1 + m(t) w, m(t) = Re sum_k F_k exp(2 pi i k t / T), w the tint's weights (backend/appearance.py)."""

from .. import appearance
from .results import Light, spectrum_estimate


def estimate(layer, job, pixels, where):
    terms, _ = appearance.band(layer.rate * job.loop_frames / job.fps, layer.spread, job.loop_frames)
    return spectrum_estimate(len(terms), 2, pixels, where, "its spread or working_resolution")


def motion(layer, work):
    terms, powers = appearance.band(layer.rate * work.loop_frames / work.fps, layer.spread, work.loop_frames)
    return light(layer, work, layer.amount, terms, powers, layer.scale,
                 appearance.tint_weights(layer.tint, layer.color_shift))


def light(layer, work, amount, terms, powers, scale, weights):
    """The flicker of any layer with a seed (a flicker, a flickering clip); `scale` a fraction of the width."""
    work.progress(f"building the flicker of '{layer.name}'", 0.0)
    spectrum = appearance.flicker_spectrum(work.guide, work.envelope, amount, terms, powers, scale, work.seed,
                                           work.edge_tolerance)
    work.progress(f"building the flicker of '{layer.name}'", 1.0)
    return Light(spectrum, terms, weights)
