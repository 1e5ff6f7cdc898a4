"""From Clip: the motion measured on a reference clip, as a flow (stats, predict, aligned) or a sway."""

import os

import cv2
import numpy as np

from .. import appearance, clip, oscillation, predictor
from ..errors import InputError
from . import flicker
from . import oscillation as sway
from .results import Flow


def motion(layer, work):
    grid = work.grid
    frames, clip_size = _frames(layer, grid, work)
    flows = clip.optical_flow(frames, work.progress)
    read_h, read_w = frames.shape[1:3]
    src_w = grid.width / grid.scale[0]
    info = work.info["clip"] = {"frames": len(frames), "size": list(clip_size), "measured_at": [read_w, read_h]}
    if layer.motion == "flicker":
        return _flicker(layer, frames, flows, work, info)
    if layer.motion == "oscillation":
        stats = clip.oscillation_stats(flows)
        count = oscillation.term_count(layer.terms, work.loop_frames)
        powers = clip.powers_for_loop(stats, work.loop_frames, count)
        amplitude = stats["amplitude"] * src_w / read_w  # clip px -> source px
        info.update(dominant_frequency=stats["dominant_frequency"], amplitude_px=amplitude,
                    direction=stats["direction"], falloff=stats["falloff"], powers=powers.tolist())
        # The sway's direction and size are the clip's, not settings.
        return sway.spectrum(layer, work, amplitude, stats["direction"], powers)
    stats = clip.fluid_stats(flows)
    to_working = np.array([grid.width / read_w, grid.height / read_h], np.float32)
    info.update(mean_velocity_px=(stats["mean_velocity"] * src_w / read_w).tolist(),
                speed_percentiles=stats["speed_percentiles"])
    if layer.method == "stats":
        return Flow(np.broadcast_to(stats["mean_velocity"] * to_working, (grid.height, grid.width, 2)).copy())
    if layer.method == "aligned":
        return Flow(_aligned(stats, frames, work, info) * to_working)
    return Flow(_predicted(layer, frames, stats, work, info) * to_working)


def _flicker(layer, frames, flows, work, info):
    """The clip's light, its motion taken out, as a flicker of the still (no colour shift: the clip's own
    colour change is not measured)."""
    measured = appearance.measure_flicker(frames, flows)
    terms, powers = appearance.loop_band(measured, work.loop_frames)
    scale = measured["scale_px"] / frames.shape[2]  # clip px -> a fraction of the width
    info.update(amount=measured["amount"], rate_per_second=measured["cycles_per_frame"] * work.fps,
                cycles_per_frame=measured["cycles_per_frame"], scale=scale, region_share=measured["region_share"],
                cycles_per_loop=terms, powers=[float(p) for p in powers])
    return flicker.light(layer, work, measured["amount"], terms, powers, scale, [1.0, 1.0, 1.0])


def _frames(layer, grid, work):
    if layer.clip is not None:
        return clip.read_clip(clip.check_clip_path(layer.clip), max(grid.width, grid.height), progress=work.progress)
    frames = np.asarray(work.arrays.get(layer.clip_array))
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) < clip.MIN_FRAMES:
        raise InputError(f"the clip array of layer '{layer.name}' must be (frames >= {clip.MIN_FRAMES}, height, "
                         f"width, 3) uint8")
    return frames, (frames.shape[2], frames.shape[1])


def _aligned(stats, frames, work, info):
    """The clip's mean flow registered onto the still (which is a frame of the clip), in clip px."""
    grid = work.grid
    read_h, read_w = frames.shape[1:3]
    if abs(read_w / read_h - grid.width / grid.height) > 0.01:
        info["resampled"] = f"stretched from {read_w}x{read_h} to {grid.width}x{grid.height}"
    still = cv2.resize(work.image[..., :3], (grid.width, grid.height), interpolation=cv2.INTER_AREA)
    field = cv2.resize(stats["mean_field"], (grid.width, grid.height), interpolation=cv2.INTER_LINEAR)
    warp = clip.register((np.clip(still, 0, 1) * 255).astype(np.uint8), frames[0])
    info["registration"] = warp.tolist()
    return cv2.warpAffine(field, warp, (grid.width, grid.height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def _predicted(layer, frames, stats, work, info):
    """The still's flow predicted by a network trained on the clip (or loaded from the layer's model file)."""
    read_h, read_w = frames.shape[1:3]
    model = None
    if layer.model and layer.reuse_model and os.path.isfile(layer.model):
        model, scale, curve = predictor.load(layer.model)
        info["model"] = {"path": layer.model, "trained": False}
    if model is None:
        model, scale, curve = predictor.train(frames, stats["mean_field"], layer.train_seconds, work.progress,
                                              seed=work.seed)
        info["model"] = {"path": layer.model, "trained": True}
        if layer.model:
            predictor.save(model, scale, curve, layer.model)
            predictor.save_loss_curve(curve, os.path.splitext(layer.model)[0] + ".loss.png")
    info["loss_curve"] = curve
    still = cv2.resize(work.image[..., :3], (read_w, read_h), interpolation=cv2.INTER_AREA)
    predicted = predictor.predict(model, scale, np.clip(still, 0, 1))
    return cv2.resize(predicted, (work.grid.width, work.grid.height), interpolation=cv2.INTER_LINEAR)
