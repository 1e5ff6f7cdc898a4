"""The reference render of a result: what a frame of the loop looks like, computed with numpy alone from the
backend's arrays and the painting, exactly as docs/job-spec.md defines it. The texture warp in Blender is checked
against it, the command line uses its pieces for ST-maps, and `make quality` measures with it. Needs nothing but
numpy, so the Blender side can import it.

Conventions: images are (H, W, C) float32 rows top to bottom; UV has v up; lookups and offsets are in UV units;
a texture is sampled bilinearly between texel centres, clamped at its border (Blender's Linear + Extend).
"""

import math

import numpy as np

from . import loop


def sample(image, uv):
    """Bilinear samples of an (H, W, C) image at UV points (..., 2), clamped half a texel inside the border (the
    warp keeps every read of the painting there too)."""
    height, width = image.shape[:2]
    x = np.clip(uv[..., 0] * width - 0.5, 0.0, width - 1)
    y = np.clip((1.0 - uv[..., 1]) * height - 0.5, 0.0, height - 1)
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def pixel_uvs(width, height):
    """UV of every pixel centre of a (height, width) frame, rows top to bottom."""
    u = (np.arange(width, dtype=np.float64) + 0.5) / width
    v = 1.0 - (np.arange(height, dtype=np.float64) + 0.5) / height
    return np.stack(np.broadcast_arrays(u[None, :], v[:, None]), axis=-1)


def srgb_to_linear(values):
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values):
    values = np.clip(values, 0.0, 1.0)
    return np.where(values <= 0.0031308, 12.92 * values, 1.055 * values ** (1 / 2.4) - 0.055)


class Painting:
    """The painting's texels as stored, (H, W, 4) rows top to bottom. An 8-bit sRGB image is interpolated as
    stored and then decoded to linear (as Cycles does); a float or non-colour one is linear already."""

    def __init__(self, texels, srgb=False):
        self.texels, self.srgb = np.asarray(texels, np.float32), srgb
        self.size = (self.texels.shape[1], self.texels.shape[0])

    def read(self, uv):
        values = sample(self.texels, uv)
        if self.srgb:
            values[..., :3] = srgb_to_linear(values[..., :3])
        return values

    def linear(self):
        values = self.texels.copy()
        if self.srgb:
            values[..., :3] = srgb_to_linear(values[..., :3])
        return values


def to_display(linear):
    """The blend's working space: gamma 2.2 of the (non-negative) linear colour."""
    return np.power(np.maximum(linear, 0.0), 1.0 / loop.GAMMA)


