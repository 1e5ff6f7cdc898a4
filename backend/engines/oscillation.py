"""Sway ("oscillation"): a spectral volume shaped by the layer's settings (see backend/oscillation.py)."""

from .. import oscillation
from .results import Sway


def motion(layer, work):
    return spectrum(layer, work, layer.amplitude, layer.wind, powers=None)


def spectrum(layer, work, amplitude, wind, powers):
    """The sway of any layer with the sway's spectrum settings (a sway, a swaying clip); `amplitude` in source
    px, `wind` in degrees, `powers` per term or None for the k^-falloff law."""
    grid = work.grid
    work.progress(f"building the spectrum of '{layer.name}'", 0.0)
    coefficients = oscillation.spectral_volume(
        work.guide, work.envelope, amplitude * grid.scale[0], work.loop_frames,
        terms=layer.terms, seed=work.seed, scale=layer.scale, wind=wind, across=layer.sway_across,
        edge_tolerance=work.edge_tolerance, powers=powers if powers is not None else oscillation.term_powers(
            oscillation.term_count(layer.terms, work.loop_frames), layer.falloff))
    work.progress(f"building the spectrum of '{layer.name}'", 1.0)
    return Sway(coefficients)
