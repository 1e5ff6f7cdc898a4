"""What a person sees in rendered frames, as numbers (numpy only, so both environments can use it).

Frames are (H, W, 3) float arrays in 0..1 (display values), rows top to bottom; masks are (H, W) bool.
- sharpness: variance of the Laplacian inside the moving region, relative to the still (a render at strength 0)
- pulse CV: std / mean of the frame-to-frame change over the loop, the wrap included
- seam ratio: the change from the last frame to the first, over the median consecutive change
- leak: the largest change, in 8-bit levels, 3 pixels or more outside every mask
- fill: the share of a region's textured pixels that visibly change over the loop
- rendered speed: the shift between consecutive frames by phase correlation in small windows (dense optical
  flow misreads cross-faded streams)
"""

import numpy as np

LEVEL = 1.0 / 255.0


def grey(frame):
    return frame[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32) if frame.ndim == 3 else frame


def laplacian(image):
    padded = np.pad(image, 1, mode="edge")
    return (padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:] - 4 * padded[1:-1, 1:-1])


def sharpness(frame, still, region):
    """Variance of the Laplacian of `frame` inside `region`, relative to the still's."""
    reference = laplacian(grey(still))[region].var()
    return float(laplacian(grey(frame))[region].var() / max(reference, 1e-12))


def changes(frames, region):
    """Mean absolute change inside `region` between consecutive frames, the wrap (last -> first) last."""
    looped = list(frames) + [frames[0]]
    return np.array([np.abs(b - a)[region].mean() for a, b in zip(looped, looped[1:])])


def pulse_cv(frames, region):
    steps = changes(frames, region)
    return float(steps.std() / max(steps.mean(), 1e-12))


def seam_ratio(frames, region):
    """The wrap's change over the median change between consecutive frames inside the loop."""
    steps = changes(frames, region)
    return float(steps[-1] / max(np.median(steps[:-1]), 1e-12))


def grow(mask, pixels):
    """The mask grown by `pixels` (a square neighbourhood)."""
    grown = mask.copy()
    for _ in range(pixels):
        padded = np.pad(grown, 1)
        grown = (padded[1:-1, 1:-1] | padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]
                 | padded[:-2, :-2] | padded[:-2, 2:] | padded[2:, :-2] | padded[2:, 2:])
    return grown


def leak_levels(frames, still, moving, margin=3):
    """The largest change from the still, in 8-bit levels, `margin` pixels or more outside the moving mask."""
    outside = ~grow(moving, margin)
    if not outside.any():
        return 0.0
    return float(max(np.abs(frame - still)[outside].max() for frame in frames) / LEVEL)


def textured(still, levels=4.0, radius=2):
    """Pixels with detail around them: the picture minus its local mean ((2 radius + 1)^2 box) spans more than
    `levels` 8-bit levels there. Only detail shows motion: a smooth gradient shifted back and forth by streams
    that average around the still looks like the still."""
    image = grey(still)
    padded = np.pad(image, radius, mode="edge")
    height, width = image.shape
    windows = [padded[dy:dy + height, dx:dx + width] for dy in range(2 * radius + 1) for dx in range(2 * radius + 1)]
    detail = image - np.mean(windows, axis=0)
    padded = np.pad(detail, radius, mode="edge")
    windows = [padded[dy:dy + height, dx:dx + width] for dy in range(2 * radius + 1) for dx in range(2 * radius + 1)]
    return (np.max(windows, axis=0) - np.min(windows, axis=0)) > levels * LEVEL


def fill(frames, still, region, levels=2.0):
    """Share of the textured pixels of `region` that change by more than `levels` 8-bit levels at some frame of
    the loop: how much of a region its flow visibly moves."""
    largest = np.zeros(region.shape, np.float32)
    for frame in frames:
        largest = np.maximum(largest, np.abs(grey(frame) - grey(still)))
    counted = region & textured(still)
    return float((largest[counted] > levels * LEVEL).mean()) if counted.any() else 0.0


def phase_shift(a, b):
    """(dx, dy) in pixels that moves window `a` onto window `b` (x right, y down), by phase correlation. The
    sub-pixel part comes from the two largest samples of the correlation peak, which for a shift d share the
    peak in the ratio (1 - |d|) : |d| (Foroosh et al. 2002); a parabola through the peak reads too far."""
    window = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    fa, fb = np.fft.fft2((a - a.mean()) * window), np.fft.fft2((b - b.mean()) * window)
    cross = fb * np.conj(fa)
    surface = np.real(np.fft.ifft2(cross / np.maximum(np.abs(cross), 1e-12)))
    peak = np.unravel_index(np.argmax(surface), surface.shape)
    shift = []
    for axis, size in ((1, surface.shape[1]), (0, surface.shape[0])):
        index = peak[axis]
        before, after = list(peak), list(peak)
        before[axis], after[axis] = (index - 1) % size, (index + 1) % size
        centre, left, right = surface[peak], max(surface[tuple(before)], 0.0), max(surface[tuple(after)], 0.0)
        offset = right / (right + centre) if right > left else -left / (left + centre)
        value = index + offset
        shift.append(value - size if value > size / 2 else value)
    return np.array(shift)


def rendered_speed(frames, centres, size=32):
    """The median shift per frame (dx, dy; x right, y down) in `size` pixel windows around `centres` (x, y),
    over consecutive frames: an (N, 2) array, one row per centre."""
    result = []
    for x, y in centres:
        x0, y0 = int(round(x - size / 2)), int(round(y - size / 2))
        shifts = [phase_shift(grey(a)[y0:y0 + size, x0:x0 + size], grey(b)[y0:y0 + size, x0:x0 + size])
                  for a, b in zip(frames, frames[1:])]
        result.append(np.median(shifts, axis=0))
    return np.array(result)
