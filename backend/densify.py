"""Sparse hints -> a dense velocity field that follows the picture.

Normalized convolution with an edge-aware filter: hint values and a confidence are splatted onto the grid and
both are smoothed with the recursive domain-transform filter (Gastal and Oliveira, 2011; OpenCV's dtFilter),
whose distances grow with the colour change of the guide image. Their ratio spreads each hint through its own
region of the picture and almost not across strong edges: the flow of a river stays in the river. Finer passes
then correct what is left at each hint, with a falloff, so that the field at a hint matches it.

The guide is the picture's structure, not the picture: the domain transform adds up every colour change along
the way, so the ripples of water or the blades of a lawn would stop the flow a few waves from its hint. Texture
is flattened away (L0 gradient minimisation, Xu et al. 2011, on a coarse copy) and the region borders are then
snapped back to the picture with a guided filter (He et al. 2010), whose variance threshold keeps the borders of
regions and drops the fine texture.
"""

import math

import cv2
import numpy as np

from .sizes import fit_longest

# Smallest filter scale of the correction passes, in working pixels.
FINEST_SIGMA_PX = 2.0
# Confidence, as a share of a lone hint's own, below which the field fades out (across edges, in empty regions).
REACH = 0.01
# Size (longest side, px) of the coarse copy whose regions are flattened: detail finer than about 1/240 of the
# picture (ripples, leaves, grain) is averaged away before the flattening.
STRUCTURE_PX = 240
# Strength of the flattening (L0 weight on a 0..1 picture): colour steps of regions smaller than this merge.
FLATTEN = 0.02
# Colour variance (0..1 units) under which a patch counts as texture when the borders are snapped back.
TEXTURE_VARIANCE = 0.1 ** 2
# How much more a colour step of the structure counts than the same step of the raw picture. Without texture in
# the guide, the flow crosses only region borders, and a border between water and its bank (often a colour
# change of 0.5-1 summed over RGB) must hold the flow back at the default edge tolerance.
BORDER_WEIGHT = 2.0


def guide_image(image, width, height):
    """The picture's structure at the working size (H, W, C) float32: regions of flat colour with the picture's
    borders, so that texture inside a region does not read as edges."""
    picture = cv2.resize(np.asarray(image, np.float32)[..., :3], (width, height), interpolation=cv2.INTER_AREA)
    picture = picture.reshape(height, width, -1)
    sigma = max(0.5, 0.002 * max(width, height))
    picture = cv2.GaussianBlur(picture, (0, 0), sigma).reshape(height, width, -1)
    small_w, small_h = fit_longest(width, height, STRUCTURE_PX, least=2)
    small = cv2.resize(picture, (small_w, small_h), interpolation=cv2.INTER_AREA).reshape(small_h, small_w, -1)
    flat = cv2.ximgproc.l0Smooth(np.ascontiguousarray(small), lambda_=FLATTEN, kappa=2.0)
    flat = cv2.resize(flat, (width, height), interpolation=cv2.INTER_LINEAR).reshape(height, width, -1)
    # The coarse copy blurs the borders by the scale factor; the picture puts them back where they are, and the
    # variance threshold keeps its texture out.
    radius = max(1, math.ceil(max(width, height) / max(small_w, small_h)))
    snapped = cv2.ximgproc.guidedFilter(picture, flat, radius, TEXTURE_VARIANCE)
    return np.ascontiguousarray(snapped.reshape(height, width, -1), np.float32)


def edge_costs(guide, sigma_s, sigma_r):
    """Domain-transform step lengths between neighbours along x (H, W-1) and y (H-1, W)."""
    ratio = sigma_s / sigma_r
    along_x = 1.0 + ratio * np.abs(np.diff(guide, axis=1)).sum(axis=2)
    along_y = 1.0 + ratio * np.abs(np.diff(guide, axis=0)).sum(axis=2)
    return along_x, along_y


def recursive_filter(data, along_x, along_y, sigma_s, iterations=3):
    """Edge-aware smoothing of (H, W, K) data: horizontal then vertical recursive passes, both ways, shrinking
    the scale each iteration so that the result approximates one Gaussian of width sigma_s."""
    data = data.astype(np.float64, copy=True)
    for i in range(iterations):
        sigma_i = sigma_s * math.sqrt(3.0) * 2 ** (iterations - i - 1) / math.sqrt(4 ** iterations - 1)
        feedback = math.exp(-math.sqrt(2.0) / sigma_i)
        _pass(data, feedback ** along_x, axis=1)
        _pass(data, feedback ** along_y, axis=0)
    return data


