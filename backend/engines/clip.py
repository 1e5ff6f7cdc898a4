"""From Clip: the motion measured on a reference clip, as a flow (stats, predict, aligned) or a sway.

The clip is read with its longer side at the working resolution and measured there (backend/clip.py). It is laid
over the still with ONE scale for x and y (the clip covers the still, centred; the metadata says so when their
aspects differ), so a clip of another aspect never stretches the motion. What is learned comes from the clip's
moving region (found automatically, or within `clip_mask`); whatever makes the measurement doubtful (a cut, a
moving camera, an implausible registration, a constant prediction, a huge sway) is reported as a warning with the
number that triggered it.
"""

import os

import cv2
import numpy as np

from .. import appearance, clip, masks, oscillation, predictor
from ..errors import InputError
from . import flicker
from . import oscillation as sway
from .results import Flow, flow_estimate, spectrum_estimate

# A clip layer holds up to clip.MAX_FRAMES frames (3 bytes a pixel) and their flows (8 bytes), at most at the
# working size; learning adds the frames as float tensors (12 bytes), swaying or flickering a spectrum (16 bytes).
CLIP_FRAMES = 300
CLIP_PER_FRAME = {"stats": 11, "aligned": 11, "predict": 23, "oscillation": 27, "flicker": 27}


def estimate(layer, job, pixels, where):
    if layer.motion == "oscillation":
        result, work, advice = sway.estimate(layer, job, pixels, where)
    elif layer.motion == "flicker":
        result, work, advice = spectrum_estimate(appearance.MAX_TERMS, 2, pixels, where, "working_resolution")
    else:
        result, work, advice = flow_estimate(layer, job, pixels, where)
    kind = layer.method if layer.motion == "fluid" else layer.motion
    return result, work + pixels * CLIP_FRAMES * CLIP_PER_FRAME[kind], advice

STEPS_PER_SECOND = 10  # the deprecated `train_seconds` becomes a step budget at this rate
CONSTANT_SHARE = 0.15  # a prediction whose spatial variation is below this share of the clip's is "constant"


class Fit:
    """The clip laid over the still: working px = scale * clip px + offset (the same scale in x and y)."""

    def __init__(self, read_w, read_h, grid):
        self.scale = max(grid.width / read_w, grid.height / read_h)  # cover the still, crop the rest of the clip
        self.offset = ((grid.width - self.scale * read_w) / 2, (grid.height - self.scale * read_h) / 2)
        self.matrix = np.array([[self.scale, 0, self.offset[0] + (self.scale - 1) / 2],
                                [0, self.scale, self.offset[1] + (self.scale - 1) / 2]], np.float32)
        self.size = (grid.width, grid.height)

    def lay(self, image, flags=cv2.INTER_LINEAR):
        """An image (or flow field) of the clip's size on the working grid."""
        return cv2.warpAffine(image, self.matrix, self.size, flags=flags, borderMode=cv2.BORDER_REPLICATE)


