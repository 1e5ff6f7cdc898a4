"""Run one job: image + job spec + attached arrays -> per-layer motion (lookups by age or spectra). No I/O here."""

import time

import numpy as np
import torch

from . import densify, fluid, limits, loop, masks
from .device import pick_device
from .engines import Work, engine_for
from .engines.results import Light, Sway
from .errors import InputError
from .sizes import fit_longest


def working_size(width, height, bound):
    return fit_longest(width, height, bound)


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
    CancelledError to stop the job between steps. Each layer's own motion comes from its type's engine
    (backend/engines/); masks, pins, overlaps and the loop are the same for every type and are done here."""
    started = time.perf_counter()
    limits.check_job(job, image, arrays)  # sizes and shapes, before anything is allocated
    image = masks.to_float_image(image, "the image")
    src_w, src_h = job.image_size or (image.shape[1], image.shape[0])  # pixel units refer to the original
    width, height = working_size(src_w, src_h, job.working_resolution)
    grid = Grid(width, height, src_w, src_h)
    device = pick_device(job.device)
    meta = {"working_size": [width, height], "image_size": [src_w, src_h], "loop_frames": job.loop_frames,
            "device": str(device), "torch": torch.__version__, "layers": [], "warnings": []}
    guide = densify.guide_image(_colour(image), width, height)

    soft_masks = [masks.feather_inside(_contained_mask(layer, arrays, width, height), layer.feather * width)
                  for layer in job.layers]
    total = np.maximum(sum(soft_masks), 1.0)  # where masks overlap, the layers share the motion, not add it up
    result = {}
    with torch.no_grad():
        for index, (layer, soft) in enumerate(zip(job.layers, soft_masks)):
            prefix = f"layer{index}"
            soft = soft / total
            info = {"name": layer.name, "type": layer.type, "prefix": prefix}
            work = Work(grid=grid, guide=guide, image=image, arrays=arrays, loop_frames=job.loop_frames,
                        fps=job.fps, device=device, envelope=soft * _layer_pins(layer, grid, arrays),
                        edge_tolerance=layer.edge_tolerance, seed=getattr(layer, "seed", 0), progress=progress,
                        info=info)
            result[f"{prefix}_mask"] = soft.astype(np.float32)
            motion = engine_for(layer.type).motion(layer, work)
            if isinstance(motion, Sway):
                uv = px_to_uv(motion.coefficients, width, height)
                result[f"{prefix}_spectrum"] = np.concatenate([uv.real, uv.imag], axis=-1).astype(np.float32)
                info.update(result="spectrum", terms=list(range(1, motion.coefficients.shape[0] + 1)))
            elif isinstance(motion, Light):
                result[f"{prefix}_flicker"] = np.stack([motion.spectrum.real, motion.spectrum.imag],
                                                       axis=-1).astype(np.float32)
                info.update(result="flicker", cycles_per_loop=[int(k) for k in motion.terms],
                            channel_weights=[float(w) for w in motion.weights])
            else:
                result.update(_flowing(prefix, motion.velocity * work.envelope[..., None], job, layer, work))
                if motion.sparkle is not None:
                    result[f"{prefix}_sparkle"] = motion.sparkle
                    info["sparkle"] = True
            meta["layers"].append(info)
            meta["warnings"] += [f"layer '{layer.name}': {message}" for message in info.get("warnings", [])]
    meta["seconds"] = round(time.perf_counter() - started, 4)
    return meta, result


def _colour(image):
    """The picture's colour channels (H, W, 1 or 3): grey or RGB, without alpha."""
    image = image if image.ndim == 3 else image[..., None]
    return image[..., :1] if image.shape[2] == 2 else image[..., :3]


def _flowing(prefix, velocity, job, layer, work):
    """A flowing layer's result: its streams' lookups by age over one phase period, and its velocity."""
    velocity_t = torch.from_numpy(np.ascontiguousarray(velocity, np.float32)).to(work.device)
    period = loop.layer_period(job.loop_frames, layer.values)
    lookups, substeps = fluid.age_lookups(velocity_t, loop.half_span(period), work.progress)
    work.info.update(result="lookup", phase_period=period, phases=loop.PHASES, euler_substeps=substeps,
                     max_speed_px_per_frame=float(np.hypot(*velocity.reshape(-1, 2).T).max()))
    return {f"{prefix}_lookup": lookups,
            f"{prefix}_velocity": px_to_uv(velocity, work.grid.width, work.grid.height).astype(np.float32)}


def px_to_uv(offsets_px, width, height):
    """Working-pixel offsets (x right, y down, real or complex, last axis x/y) -> UV units (u right, v up)."""
    return offsets_px / np.array([width, -height])


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
