"""Motion-vector EXRs of a baked loop, for a compositor's vector blur: one per frame, in Blender's Vector pass
convention (R, G: the motion from the previous frame to this one; B, A: from this one to the next; in pixels,
x to the right, y up), so Blender's Vector Blur node takes them as they are (Nuke: docs/flowmaps.md).

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
from .images import write_image

ITERATIONS = 4


def follow(read_now, read_then, uv):
    """The motion (..., 2) in UV units of the content shown at `uv` now to where it is shown then: y with
    read_then(y) = read_now(uv), by fixed-point iteration (a lookup changes slowly across the picture)."""
    target = read_now(uv)
    where = uv
    for _ in range(ITERATIONS):
        where = where + (target - read_then(where))
    return where - uv


def frame_motion(flowing, spectra, frames, frame, step, uv):
    """The motion (..., 2), UV units, of what pixels at `uv` show at loop frame `frame` to frame `frame + step`
    (step +1 or -1): the sway's, plus each flowing layer's change of it (layers add their changes, as the warp's
    colours do; outside a layer's mask its streams move with the sway)."""
    def sway_read(clock):
        return lambda where: where + sum((reference.sway_offset(spectrum, 2 * math.pi * clock / frames, where)
                                          for spectrum in spectra), np.zeros_like(where))

    sway_now, sway_then = sway_read(frame), sway_read(frame + step)
    sway = follow(sway_now, sway_then, uv)
    total = sway
    for lookups, period in flowing:
        mixed = 0.0
        for index in range(loop.PHASES):
            age, weight = loop.phase(frame, index, period)
            mixed = mixed + weight * follow(
                lambda where, age=age: sway_now(where) + reference.stream_offset(lookups, age, where),
                lambda where, age=age: sway_then(where) + reference.stream_offset(lookups, age + step, where), uv)
        total = total + (mixed - sway)
    return total


def write_motion_vectors(settings, folder, size):
    """`vector_<frame>.exr` for every frame of the loop (scene frame numbers: the loop's start .. start + T - 1),
    in pixels of a picture of `size` (width, height) that the image plane fills, and `vectors.json`; returns the
    folder. The motion is the baked one at strength 1 (a clock of one frame per frame), as the ST-maps'."""
    os.makedirs(folder, exist_ok=True)
    width, height = settings.baked_working_size
    frames, start = settings.baked_loop_frames, settings.baked_loop_start
    flowing, spectra = texture.flowing_layers(settings), texture.swaying_layers(settings)
    grid = reference.pixel_uvs(width, height)
    out = reference.pixel_uvs(*size)
    to_pixels = np.array(size, np.float64)
    largest = 0.0
    for frame in range(frames):
        since = -frame_motion(flowing, spectra, frames, frame, -1, grid)  # previous -> this
        until = frame_motion(flowing, spectra, frames, frame, 1, grid)  # this -> next
        field = np.concatenate([since, until], axis=-1).astype(np.float32)
        vectors = reference.sample(field, out) * np.tile(to_pixels, 2).astype(np.float32)
        largest = max(largest, float(np.abs(vectors).max()))
        write_image(vectors, os.path.join(folder, f"vector_{start + frame:04d}.exr"), "OPEN_EXR", data=True)
    record = {"frames": [start, start + frames - 1], "loop_frames": frames, "size": list(size),
              "channels": "R, G: motion from the previous frame to this one; B, A: from this one to the next",
              "units": "pixels of the size above, x to the right, y up (Blender's Vector pass)",
              "largest_px": largest}
    with open(os.path.join(folder, "vectors.json"), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1)
    return folder