def motion(layer, work):
    grid = work.grid
    frames, clip_size = _frames(layer, grid, work)
    read_h, read_w = frames.shape[1:3]
    flows = clip.optical_flow(frames, work.progress)
    fit = Fit(read_w, read_h, grid)
    to_source = fit.scale / grid.scale[0]  # the still's source px per clip px (as read)
    clip_px = clip_size[0] / read_w        # the clip's own px per clip px (as read)
    info = work.info["clip"] = {"frames": len(frames), "size": list(clip_size), "measured_at": [read_w, read_h],
                                "still_px_per_clip_px": to_source / clip_px}
    src_w, src_h = grid.width / grid.scale[0], grid.height / -grid.scale[1]
    if abs(read_w / read_h - grid.width / grid.height) > 0.01:
        info["resampled"] = (f"the clip ({clip_size[0]}x{clip_size[1]}) and the still ({src_w:.0f}x{src_h:.0f}) "
                             f"differ in aspect: the clip is scaled by {to_source / clip_px:.3f} in x and y alike "
                             f"to cover the still, centred, the rest of it left out")
    if layer.motion == "flicker":  # light, not motion: its own measure, after the motion is taken out
        return _flicker(layer, frames, flows, work, info)
    flows = _without_cuts(flows, frames, layer.motion == "oscillation", work)
    for message in clip.camera_warnings(flows, clip_px):
        work.warn(message)
    region = _region(layer, flows, read_w, read_h, clip_px, work)
    if layer.motion == "oscillation":
        return _sway(layer, work, flows, region, to_source, clip_px, info)
    stats = clip.fluid_stats(flows, region)
    velocity = stats["mean_velocity"] * to_source
    info.update(mean_velocity_px_per_frame=[float(velocity[0]), float(-velocity[1])],
                speed_percentiles_px_per_frame={p: v * to_source for p, v in stats["speed_percentiles"].items()})
    if layer.method == "stats":
        return Flow(np.broadcast_to(stats["mean_velocity"] * fit.scale, (grid.height, grid.width, 2)).copy())
    field = stats["mean_field"] * cv2.GaussianBlur(region, (0, 0), 1.5)[..., None]  # static outside the region
    if layer.method == "aligned":
        return Flow(_aligned(field, frames, fit, work, info))
    return Flow(_predicted(layer, frames, field, fit, work, info))


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
    side = max(grid.width, grid.height)
    if layer.clip is not None:
        return clip.read_clip(clip.check_clip_path(layer.clip), side, progress=work.progress)
    if layer.clip_array not in work.arrays:
        raise InputError(f"the clip array '{layer.clip_array}' of layer '{layer.name}' was not sent with the job")
    frames = np.asarray(work.arrays[layer.clip_array])
    reduced = clip.frames_from_array(frames, side, f"the clip array of layer '{layer.name}'")
    return reduced, (frames.shape[2], frames.shape[1])


def _without_cuts(flows, frames, keep_time, work):
    """The flow without the frame pairs across a scene cut: left out for statistics, zero for trajectories (the
    time line must stay whole)."""
    cuts, residuals = clip.scene_cuts(frames, flows)
    if not cuts:
        return flows
    usual = float(np.median(residuals))
    pairs = ", ".join(f"{t + 1}-{t + 2} ({residuals[t]:.1f})" for t in cuts)
    work.warn(f"scene cut: frames {pairs} differ by more than the motion explains (grey levels of 0-255 left "
              f"after following the flow, {usual:.1f} usually); those pairs are left out: trim the clip to one "
              f"shot")
    if keep_time:
        flows = flows.copy()
        flows[cuts] = 0.0
        return flows
    if len(cuts) == len(flows):
        raise InputError("every frame of the clip is a cut from the one before: the clip has no motion to learn")
    return np.delete(flows, cuts, axis=0)


def _region(layer, flows, read_w, read_h, clip_px, work):
    """The part of the clip learned from: its moving region, within clip_mask when the layer has one."""
    weights = None
    if layer.clip_mask is not None:
        spec, what = layer.clip_mask, f"clip region of layer '{layer.name}'"
        if spec.rect is not None:
            weights = masks.rect_mask(spec.rect, read_w, read_h)
        elif spec.array is not None:
            if spec.array not in work.arrays:
                raise InputError(f"the {what} names array '{spec.array}', which was not sent with the job")
            weights = masks.image_mask(work.arrays[spec.array], read_w, read_h, f"the {what}")
        else:
            raise InputError(f"the {what} is a file path; load it before running the job")
    region, found = clip.moving_region(flows, weights)
    work.info["clip"]["region"] = {"from": "clip_mask" if weights is not None else "automatic",
                                   "moving": found["moving"], "share": round(found["share"], 4)}
    if not found["moving"]:
        work.warn(f"the clip barely moves: its fastest 1% moves {found['fastest_px_per_frame'] * clip_px:.2f} px "
                  f"per frame (clip pixels), about the optical flow's noise; the layer will hardly move")
    return region


def _sway(layer, work, flows, region, to_source, clip_px, info):
    stats = clip.oscillation_stats(flows, region)
    info.update(travel_px=stats["travel_px"] * to_source, directedness=stats["directedness"],
                points=stats["points"])
    if clip.flows_rather_than_sways(stats):
        raise InputError(
            f"the clip flows rather than sways: its tracked points travel {stats['travel_px'] * clip_px:.1f} px "
            f"one way over {stats['frames']} frames ({stats['directedness']:.0%} of their motion keeps its "
            f"direction; their swing is {stats['amplitude'] * clip_px:.1f} px, clip pixels): use a fluid layer "
            f"(Clip Motion: Flowing) for fire, fountains and travelling waves, or a clip holding at least one "
            f"whole swing")
    count = oscillation.term_count(layer.terms, work.loop_frames)
    powers = clip.powers_for_loop(stats, work.loop_frames, count)
    amplitude = stats["amplitude"] * to_source
    info.update(dominant_frequency_cycles_per_frame=stats["dominant_frequency"], dominant_bin=stats["dominant_bin"],
                amplitude_px=amplitude, direction=stats["direction"], across_ratio=stats["across_ratio"],
                falloff=stats["falloff"], powers=powers.tolist())
    # The sway's direction and size are the clip's, not settings.
    return sway.spectrum(layer, work, amplitude, stats["direction"], powers)


