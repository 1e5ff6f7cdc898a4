"""ST-maps of a baked loop, for compositors (Nuke, Natron, Fusion: an STMap node per stream)."""

import json
import math
import os

import numpy as np

from ...backend import loop, reference
from ..carriers import texture
from .images import write_image


def write_stmaps(settings, folder):
    """ST-maps of the loop at the working resolution, for compositors: for each flowing layer, each loop frame
    and each of its streams, `<layer>/stmap_<frame>_<stream>.exr` with RG = the ST (UV) to read and B = the
    stream's weight at that frame (the sway of swaying layers included). Warp the still with each map (STMap),
    multiply by B and add the streams up; stmap.json lists the weights too. (Blender's warp also keeps the mix as
    sharp as the still, see docs/job-spec.md; a plain weighted sum is slightly softer.)"""
    os.makedirs(folder, exist_ok=True)
    width, height = settings.baked_working_size
    frames = settings.baked_loop_frames
    identity = reference.pixel_uvs(width, height)
    spectra = texture.swaying_layers(settings)
    layers = texture.flowing_layers(settings) or [(None, 0)]
    record = {"frames": frames, "size": [width, height], "streams": loop.PHASES, "layers": []}
    for index, (lookups, period) in enumerate(layers):
        layer_folder = os.path.join(folder, f"layer{index}")
        os.makedirs(layer_folder, exist_ok=True)
        weights = []
        for frame in range(frames):
            sway = sum(reference.sway_offset(spectrum, 2 * math.pi * frame / frames, identity)
                       for spectrum in spectra)
            streams = ([loop.phase(frame, i, period) for i in range(loop.PHASES)] if lookups is not None
                       else [(0.0, 1.0)])
            for stream, (age, weight) in enumerate(streams):
                offset = reference.stream_offset(lookups, age, identity) if lookups is not None else 0.0
                st = identity + sway + offset
                write_image(np.concatenate([st, np.full(st.shape[:2] + (1,), weight, np.float32)], axis=-1),
                            os.path.join(layer_folder, f"stmap_{frame:04d}_{stream}.exr"), "OPEN_EXR")
            weights.append([weight for _, weight in streams])
        record["layers"].append({"folder": f"layer{index}", "phase_period": period, "weights": weights})
    with open(os.path.join(folder, "stmap.json"), "w", encoding="utf-8") as handle:
        json.dump(dict(record, channels="R,G: ST (UV) to read; B: the stream's weight at this frame"), handle,
                  indent=1)
    return folder
