"""Run one job: image + job spec + attached arrays -> per-layer displacement sequences. No I/O here."""

import os
import time

import cv2
import numpy as np
import torch

from . import clip, densify, fluid, limits, loop, masks, oscillation, predictor
from .device import pick_device
from .errors import InputError


def working_size(width, height, bound):
    scale = min(1.0, bound / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


class Grid:
    """The working grid and the conversions from the job's units (UV, source pixels with y up) to its pixels."""

    def __init__(self, width, height, src_width, src_height):
        self.width, self.height = width, height
        self.scale = np.array([width / src_width, -height / src_height])  # source px (y up) -> working px (y down)

    def points(self, uvs):
        uvs = np.asarray(uvs, np.float64).reshape(-1, 2)
        return np.stack([uvs[:, 0] * self.width - 0.5, (1.0 - uvs[:, 1]) * self.height - 0.5], axis=1)

    def velocities(self, source_px):
        return np.asarray(source_px, np.float64).reshape(-1, 2) * self.scale


def run_job(job, image, arrays, progress):
    """Returns (meta, result_arrays). `arrays` holds masks sent by name; `progress(stage, fraction)` may raise
    CancelledError to stop the job between steps."""
    started = time.perf_counter()
    limits.check_job(job, image, arrays)  # sizes and shapes, before anything is allocated
    image = masks.to_float_image(image, "the image")
    src_w, src_h = job.image_size or (image.shape[1], image.shape[0])  # pixel units refer to the original
    width, height = working_size(src_w, src_h, job.working_resolution)
    grid = Grid(width, height, src_w, src_h)
    device = pick_device(job.device)
    meta = {"working_size": [width, height], "image_size": [src_w, src_h], "loop_frames": job.loop_frames,
            "device": str(device), "torch": torch.__version__, "layers": []}
    guide = densify.guide_image(image if image.ndim == 3 else image[..., None], width, height)

    soft_masks = [masks.feather_inside(_contained_mask(layer, arrays, width, height), layer.feather * width)
                  for layer in job.layers]
    total = np.maximum(sum(soft_masks), 1.0)  # where masks overlap, the layers share the motion, not add it up
    result = {}
    with torch.no_grad():
        for index, (layer, soft) in enumerate(zip(job.layers, soft_masks)):
            prefix = f"layer{index}"
            soft = soft / total
            envelope = soft * _layer_pins(layer, grid, arrays)
            result[f"{prefix}_mask"] = soft.astype(np.float32)
            info = {"name": layer.name, "type": layer.type, "prefix": prefix}
            source = None
            if layer.type == "clip":
                source = _from_clip(layer, grid, image, arrays, job, device, progress, info)
            if layer.type == "oscillation" or (layer.type == "clip" and layer.motion == "oscillation"):
                progress(f"building the spectrum of '{layer.name}'", 0.0)
                amplitude, powers = ((layer.amplitude, None) if source is None else source)
                coefficients = oscillation.spectral_volume(layer, guide, envelope, amplitude * width / src_w,
                                                           job.loop_frames, powers)
                uv = px_to_uv(coefficients, width, height)
                result[f"{prefix}_spectrum"] = np.concatenate([uv.real, uv.imag], axis=-1).astype(np.float32)
                info.update(result="spectrum", terms=list(range(1, coefficients.shape[0] + 1)))
                progress(f"building the spectrum of '{layer.name}'", 1.0)
            else:
                progress(f"densifying hints of '{layer.name}'", 0.0)
                base = source if source is not None else _layer_velocity(layer, grid, guide)
                velocity = base * envelope[..., None]
                velocity_t = torch.from_numpy(np.ascontiguousarray(velocity, np.float32)).to(device)
                period = loop.phase_period(job.loop_frames, layer.phase_frames)
                lookups, substeps = fluid.age_lookups(velocity_t, loop.half_span(period), progress)
                result[f"{prefix}_lookup"] = lookups
                result[f"{prefix}_velocity"] = px_to_uv(velocity, width, height).astype(np.float32)
                info.update(result="lookup", phase_frames=period, phases=loop.PHASES, euler_substeps=substeps,
                            max_speed_px_per_frame=float(np.hypot(*velocity.reshape(-1, 2).T).max()))
            meta["layers"].append(info)
    meta["seconds"] = round(time.perf_counter() - started, 4)
    return meta, result


def px_to_uv(offsets_px, width, height):
    """Working-pixel offsets (x right, y down, real or complex, last axis x/y) -> UV units (u right, v up)."""
    return offsets_px / np.array([width, -height])


def _layer_velocity(layer, grid, guide):
    """The layer's dense velocity before masking, (H, W, 2) in working px per frame, y down."""
    if layer.type == "drift":
        return np.broadcast_to(grid.velocities(layer.velocity)[0], (grid.height, grid.width, 2)).copy()
    points = grid.points([hint.uv for hint in layer.hints])
    velocities = grid.velocities([hint.velocity for hint in layer.hints])
    if layer.pins:  # pins are hints of no motion, so that the flow slows down towards them
        points = np.concatenate([points, grid.points([pin.uv for pin in layer.pins])])
        velocities = np.concatenate([velocities, np.zeros((len(layer.pins), 2))])
    return densify.densify(points, velocities, guide, layer.edge_tolerance)


def _from_clip(layer, grid, image, arrays, job, device, progress, info):
    """What a clip layer takes from its clip: a velocity field (H, W, 2) in working px per frame for flowing
    motion, or (amplitude in source px, powers per term) for swaying motion. Records what it measured in info."""
    if layer.clip is not None:
        frames, clip_size = clip.read_clip(clip.check_clip_path(layer.clip), max(grid.width, grid.height),
                                           progress=progress)
    else:
        frames = np.asarray(arrays.get(layer.clip_array))
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) < clip.MIN_FRAMES:
            raise InputError(f"the clip array of layer '{layer.name}' must be (frames >= {clip.MIN_FRAMES}, height, "
                             f"width, 3) uint8")
        clip_size = (frames.shape[2], frames.shape[1])
    flows = clip.optical_flow(frames, progress)
    read_h, read_w = frames.shape[1:3]
    src_w = grid.width / grid.scale[0]
    info["clip"] = {"frames": len(frames), "size": list(clip_size), "measured_at": [read_w, read_h]}
    if layer.motion == "oscillation":
        stats = clip.oscillation_stats(flows)
        layer.wind = stats["direction"]  # the sway's direction is the clip's, not a setting
        count = oscillation.term_count(layer.terms, job.loop_frames)
        powers = clip.powers_for_loop(stats, job.loop_frames, count)
        amplitude = stats["amplitude"] * src_w / read_w  # clip px -> source px
        info["clip"].update(dominant_frequency=stats["dominant_frequency"], amplitude_px=amplitude,
                            direction=stats["direction"], falloff=stats["falloff"], powers=powers.tolist())
        return amplitude, powers
    stats = clip.fluid_stats(flows)
    to_working = np.array([grid.width / read_w, grid.height / read_h], np.float32)
    info["clip"].update(mean_velocity_px=(stats["mean_velocity"] * src_w / read_w).tolist(),
                        speed_percentiles=stats["speed_percentiles"])
    if layer.method == "stats":
        return np.broadcast_to(stats["mean_velocity"] * to_working, (grid.height, grid.width, 2)).copy()
    if layer.method == "aligned":
        if abs(read_w / read_h - grid.width / grid.height) > 0.01:
            info["clip"]["resampled"] = f"stretched from {read_w}x{read_h} to {grid.width}x{grid.height}"
        still = cv2.resize(image[..., :3], (grid.width, grid.height), interpolation=cv2.INTER_AREA)
        field = cv2.resize(stats["mean_field"], (grid.width, grid.height), interpolation=cv2.INTER_LINEAR)
        warp = clip.register((np.clip(still, 0, 1) * 255).astype(np.uint8), frames[0])
        field = cv2.warpAffine(field, warp, (grid.width, grid.height),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        info["clip"]["registration"] = warp.tolist()
        return field * to_working
    model = None
    if layer.model and layer.reuse_model and os.path.isfile(layer.model):
        model, scale, curve = predictor.load(layer.model)
        info["clip"]["model"] = {"path": layer.model, "trained": False}
    if model is None:
        model, scale, curve = predictor.train(frames, stats["mean_field"], layer.train_seconds, progress,
                                              seed=layer.seed)
        info["clip"]["model"] = {"path": layer.model, "trained": True}
        if layer.model:
            predictor.save(model, scale, curve, layer.model)
            predictor.save_loss_curve(curve, os.path.splitext(layer.model)[0] + ".loss.png")
    info["clip"]["loss_curve"] = curve
    still = cv2.resize(image[..., :3], (read_w, read_h), interpolation=cv2.INTER_AREA)
    predicted = predictor.predict(model, scale, np.clip(still, 0, 1))
    return cv2.resize(predicted, (grid.width, grid.height), interpolation=cv2.INTER_LINEAR) * to_working


def _layer_pins(layer, grid, arrays):
    pin_mask = None
    if layer.pin_mask is not None:
        pin_mask = _mask(layer.pin_mask, arrays, grid.width, grid.height, f"pin mask of layer '{layer.name}'")
    return masks.pin_factor(layer.pins, pin_mask, layer.pin_falloff * grid.width, grid.width, grid.height)


def _contained_mask(layer, arrays, width, height):
    """The layer's mask on the working grid, kept at zero within a pixel of its edge so that nothing outside it
    moves when the motion is drawn at the render's larger size (see masks.interior)."""
    what = f"mask of layer '{layer.name}'"
    values = _mask(layer.mask, arrays, width, height, what)
    if layer.mask.rect is not None:
        coverage = masks.rect_coverage(layer.mask.rect, width, height)
    else:
        coverage = masks.image_coverage(arrays[layer.mask.array], width, height)
    return values * masks.interior(coverage)


def _mask(spec, arrays, width, height, what):
    if spec.rect is not None:
        return masks.rect_mask(spec.rect, width, height)
    if spec.array is not None:
        if spec.array not in arrays:
            raise InputError(f"the {what} names array '{spec.array}', which was not sent with the job")
        return masks.image_mask(arrays[spec.array], width, height, f"the {what}")
    raise InputError(f"the {what} is a file path; load it before running the job")