def low_band(linear_rgb, sigma_px):
    """The painting's low band in the blend's space, at a reduced size (the blur makes full size useless):
    box-reduced by a whole factor, then blurred by what is left of sigma. A texture of this is sampled bilinearly."""
    display = to_display(linear_rgb[..., :3]).astype(np.float32)
    factor = max(1, int(sigma_px // 2))
    height, width = display.shape[:2]
    if factor > 1:
        rows, columns = math.ceil(height / factor), math.ceil(width / factor)
        padded = np.pad(display, ((0, rows * factor - height), (0, columns * factor - width), (0, 0)), mode="edge")
        display = padded.reshape(rows, factor, columns, factor, 3).mean(axis=(1, 3))
    sigma = math.sqrt(max(sigma_px ** 2 - (factor ** 2 - 1) / 12.0, 0.25)) / factor
    return _blur(_blur(display, sigma, axis=0), sigma, axis=1).astype(np.float32)


def _blur(image, sigma, axis):
    radius = max(1, math.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    pad = [(0, 0)] * image.ndim
    pad[axis] = (radius, radius)
    padded = np.pad(image, pad, mode="edge")
    length = image.shape[axis]
    out = np.zeros_like(image)
    for offset, tap in enumerate(taps):
        out += tap * np.take(padded, np.arange(offset, offset + length), axis=axis)
    return out


def age_lookup(lookups, age):
    """A flowing layer's lookup field (h, w, 2) at a (fractional) stream age: between the two whole ages around it,
    interpolated linearly, as the shader does. `lookups` is the (2H + 1, h, w, 2) result array."""
    half = (len(lookups) - 1) // 2
    position = min(max(age + half, 0.0), 2 * half)
    lower = min(int(math.floor(position)), 2 * half - 1)
    share = position - lower
    return lookups[lower] * (1 - share) + lookups[lower + 1] * share


def stream_offset(lookups, age, uv):
    """A flowing layer's lookup at a stream age, at UV points (bilinear reads are linear: reading the blend of two
    ages is blending their reads)."""
    return sample(age_lookup(lookups, age), uv)


def sway_lookup(spectrum, loop_phase):
    """A swaying layer's lookup field -D(t) (h, w, 2), for the loop's phase 2 pi t / T (see the spectrum's spec)."""
    field = 0.0
    for k, term in enumerate(spectrum, start=1):
        field = field - term[..., :2] * math.cos(k * loop_phase) + term[..., 2:] * math.sin(k * loop_phase)
    return field


def sway_offset(spectrum, loop_phase, uv):
    """A swaying layer's lookup -D(t) at UV points."""
    return sample(sway_lookup(spectrum, loop_phase), uv)


def blend_streams(painting, low, base_uv, offsets, weights, sparkle=None):
    """The variance-preserving mix of a flowing layer's streams (backend/loop.py): display-space colour (..., 3)
    and alpha (...); with a sparkle image (h, w, 2: noise, highlight weight), also the mix of its product read
    through the same streams, kept at the same variance (the shimmer, backend/appearance.py)."""
    sigma = loop.low_band_sigma(painting.size[0])
    to_px = np.array(painting.size, np.float64) / sigma
    low_mix, high_mix, alpha, norm, glints = 0.0, 0.0, 0.0, 0.0, 0.0
    for i, (offset_i, weight_i) in enumerate(zip(offsets, weights)):
        where = base_uv + offset_i
        colour = painting.read(where)
        if sparkle is not None:
            read = sample(sparkle, where)
            glints = glints + weight_i * read[..., 0] * read[..., 1]
        low_i = sample(low, where)
        low_mix = low_mix + weight_i * low_i
        high_mix = high_mix + weight_i * (to_display(colour[..., :3]) - low_i)
        alpha = alpha + weight_i * colour[..., 3]
        for j, (offset_j, weight_j) in enumerate(zip(offsets, weights)):
            apart = np.sqrt((((offset_i - offset_j) * to_px) ** 2).sum(axis=-1)) if i != j else 0.0
            rho = loop.CORE_SHARE * np.exp(-apart ** 2) + (1 - loop.CORE_SHARE) * np.exp(-apart / loop.TAIL_SIGMAS)
            norm = norm + weight_i * weight_j * rho
    mixed = low_mix + high_mix / np.sqrt(norm)[..., None]
    if sparkle is None:
        return mixed, alpha
    return mixed, alpha, glints / np.sqrt(norm)


def flicker_gain(layer, uv):
    """The factor on linear colour of a flickering layer at the UV points, (..., 3): 1 + gain m(t) w, never
    below 0. The modulation is read from its (K, h, w, 2) atlas with the same sampler as the painting."""
    spectrum = np.asarray(layer["flicker"], np.float64)
    terms = np.asarray(layer["cycles_per_loop"], np.float64)
    weights = np.cos(terms * layer["phase"]), np.sin(terms * layer["phase"])
    field = np.tensordot(weights[0], spectrum[..., 0], axes=(0, 0)) - np.tensordot(weights[1], spectrum[..., 1],
                                                                                    axes=(0, 0))
    modulation = sample(field[..., None], uv)[..., 0]
    return np.maximum(1.0 + layer["gain"] * modulation[..., None] * np.asarray(layer["weights"]), 0.0)


def render(painting, low, layers, size, supersample=1):
    """One frame, (height, width, 4) linear RGBA. `painting` is a Painting, `low` its low band, `size`
    the frame's (width, height) over the whole picture. `layers` lists dicts: {"lookups", "clock", "gain",
    "period"} for a flowing layer (gain: how much of the flow shows, 0..1; the warp uses
    min(1, strength / 0.1); with "sparkle", its shimmer), {"spectrum", "phase", "gain"} for a swaying one
    (gain scales the sway), {"flicker", "cycles_per_loop", "weights", "phase", "gain"} for a flickering one
    (phase: 2 pi t / T).
    `supersample` n averages n x n samples per pixel, as a renderer with several samples and a box filter does."""
    if supersample > 1:
        width, height = size
        fine = render(painting, low, layers, (width * supersample, height * supersample))
        return fine.reshape(height, supersample, width, supersample, 4).mean(axis=(1, 3))
    uv = pixel_uvs(*size)
    sway = np.zeros(uv.shape, np.float64)
    for layer in layers:
        if "spectrum" in layer:
            sway = sway + layer["gain"] * sway_offset(layer["spectrum"], layer["phase"], uv)
    base_uv = uv + sway
    base = painting.read(base_uv)
    colour, alpha = to_display(base[..., :3]), base[..., 3]
    shimmer = []
    for layer in layers:
        if "lookups" not in layer:
            continue
        phases = [loop.phase(layer["clock"], i, layer["period"]) for i in range(loop.PHASES)]
        offsets = [stream_offset(layer["lookups"], age, uv) for age, _ in phases]
        mixed, mixed_alpha, *glints = blend_streams(painting, low, base_uv, offsets, [w for _, w in phases],
                                                    layer.get("sparkle"))
        gain = min(max(layer["gain"], 0.0), 1.0)
        shimmer.extend(gain * glint for glint in glints)
        colour = colour + gain * (mixed - to_display(base[..., :3]))
        alpha = alpha + gain * (mixed_alpha - base[..., 3])
    linear = np.power(np.maximum(colour, 0.0), loop.GAMMA)
    for glints in shimmer:  # flowing highlights brighten and darken where their sparkle is
        linear = linear * np.maximum(1.0 + glints, 0.0)[..., None]
    for layer in layers:
        if "flicker" in layer:
            linear = linear * flicker_gain(layer, uv)
    return np.concatenate([linear, alpha[..., None]], axis=-1).astype(np.float32)
