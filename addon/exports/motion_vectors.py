"""Motion-vector EXRs of a baked loop, for a compositor's vector blur: one per frame, in the convention of
Blender's Vector pass as Cycles writes it (R, G: the previous frame's position minus this one's; B, A: this
frame's position minus the next one's; in pixels, x to the right, y up: a drift to the right is negative in R
and B), so Blender's Vector Blur node takes them as they are (Nuke: docs/flowmaps.md).

A flowing layer shows several streams of the picture, each carried along the flow; its vector is the streams'
motions averaged with their weights at that frame (a stream keeps moving on the frame it restarts, where its
weight is 0). Each stream's motion is where the content a pixel shows now is shown a frame later (or was a frame
earlier): the point whose read of the painting is the same, found by fixed-point iteration on the baked lookups
(the same reads as backend/reference.py, so the vectors are the motion Blender renders).
"""

import json
import math
import os

import numpy as np

from ...backend import loop, reference
from ..carriers import texture
from .images import write_exr

ITERATIONS = 4


def sway_field(spectra, frames, clock):
    """The sways' lookup -D(t) on the motion grid at a clock, (h, w, 2) UV, added up over the swaying layers."""
    return sum((reference.sway_lookup(spectrum, 2 * math.pi * clock / frames) for spectrum in spectra), 0.0)


def follow(now, then, grid):
    """The motion (h, w, 2) in UV units of what the grid's pixels show now to where it is shown then, given both
    moments' lookup fields on the grid: the point y with y + then(y) = x + now(x), by fixed-point iteration (a
    lookup changes slowly across the picture)."""
    target = grid + now
    where = target - then
    for _ in range(ITERATIONS - 1):
        where = target - reference.sample(then, where)
    return where - grid


def frame_motion(flowing, spectra, frames, frame, step, grid):
    """The motion (h, w, 2), UV units, of what the grid's pixels show at loop frame `frame` to frame
    `frame + step` (step +1 or -1): the sway's, plus each flowing layer's change of it (layers add their
    changes, as the warp's colours do; outside a layer's mask its streams move with the sway)."""
    zero = np.zeros(grid.shape, np.float32)
    sway_now, sway_then = zero + sway_field(spectra, frames, frame), zero + sway_field(spectra, frames, frame + step)
    sway = follow(sway_now, sway_then, grid)
    total = sway
    for lookups, period in flowing:
        mixed = 0.0
        for index in range(loop.PHASES):
            age, weight = loop.phase(frame, index, period)
            mixed = mixed + weight * follow(sway_now + reference.age_lookup(lookups, age),
                                            sway_then + reference.age_lookup(lookups, age + step), grid)
        total = total + (mixed - sway)
    return total


def taps(size_in, size_out):
    """Bilinear reads at the centres of `size_out` pixels from `size_in`, clamped half a texel inside the border
    as backend/reference.py's sample reads: the lower and upper indices and the upper one's share."""
    position = np.clip((np.arange(size_out) + 0.5) / size_out * size_in - 0.5, 0.0, size_in - 1)
    lower = np.floor(position).astype(np.int64)
    return lower, np.minimum(lower + 1, size_in - 1), (position - lower).astype(np.float32)


def resized(field, size):
    """An (h, w, C) field read bilinearly at the pixel centres of a (width, height) picture: what sampling it at
    every pixel's UV gives, one axis at a time."""
    top, bottom, down = taps(field.shape[0], size[1])
    rows = field[top] * (1 - down)[:, None, None] + field[bottom] * down[:, None, None]
    left, right, across = taps(field.shape[1], size[0])
    return rows[:, left] * (1 - across)[None, :, None] + rows[:, right] * across[None, :, None]


def write_motion_vectors(settings, folder, size):
    """`vector_<frame>.exr` for every frame of the loop (scene frame numbers: the loop's start .. start + T - 1),
    in pixels of a picture of `size` (width, height) that the image plane fills, and `vectors.json`; returns the
    folder. The motion is the baked one at strength 1 (a clock of one frame per frame), as the ST-maps'."""
    os.makedirs(folder, exist_ok=True)
    width, height = settings.baked_working_size
    frames, start = settings.baked_loop_frames, settings.baked_loop_start
    flowing, spectra = texture.flowing_layers(settings), texture.swaying_layers(settings)
    grid = reference.pixel_uvs(width, height)
    to_pixels = np.tile(np.array(size, np.float64), 2)
    largest = 0.0
    for frame in range(frames):
        back = frame_motion(flowing, spectra, frames, frame, -1, grid)  # previous position - this one
        ahead = frame_motion(flowing, spectra, frames, frame, 1, grid)  # next position - this one
        field = np.concatenate([back, -ahead], axis=-1).astype(np.float32)
        vectors = resized(field, size) * to_pixels
        largest = max(largest, float(np.abs(vectors).max()))
        write_exr(vectors, os.path.join(folder, f"vector_{start + frame:04d}.exr"), half=True)
    record = {"frames": [start, start + frames - 1], "loop_frames": frames, "size": list(size),
              "channels": ("R, G: the previous frame's position minus this one's; B, A: this frame's position minus "
                           "the next one's (Blender's Vector pass: a motion to the right is negative)"),
              "units": "pixels of the size above, x to the right, y up",
              "largest_px": largest}
    with open(os.path.join(folder, "vectors.json"), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1)
    return folder
