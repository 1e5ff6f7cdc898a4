"""What a job's bake will need in Blender, checked from the job alone before the backend computes anything: each
layer's atlas against Blender's limits (a packed image over 2 GiB crashes the save; GPUs take textures of at
most 16384 on a side). A job that cannot be baked is refused in the panel's words, with the setting to lower and
the value that fits, instead of after minutes of computing.

The tile counts follow texture.py: a flowing layer stores 2H tiles of lookups by stream age (H = half its phase
period, backend/loop.py), a swaying layer one tile per Fourier term, a flickering one a tile per two terms.
"""

import math

from ...backend import loop
from ...backend.sizes import fit_longest
from ...layertypes import baked_motion, layer_type
from ..plane import PlaneError
from .texture import atlas_problem

# Most terms a flicker keeps (the backend's appearance.MAX_TERMS; that module needs OpenCV, Blender has none).
MAX_LIGHT_TERMS = 16
# How many Fourier terms a sway asks for: its declaration.
SWAY_TERMS = layer_type("oscillation").param("terms")
# Working resolutions offered as a fix are whole multiples of this.
RESOLUTION_STEP = 8


def layer_tiles(spec, loop_frames, period=0):
    """Atlas tiles of one job layer; a flowing layer's with its phase period, or with `period` when given."""
    motion = baked_motion(spec)
    if motion == "sway":
        return int(spec.get(SWAY_TERMS.key) or SWAY_TERMS.default)  # a clip's sway: the declared default
    if motion == "light":
        return math.ceil(MAX_LIGHT_TERMS / 2)
    return 2 * loop.half_span(period or loop.layer_period(loop_frames, spec))


def check_job(job):
    """Raise PlaneError for the first layer whose bake Blender could not hold, saying what to lower and to what."""
    image_width, image_height = job["image_size"]
    if not image_width or not image_height:
        return  # a picture without pixels: reading it says so
    resolution, frames = job["working_resolution"], job["loop_frames"]
    width, height = fit_longest(image_width, image_height, resolution)
    for spec in job["layers"]:
        tiles = layer_tiles(spec, frames)
        problem = atlas_problem(tiles, width, height)
        if not problem:
            continue
        fixes = []
        fitting = next((r for r in range(resolution - resolution % RESOLUTION_STEP, 0, -RESOLUTION_STEP)
                        if not atlas_problem(tiles, *fit_longest(image_width, image_height, r))), None)
        if fitting:
            fixes.append(f"lower the Working Resolution to {fitting} or less")
        if baked_motion(spec) == "flow":  # a shorter phase period needs fewer tiles
            period = next((p for p in range(frames, 0, -1) if frames % p == 0
                           and not atlas_problem(layer_tiles(spec, frames, p), width, height)), None)
            if period:
                fixes.append(f"set its Phase Period to {period} frames or less")
        raise PlaneError(f"Layer '{spec['name']}' cannot be baked: {problem}; "
                         f"{' or '.join(fixes) or 'lower the Working Resolution'}")
