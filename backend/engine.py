"""Run one job: image + job spec + attached arrays -> per-layer displacement sequences. No I/O here."""

import time

import numpy as np
import torch

from . import fluid, masks
from .device import pick_device
from .errors import InputError


def working_size(width, height, bound):
    scale = min(1.0, bound / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def run_job(job, image, arrays, progress):
    """Returns (meta, result_arrays). `arrays` holds masks sent by name; `progress(stage, fraction)` may raise
    CancelledError to stop the job between steps."""
    started = time.perf_counter()
    image = masks.to_float_image(image, "the image")
    src_w, src_h = job.image_size or (image.shape[1], image.shape[0])  # pixel units refer to the original
    width, height = working_size(src_w, src_h, job.working_resolution)
    device = pick_device(job.device)
    meta = {"working_size": [width, height], "image_size": [src_w, src_h], "loop_frames": job.loop_frames,
            "device": str(device), "torch": torch.__version__, "layers": []}
    result = {}
    with torch.no_grad():
        for index, layer in enumerate(job.layers):
            progress(f"densifying hints of '{layer.name}'", 0.0)
            mask = _layer_mask(layer, arrays, width, height)
            soft = masks.feather_inside(mask, layer.feather * width)
            hints_px = [(((u * width) - 0.5, (1.0 - v) * height - 0.5),
                         (vx * width / src_w, -vy * height / src_h)) for (u, v), (vx, vy) in
                        ((hint.uv, hint.velocity) for hint in layer.hints)]
            velocity = fluid.densify(hints_px, soft, device)
            lookups, weights, substeps = fluid.loop_lookups(velocity, job.loop_frames, progress)
            prefix = f"layer{index}"
            result[f"{prefix}_lookup"] = fluid.px_to_uv(lookups, width, height)
            result[f"{prefix}_weights"] = weights.numpy().astype(np.float32)
            result[f"{prefix}_velocity"] = fluid.px_to_uv(velocity, width, height)
            result[f"{prefix}_mask"] = soft.astype(np.float32)
            meta["layers"].append({"name": layer.name, "type": layer.type, "prefix": prefix,
                                   "euler_substeps": substeps,
                                   "max_speed_px_per_frame": float(velocity.norm(dim=-1).max())})
    meta["seconds"] = round(time.perf_counter() - started, 4)
    return meta, result


def _layer_mask(layer, arrays, width, height):
    if layer.mask.rect is not None:
        return masks.rect_mask(layer.mask.rect, width, height)
    if layer.mask.array is not None:
        if layer.mask.array not in arrays:
            raise InputError(f"layer '{layer.name}' names mask array '{layer.mask.array}', "
                             f"which was not sent with the job")
        return masks.image_mask(arrays[layer.mask.array], width, height, f"mask of layer '{layer.name}'")
    raise InputError(f"layer '{layer.name}' has a mask image path; load it before running the job")
