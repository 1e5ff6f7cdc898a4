"""A flow map of the baked loop, for game engines: one texture of the flowing layers' motion and its settings.

A game engine's flow map shader shows flowing water from one still texture and a flow texture: N phases read
the still at uv - flow * (phase - 1/2), each phase restarting every period, weighted so that each is invisible
when it restarts. The baked loop is that with N = 3 and sin^2 weights (backend/loop.py), but each stream follows
the flow's curved path (the lookups by age); a flow map holds one straight step per pixel, the least-squares fit
of those paths over the ages the streams show (weighted by how much each age shows). Where the flow curves the
shader's picture departs from the bake; flowmap.json states by how much. docs/flowmaps.md has the convention and
the shader graphs.
"""

import json
import os

import numpy as np

from ...backend import loop
from ..carriers import texture
from .images import write_exr, write_image

ENCODING = ("R, G = 0.5 + 0.5 * flow / scale: flow in UV units per phase period, u to the right, v up (the top "
            "row is v = 1); B = 0, A = 1; linear values, not colour (turn sRGB off)")
SHADER = ("for i in 0, 1, 2: phase = fract(time / period_seconds + i / 3); colour += (2 / 3) sin^2(pi phase) * "
          "still(uv - flow * (phase - 0.5))")


class NoFlow(ValueError):
    """The bake has no flowing layer: a flow map would be empty."""


def age_weights(lookups, period):
    """How much the streams show each whole age s = -A..A over a period: (2A + 1,), cos^2(pi s / P) (0 past
    P / 2), from the stream weights of backend/loop.py."""
    half = (len(lookups) - 1) // 2
    ages = np.arange(-half, half + 1, dtype=np.float64)
    return ages, np.where(np.abs(ages) <= period / 2, np.cos(np.pi * ages / period) ** 2, 0.0)


def straight_flow(lookups, period):
    """The flow (h, w, 2), UV units per frame, whose straight lookups -flow * s best fit the streams' lookups by
    age s (least squares, weighted by how much each age shows)."""
    ages, weights = age_weights(lookups, period)
    share = weights * ages
    return -np.tensordot(share, lookups.astype(np.float64), axes=(0, 0)) / (share * ages).sum()


def straight_line_error(lookups, period, flow, size):
    """Per pixel (h, w): the RMS distance, in pixels of a picture of `size` (width, height), between the streams'
    lookups and the flow map's straight ones, over the ages, weighted by how much each age shows."""
    ages, weights = age_weights(lookups, period)
    miss = (lookups + ages[:, None, None, None] * flow[None]) * np.array(size, np.float64)
    return np.sqrt(np.tensordot(weights, (miss ** 2).sum(axis=-1), axes=(0, 0)) / weights.sum())


def _stats(values):
    if values.size == 0:
        return {"mean": 0.0, "p99": 0.0, "max": 0.0}
    return {"mean": round(float(values.mean()), 4), "p99": round(float(np.percentile(values, 99)), 4),
            "max": round(float(values.max()), 4)}


def write_flowmap(settings, folder, fps):
    """`flowmap.png` (the flowing layers' flows added up, encoded as ENCODING says, at the working resolution; 16
    bits), `flowmap.exr` (the same values as 32-bit floats, for engines that would cut a PNG to 8 bits) and
    `flowmap.json` (period, scale, speeds, the straight-line error) in `folder`; returns the PNG's path.
    Raises NoFlow when nothing flows. The flow is the baked one at strength 1 (a clock of one frame per frame)."""
    layers = texture.flowing_layers(settings)
    if not layers:
        raise NoFlow("this plane's bake has no flowing layer (fluid, drift or a flowing clip): a flow map needs one")
    width, height = settings.baked_working_size
    period = layers[0][1]  # with several periods, the first layer's restarts the map's phases (see the JSON)
    flows = [straight_flow(lookups, layer_period) for lookups, layer_period in layers]
    errors = [straight_line_error(lookups, layer_period, flow, (width, height))
              for (lookups, layer_period), flow in zip(layers, flows)]
    flow = sum(flows)
    per_period = flow * period
    scale = float(np.abs(per_period).max()) or 1.0
    encoded = np.zeros((height, width, 4), np.float32)
    encoded[..., :2] = np.clip(0.5 + 0.5 * per_period / scale, 0.0, 1.0)
    encoded[..., 3] = 1.0
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "flowmap.png")
    write_image(encoded, path, "PNG", data=True)
    write_exr(encoded, os.path.join(folder, "flowmap.exr"), half=False)  # the same values
    moving = [error[_pixel_speed(f, width, height) > 0.01] for error, f in zip(errors, flows)]
    fastest = float(_pixel_speed(flow, width, height).max())
    record = {
        "image": "flowmap.png",
        "float_image": "flowmap.exr",
        "size": [width, height],
        "encoding": ENCODING,
        "scale_uv_per_period": scale,
        "phase_period_frames": period,
        "phase_period_seconds": period / fps,
        "fps": fps,
        "loop_frames": settings.baked_loop_frames,
        "phases": loop.PHASES,
        "shader": SHADER,
        # u and v are not the same length on a picture that is not square: speeds in the map's pixels
        "max_speed_map_px_per_frame": fastest,
        "max_speed_map_px_per_second": fastest * fps,
        # what 0 and 1 encode, per component
        "encodable_uv_per_period": scale,
        "encodable_uv_per_second": scale * fps / period,
        "straight_line_error_map_px": _stats(np.concatenate([m.ravel() for m in moving])),
        "layers": [{"phase_period_frames": layer_period,
                    "max_speed_map_px_per_frame": float(_pixel_speed(f, width, height).max()),
                    "straight_line_error_map_px": _stats(m)}
                   for (_, layer_period), f, m in zip(layers, flows, moving)],
    }
    if len({layer_period for _, layer_period in layers}) > 1:
        record["note"] = (f"the flowing layers restart every {sorted({p for _, p in layers})} frames; the map's "
                          f"phases restart every {period}")
    with open(os.path.join(folder, "flowmap.json"), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1)
    return path


def _pixel_speed(flow, width, height):
    return np.sqrt(((flow * np.array([width, height])) ** 2).sum(axis=-1))