def _pass(data, weights, axis):
    """In place: J[n] = I[n] + w[n-1] (J[n-1] - I[n]), forwards, then the same backwards."""
    view = np.moveaxis(data, axis, 0)
    w = np.moveaxis(weights, axis, 0)[..., None]
    for n in range(1, view.shape[0]):
        view[n] += w[n - 1] * (view[n - 1] - view[n])
    for n in range(view.shape[0] - 2, -1, -1):
        view[n] += w[n] * (view[n + 1] - view[n])


def splat(points, values, width, height):
    """Bilinear splat of values (N, K) at sub-pixel points (N, 2) -> numerator (H, W, K) and weight (H, W, 1)."""
    numerator = np.zeros((height, width, values.shape[1]), np.float64)
    weight = np.zeros((height, width, 1), np.float64)
    x = np.clip(points[:, 0], 0, width - 1)
    y = np.clip(points[:, 1], 0, height - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = x - x0, y - y0
    for xs, ys, share in ((x0, y0, (1 - fx) * (1 - fy)), (x1, y0, fx * (1 - fy)),
                          (x0, y1, (1 - fx) * fy), (x1, y1, fx * fy)):
        np.add.at(numerator, (ys, xs), values * share[:, None])
        np.add.at(weight, (ys, xs), share[:, None])
    return numerator, weight


def sample(field, points):
    """Bilinear samples of (H, W, K) at sub-pixel points (N, 2)."""
    height, width = field.shape[:2]
    x = np.clip(points[:, 0], 0, width - 1)
    y = np.clip(points[:, 1], 0, height - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    return ((field[y0, x0] * (1 - fx) + field[y0, x1] * fx) * (1 - fy)
            + (field[y1, x0] * (1 - fx) + field[y1, x1] * fx) * fy)


def impulse_peak(sigma_s, iterations=3):
    """The filter's response at the centre of a lone unit impulse on a flat guide: the confidence one hint has
    on its own, used as the floor of the correction passes so that their effect fades away from the hints."""
    size = 2 * int(min(4 * sigma_s, 2000)) + 1
    line = np.zeros((size, 1), np.float32)
    line[size // 2] = 1.0
    response = cv2.ximgproc.dtFilter(np.zeros((size, 1), np.float32), line, sigmaSpatial=float(sigma_s),
                                     sigmaColor=1.0, mode=cv2.ximgproc.DTF_RF, numIters=iterations)
    return float(response.reshape(-1)[size // 2]) ** 2  # separable: the same in x and y


def _spread(numerator, weight, guide, sigma_s, sigma_r):
    """Domain-transform smoothing of the splatted values and their weight together, (H, W, K + 1) float64."""
    data = np.concatenate([numerator, weight], axis=2).astype(np.float32)
    smooth = cv2.ximgproc.dtFilter(guide, data, sigmaSpatial=float(sigma_s), sigmaColor=float(sigma_r),
                                   mode=cv2.ximgproc.DTF_RF, numIters=3)
    return smooth.reshape(data.shape).astype(np.float64)


def densify(points, velocities, guide, sigma_r=0.25):
    """Dense field (H, W, 2) from hint points (N, 2) and velocities (N, 2), all in working pixels."""
    height, width = guide.shape[:2]
    guide = np.ascontiguousarray(np.asarray(guide, np.float32).reshape(height, width, -1)[..., :4])
    sigma = float(max(width, height))
    sigma_r = sigma_r / BORDER_WEIGHT
    numerator, weight = splat(points, velocities, width, height)
    smooth = _spread(numerator, weight, guide, sigma, sigma_r)
    # The ratio alone would carry a hint's value across any edge, however faint its confidence there; fading
    # with the confidence (against what one hint has at its own place) leaves unreached regions still.
    confidence = smooth[..., 2:]
    field = smooth[..., :2] / np.maximum(confidence, 1e-300)
    field *= np.clip(confidence / (REACH * impulse_peak(sigma)), 0.0, 1.0)
    sigma /= 4.0
    while sigma >= FINEST_SIGMA_PX:
        residual = velocities - sample(field, points)
        numerator, weight = splat(points, residual, width, height)
        smooth = _spread(numerator, weight, guide, sigma, sigma_r)
        field += smooth[..., :2] / np.maximum(smooth[..., 2:], impulse_peak(sigma))
        sigma /= 4.0
    return field.astype(np.float32)