def _still(work, width, height):
    """The still as 8-bit RGB at the given size (grey, 16-bit, float and alpha stills alike)."""
    return cv2.resize(clip.to_rgb8(work.image), (width, height), interpolation=cv2.INTER_AREA)


def _aligned(field, frames, fit, work, info):
    """The clip's mean flow (clip px) laid over the still and registered onto it (the still is a frame of the
    clip), in working px."""
    grid = work.grid
    still = _still(work, grid.width, grid.height)
    warp, problem = clip.register(still, fit.lay(frames[0]))
    if problem:
        work.warn(f"{problem}: the clip is used as laid over the still, unregistered; check that the still is a "
                  f"frame of this clip")
        warp = np.eye(2, 3, dtype=np.float32)
    info["registration"] = np.asarray(warp).tolist()
    laid = fit.lay(np.ascontiguousarray(field, np.float32)) * fit.scale
    return cv2.warpAffine(laid, warp, (grid.width, grid.height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def _predicted(layer, frames, target, fit, work, info):
    """The still's flow predicted by a network trained on the clip, or loaded from the layer's model file when
    that was trained on this clip with these settings; in working px."""
    steps = layer.train_steps if layer.train_seconds is None else max(1, round(layer.train_seconds
                                                                                * STEPS_PER_SECOND))
    seed = layer.train_seed
    learned_from = predictor.clip_hash(frames, target, steps, seed)
    model, record = None, {"path": layer.model, "trained": True, "steps": steps, "seed": seed,
                           "clip_hash": learned_from}
    if layer.model and layer.reuse_model and os.path.isfile(layer.model):
        try:
            model, scale, curve, stored = predictor.load(layer.model)
        except InputError as exc:
            work.warn(f"{exc.message}: trained a new one in its place")
            stored = None
        if stored is not None and stored["clip_hash"] == learned_from:
            record.update(trained=False, final_loss=stored["final_loss"])
        else:
            model = None
            if stored is not None:
                record["reason"] = ("the model file was trained on another clip, region or settings (or by an "
                                    "older version): trained again")
    if model is None:
        model, scale, curve, final = predictor.train(frames, target, steps, seed, work.progress)
        record["final_loss"] = final
        if layer.model:
            predictor.save(model, scale, curve, layer.model, learned_from, steps, seed, final)
            predictor.save_loss_curve(curve, os.path.splitext(layer.model)[0] + ".loss.png")
    info["model"], info["loss_curve"] = record, curve
    grid = work.grid
    size = (max(8, round(grid.width / fit.scale)), max(8, round(grid.height / fit.scale)))  # the clip's scale
    predicted = predictor.predict(model, scale, _still(work, *size) / 255.0)
    _check_constant(predicted, target, work)
    return cv2.resize(predicted, (grid.width, grid.height), interpolation=cv2.INTER_LINEAR) * fit.scale


def _check_constant(predicted, target, work):
    """Warn when the prediction is (nearly) the same everywhere although the clip's flow is not: the predictor
    collapsed to a constant field, or the still's looks are unlike anything in the clip."""
    spread = float(np.sqrt(predicted.reshape(-1, 2).var(axis=0).sum()))
    expected = float(np.sqrt(target.reshape(-1, 2).var(axis=0).sum()))
    varied = expected > max(0.05, 0.5 * float(np.hypot(*target.reshape(-1, 2).T).mean()))  # not one flow for all
    if varied and spread < CONSTANT_SHARE * expected:
        work.warn(f"the predicted flow is nearly constant: its spatial variation is {spread / expected:.0%} of the "
                  f"clip's ({spread:.3f} against {expected:.3f} px per frame); the predictor did not learn which "
                  f"appearance moves: train more steps, use a clip more like the still, or use stats")
