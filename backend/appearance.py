"""Appearance dynamics: light that changes in place (flicker), as a loop of whole cycles per loop, and light
that travels with flowing water (shimmer).

A flicker is m(t, p) = Re sum_k F_k(p) exp(2 pi i k t / T): every frequency a whole multiple of 1/T, so frame T
is frame 0. The F_k are random complex fields made coherent over `scale` by edge-aware smoothing guided by the
picture (one flame flickers as one), with power spread in a band around the rate, and scaled by the mask. The
renderer multiplies the linear colour by 1 + m w, w the tint's weights per channel.
"""

import cv2
import numpy as np

from .densify import edge_costs, recursive_filter

MAX_TERMS = 16
RESIDUAL_BLUR_PX = 1.5
# Shimmer: glints a pixel or two across, on what is brighter than HIGHLIGHT_FROM (fully from HIGHLIGHT_FULL).
GLINT_PX = 0.8
HIGHLIGHT_FROM, HIGHLIGHT_FULL = 0.45, 0.85


def band(cycles, spread, loop_frames):
    """(terms k, power share of each) for a flicker of `cycles` per loop: a Gaussian band of relative width
    `spread` around it, on whole k from 1 to T / 2, at most MAX_TERMS terms; the shares sum to 1."""
    top = max(1, loop_frames // 2)
    centre = min(max(cycles, 1.0), float(top))
    width = spread * centre / 2
    if width < 0.5:  # narrower than one whole frequency: one steady pulse
        return [int(round(centre))], np.ones(1)
    ks = np.arange(max(1, int(np.floor(centre - 2.5 * width))), min(top, int(np.ceil(centre + 2.5 * width))) + 1)
    powers = np.exp(-0.5 * ((ks - centre) / width) ** 2)
    keep = np.sort(np.argsort(powers)[::-1][:MAX_TERMS])
    return ks[keep].tolist(), powers[keep] / powers[keep].sum()


def tint_weights(tint, shift):
    """Per-channel weights of the modulation: 1 everywhere without shift; with it, channels of the tint change
    more (a flare turns towards the tint, a dip away from it), the brightness (luminance) change the same."""
    tint = np.maximum(np.asarray(tint, np.float64), 0.0)
    luminance = float(np.dot(tint, (0.2126, 0.7152, 0.0722)))
    tinted = tint / luminance if luminance > 1e-6 else np.ones(3)
    return ((1.0 - shift) + shift * tinted).tolist()


def flicker_spectrum(guide, envelope, amount, terms, powers, scale, seed, edge_tolerance):
    """(K, H, W) complex F_k: `amount` is the amplitude of a sine with the same power, as a share of the
    brightness; `powers` (one per term, summing to 1) shape it in time, `scale` (fraction of the width) in space."""
    height, width = envelope.shape
    count = len(terms)
    rng = np.random.default_rng(seed)
    sigma = max(1.0, scale * width)
    along_x, along_y = edge_costs(guide, sigma, edge_tolerance)
    noise = recursive_filter(rng.standard_normal((height, width, 2 * count)), along_x, along_y, sigma)
    noise = noise.reshape(height, width, count, 2).transpose(2, 0, 1, 3)
    # Every pixel flickers as much (a random, smoothly changing phase): the amount is what each one does.
    phases = noise[..., 0] + 1j * noise[..., 1]
    phases /= np.maximum(np.abs(phases), 1e-12)
    size = amount * np.sqrt(np.asarray(powers, np.float64))[:, None, None] * envelope[None]
    return (phases * size / _between_texels(phases, envelope > 0)[:, None, None]).astype(np.complex64)


def _between_texels(fields, inside):
    """How much of a unit field's amplitude survives bilinear reading between texels, per field: linear
    interpolation of neighbours with correlation r keeps (2 + r) / 3 of the power on average, per axis."""
    kept = np.ones(len(fields))
    for index, field in enumerate(fields):
        share = 1.0
        for axis in (0, 1):
            a, b = (field[:-1], field[1:]) if axis == 0 else (field[:, :-1], field[:, 1:])
            both = (inside[:-1] & inside[1:]) if axis == 0 else (inside[:, :-1] & inside[:, 1:])
            correlation = float(np.real(a[both] * np.conj(b[both])).mean()) if both.any() else 1.0
            share *= (2.0 + correlation) / 3.0
        kept[index] = np.sqrt(share)
    return kept


def modulation_at(spectrum, terms, frames, loop_frames):
    """m(t) for the given frames: (len(frames), H, W) from (K, H, W) complex coefficients."""
    phase = np.exp(2j * np.pi * np.outer(np.asarray(frames, np.float64), np.asarray(terms)) / loop_frames)
    return np.real(np.tensordot(phase, spectrum, axes=(1, 0))).astype(np.float32)


def measure_flicker(frames, flows):
    """What a clip's light does once its motion is taken out: {"amount", "cycles_per_frame", "scale_px",
    "spectrum": [(cycles per frame, power share)], "region_share"}.

    Each frame is compared with the next one warped back along the optical flow, in log linear brightness, so a
    moving texture does not read as flicker. Those differences d are the derivative of the brightness b:
    D(w) = (exp(iw) - 1) B(w), so b's spectrum is D's divided by |2 sin(w / 2)|. Measured where the residual
    changes most (the flickering region), not over the whole frame."""
    linear = (np.asarray(frames, np.float32) / 255.0) ** 2.2  # sRGB-ish to linear: light multiplies here
    brightness = np.log(linear @ np.array([0.2126, 0.7152, 0.0722], np.float32) + 1e-3)
    count, height, width = brightness.shape
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    residual = np.empty((count - 1, height, width), np.float32)
    # Only where every frame's content is still in the next one (not at the borders it leaves or enters by).
    seen = np.zeros((height, width), bool)
    seen[2:-2, 2:-2] = True
    for t in range(count - 1):
        x, y = grid_x + flows[t][..., 0], grid_y + flows[t][..., 1]
        seen &= (x >= 1) & (x <= width - 2) & (y >= 1) & (y <= height - 2)
        residual[t] = cv2.remap(brightness[t + 1], x, y, cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE) - brightness[t]
        # Light changes over areas; what the flow gets wrong is pixel-sized: a little blur keeps the one.
        residual[t] = cv2.GaussianBlur(residual[t], (0, 0), RESIDUAL_BLUR_PX)
    residual -= residual.mean(axis=0)
    strength = np.where(seen, residual.std(axis=0), 0.0)
    peak_strength = np.percentile(strength[seen], 99) if seen.any() else 0.0
    region = seen & (strength >= 0.5 * peak_strength)
    core = strength[region] >= 0.8 * peak_strength  # the amount is what the flickering part does, not its rim
    series = residual[:, region]  # (N - 1, pixels)
    steps = len(series)
    spectrum = np.fft.rfft(series, axis=0)
    omega = 2 * np.pi * np.arange(len(spectrum)) / steps
    gain = np.abs(np.exp(1j * omega) - 1.0)
    level = np.zeros_like(spectrum)
    level[1:] = spectrum[1:] / gain[1:, None]  # the brightness itself, without its mean
    power = (np.abs(level) ** 2).mean(axis=1)
    power[0] = 0.0
    peak = int(np.argmax(power))
    offset = 0.0
    if 0 < peak < len(power) - 1:  # where the peak lies between two bins
        left, middle, right = np.log(power[peak - 1:peak + 2] + 1e-30)
        bend = left - 2 * middle + right
        offset = 0.5 * (left - right) / bend if bend < 0 else 0.0
    signal = np.fft.irfft(level, n=steps, axis=0)
    rms = float(np.sqrt((signal[:, core] ** 2).mean())) if core.any() else 0.0
    # Spatial coherence: for a field smoothed over s pixels, E|grad b|^2 / E[b^2] is about 1 / s^2.
    field = np.zeros((steps, height, width), np.float32)
    field[:, region] = signal
    gy, gx = np.gradient(field, axis=(1, 2))
    inner = region & np.roll(region, 1, 0) & np.roll(region, -1, 0) & np.roll(region, 1, 1) & np.roll(region, -1, 1)
    slope = float((gx[:, inner] ** 2 + gy[:, inner] ** 2).mean()) if inner.any() else 0.0
    shares = power / max(power.sum(), 1e-30)
    return {"amount": float(np.sqrt(2.0) * rms), "cycles_per_frame": float((peak + offset) / steps),
            "scale_px": float(np.sqrt((signal ** 2).mean() / slope)) if slope > 0 else float(max(height, width)),
            "spectrum": [(k / steps, float(share)) for k, share in enumerate(shares) if share > 1e-4],
            "region_share": float(region.mean())}


def loop_band(measured, loop_frames):
    """(terms k, power shares) of a loop of T frames with a measured spectrum: each measured frequency goes to
    the whole cycles per loop nearest it, the MAX_TERMS strongest are kept."""
    top = max(1, loop_frames // 2)
    powers = {}
    for cycles_per_frame, share in measured["spectrum"]:
        k = int(min(max(round(cycles_per_frame * loop_frames), 1), top))
        powers[k] = powers.get(k, 0.0) + share
    if not powers:
        powers = {int(min(max(round(measured["cycles_per_frame"] * loop_frames), 1), top)): 1.0}
    strongest = sorted(sorted(powers, key=powers.get, reverse=True)[:MAX_TERMS])
    shares = np.array([powers[k] for k in strongest])
    return strongest, shares / shares.sum()


def sparkle(image, envelope, amount, seed):
    """The shimmer of flowing water, (h, w, 2) at the image's size as sent: fine noise of unit variance (the
    glints) and where it shows, `amount` times the brightness ramp of the highlights times the layer's soft mask.
    The warp reads it through the flow's streams, so the glints travel downstream with the water."""
    height, width = image.shape[:2]
    rng = np.random.default_rng(seed)
    glints = cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), GLINT_PX)
    glints /= max(float(glints.std()), 1e-12)
    colour = np.asarray(image, np.float32)[..., :3] if image.ndim == 3 else np.asarray(image, np.float32)[..., None]
    brightness = colour.mean(axis=-1)
    ramp = np.clip((brightness - HIGHLIGHT_FROM) / (HIGHLIGHT_FULL - HIGHLIGHT_FROM), 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep: only the bright parts shimmer
    where = amount * ramp * cv2.resize(envelope.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return np.stack([glints, where], axis=-1).astype(np.float32)
