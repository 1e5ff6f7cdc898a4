"""Sway ("oscillation"): a spectral volume shaped by the layer's settings (see backend/oscillation.py)."""

from .. import oscillation
from .results import Sway, spectrum_estimate


def estimate(layer, job, pixels, where):
    terms = oscillation.term_count(layer.terms, job.loop_frames)
    return spectrum_estimate(terms, 4, pixels, where, "its terms or working_resolution")


SWAY_LIMIT = 0.03  # a sway larger than this share of the image's longer side gets a warning


def motion(layer, work):
    return spectrum(layer, work, layer.amplitude, layer.wind, powers=None)


def spectrum(layer, work, amplitude, wind, powers):
    """The sway of any layer with the sway's spectrum settings (a sway, a swaying clip); `amplitude` in source
    px, `wind` in degrees, `powers` per term or None for the k^-falloff law."""
    grid = work.grid
    side = max(grid.width / grid.scale[0], grid.height / -grid.scale[1])  # source px
    if amplitude > SWAY_LIMIT * side:
        work.warn(f"the sway's amplitude is {amplitude:.1f} px, {amplitude / side:.1%} of the image's longer side "
                  f"({side:.0f} px): a sway over {SWAY_LIMIT:.0%} smears and tears the picture; lower the "
                  f"amplitude")
    work.progress(f"building the spectrum of '{layer.name}'", 0.0)
    coefficients = oscillation.spectral_volume(
        work.guide, work.envelope, amplitude * grid.scale[0], work.loop_frames,
        terms=layer.terms, seed=work.seed, scale=layer.scale, wind=wind, across=layer.sway_across,
        edge_tolerance=work.edge_tolerance, powers=powers if powers is not None else oscillation.term_powers(
            oscillation.term_count(layer.terms, work.loop_frames), layer.falloff))
    work.progress(f"building the spectrum of '{layer.name}'", 1.0)
    return Sway(coefficients)
