"""Run one job: image + job spec + attached arrays -> per-layer displacement sequences. No I/O here."""

import time

import numpy as np
import torch

from . import densify, fluid, masks, oscillation
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
    image = masks.to_float_image(image, "the image")
    src_w, src_h = job.image_size or (image.shape[1], image.shape[0])  # pixel units refer to the original
    width, height = working_size(src_w, src_h, job.working_resolution)
    grid = Grid(width, height, src_w, src_h)
    device = pick_device(job.device)
    meta = {"working_size": [width, height], "image_size": [src_w, src_h], "loop_frames": job.loop_frames,
            "device": str(device), "torch": torch.__version__, "layers": []}
    guide = densify.guide_image(image if image.ndim == 3 else image[..., None], width, height)

    soft_masks = [masks.feather_inside(_mask(layer.mask, arrays, width, height, f"mask of layer '{layer.name}'"),
                                       layer.feather * width) for layer in job.layers]
    total = np.maximum(sum(soft_masks), 1.0)  # where masks overlap, the layers share the motion, not add it up
    result = {}
    with torch.no_grad():
        for index, (layer, soft) in enumerate(zip(job.layers, soft_masks)):
            prefix = f"layer{index}"
            soft = soft / total
            envelope = soft * _layer_pins(layer, grid, arrays)
            result[f"{prefix}_mask"] = soft.astype(np.float32)
            info = {"name": layer.name, "type": layer.type, "prefix": prefix}
            if layer.type == "oscillation":
                progress(f"building the spectrum of '{layer.name}'", 0.0)
                coefficients = oscillation.spectral_volume(layer, guide, envelope, layer.amplitude * width / src_w,
                                                           job.loop_frames)
                result[f"{prefix}_spectrum"] = spectrum_to_uv(coefficients, width, height)
                info["terms"] = list(range(1, coefficients.shape[0] + 1))
                progress(f"building the spectrum of '{layer.name}'", 1.0)
            else:
                progress(f"densifying hints of '{layer.name}'", 0.0)
                velocity = _layer_velocity(layer, grid, guide) * envelope[..., None]
                velocity_t = torch.from_numpy(np.ascontiguousarray(velocity, np.float32)).to(device)
                lookups, weights, substeps = fluid.loop_lookups(velocity_t, job.loop_frames, progress)
                result[f"{prefix}_lookup"], result[f"{prefix}_weights"] = lookups, weights
                result[f"{prefix}_velocity"] = fluid.px_to_uv(velocity_t, width, height)
                info.update(euler_substeps=substeps,
                            max_speed_px_per_frame=float(np.hypot(*velocity.reshape(-1, 2).T).max()))
            meta["layers"].append(info)
    meta["seconds"] = round(time.perf_counter() - started, 4)
    return meta, result


def spectrum_to_uv(coefficients, width, height):
    """(K, H, W, 2) complex px (y down) -> (K, H, W, 4) float32 UV units (v up): Re u, Re v, Im u, Im v."""
    uv = coefficients / np.array([width, -height])
    return np.concatenate([uv.real, uv.imag], axis=-1).astype(np.float32)


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


def _layer_pins(layer, grid, arrays):
    pin_mask = None
    if layer.pin_mask is not None:
        pin_mask = _mask(layer.pin_mask, arrays, grid.width, grid.height, f"pin mask of layer '{layer.name}'")
    return masks.pin_factor(layer.pins, pin_mask, layer.pin_falloff * grid.width, grid.width, grid.height)


def _mask(spec, arrays, width, height, what):
    if spec.rect is not None:
        return masks.rect_mask(spec.rect, width, height)
    if spec.array is not None:
        if spec.array not in arrays:
            raise InputError(f"the {what} names array '{spec.array}', which was not sent with the job")
        return masks.image_mask(arrays[spec.array], width, height, f"the {what}")
    raise InputError(f"the {what} is a file path; load it before running the job")
