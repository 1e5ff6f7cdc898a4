"""Oscillation layers: a spectral volume of swaying motion (Generative Image Dynamics, Li et al. 2024).

Each pixel's displacement is a short Fourier series, D(t)(p) = Re sum_k S_k(p) exp(2 pi i k t / T), k = 1..K.
Every frequency is a whole multiple of 1/T, so the motion loops exactly in T frames. The complex coefficients
S_k are random fields made coherent by edge-aware smoothing guided by the picture (parts of one object share
phase), with power falling off as k^-falloff, oriented along the wind, and scaled by the mask and by the
stiffness around pins, so anchored parts stay still and the motion grows away from them. Each pixel's motion has
the same power (times the envelope), so no part swings far beyond the amplitude.
"""

import numpy as np

from .densify import edge_costs, recursive_filter


def term_count(requested, loop_frames):
    """At most `requested` terms and no frequency above the loop's Nyquist limit (T / 2 cycles per loop)."""
    return max(1, min(requested, loop_frames // 2))


def term_powers(count, falloff):
    """Share of the motion's power in each term k = 1..K: proportional to k^-falloff, summing to 1."""
    powers = np.arange(1, count + 1, dtype=np.float64) ** -falloff
    return powers / powers.sum()


def spectral_volume(guide, envelope, amplitude_px, loop_frames, terms, seed, scale, wind, across, edge_tolerance,
                    powers):
    """(K, H, W, 2) complex coefficients of the displacement, in working px (x right, y down).

    `envelope` (H, W) is the soft mask times the stiffness; `amplitude_px` is in working pixels: the amplitude of
    a sine with the same power as the motion along the wind (`wind` in degrees, `across` the share across it).
    `powers` (one per term, summing to 1) is the k^-falloff law or a spectrum measured on a clip; `scale` is the
    coherence length as a fraction of the width; `seed` picks the variation.
    """
    height, width = envelope.shape
    count = term_count(terms, loop_frames)
    rng = np.random.default_rng(seed)
    sigma = max(1.0, scale * width)
    along_x, along_y = edge_costs(guide, sigma, edge_tolerance)
    # Four real noise fields per term: the real and imaginary parts along and across the wind.
    noise = recursive_filter(rng.standard_normal((height, width, 4 * count)), along_x, along_y, sigma)
    # Every pixel gets the same power: smoothing leaves far more of the noise in a small region closed by edges
    # than in an open one, and one scale for all would let those pockets swing many times the amplitude. Divided
    # by its own RMS over the 4K fields, no pixel ever swings more than sqrt(2K) times the amplitude.
    noise /= np.maximum(np.sqrt((noise ** 2).mean(axis=2, keepdims=True)), 1e-12)
    noise = noise.reshape(height, width, count, 4).transpose(2, 0, 1, 3)
    shares = np.asarray(powers, np.float64)[:count]
    weight = envelope > 0
    along = _unit_power(noise[..., 0] + 1j * noise[..., 1], shares, weight)
    sideways = _unit_power(noise[..., 2] + 1j * noise[..., 3], shares, weight)
    angle = np.radians(wind)
    direction = np.array([np.cos(angle), -np.sin(angle)])  # y down on the grid
    side = np.array([-direction[1], direction[0]])
    size = amplitude_px * np.sqrt(shares)[:, None, None] * envelope[None]
    coefficients = (along * size)[..., None] * direction + (sideways * size * across)[..., None] * side
    return coefficients.astype(np.complex64)


def _unit_power(fields, shares, weight):
    """(K, H, W) complex fields scaled by one factor so that their power, weighted by the terms' shares, averages
    exactly 1 over the mask: the sway has the requested amplitude. The factor is close to 1 (each pixel is
    normalised already), so the bound on any pixel's swing holds to within a few percent."""
    power = (shares[:, None, None] * np.abs(fields) ** 2).sum(axis=0)
    mean = power[weight].mean() if weight.any() else power.mean()
    return fields / np.sqrt(max(float(mean), 1e-12))


def displacement_at(coefficients, frames, loop_frames):
    """D(t) for the given frames: (len(frames), H, W, 2) real, from (K, H, W, 2) coefficients."""
    k = np.arange(1, coefficients.shape[0] + 1)
    phase = np.exp(2j * np.pi * np.outer(np.asarray(frames, np.float64), k) / loop_frames)  # (F, K)
    return np.real(np.tensordot(phase, coefficients, axes=(1, 0))).astype(np.float32)
