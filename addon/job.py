"""Turn a plane's settings into a backend job (docs/job-spec.md) and the arrays that travel with it."""

import math
import os
import tempfile

import bpy

from .hints import PlaneProjection, drift_velocity, guide_hints, wind_degrees
from .plane import PlaneError, read_pixels

# Images are sent at up to this many times the working resolution: enough detail for the working grid.
IMAGE_DETAIL = 2


def active_layers(settings):
    """(index, layer) of the unmuted layers, in order; every layer gets a number of its own (it names the layer's
    strength property, so it must survive renaming and reordering)."""
    if not settings.layers:
        raise PlaneError("Add a motion layer first (Image Dynamics panel > Layers > +)")
    seen = set()
    for layer in settings.layers:
        if layer.uid <= 0 or layer.uid in seen:
            layer.uid = 1 + max(other.uid for other in settings.layers)
        seen.add(layer.uid)
    active = [(index, layer) for index, layer in enumerate(settings.layers) if not layer.mute]
    if not active:
        raise PlaneError("Every layer is muted: unmute one in the Layers list")
    return active


def build_job(plane, settings, loop_frames, device, max_working_resolution=None):
    """(job, arrays) for the plane's unmuted layers; the working resolution is capped by the preferences' bound."""
    active = active_layers(settings)
    working_resolution = min(settings.working_resolution, max_working_resolution or settings.working_resolution)
    max_side = IMAGE_DETAIL * working_resolution
    arrays = {"image": plane.image_pixels(max_side)}
    projection = PlaneProjection(plane)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    layers = []
    for index, layer in active:
        spec = {"name": layer.name, "type": layer.layer_type.lower(), "feather": float(layer.feather),
                "edge_tolerance": float(layer.edge_tolerance), "pin_falloff": float(layer.pin_falloff)}
        if layer.mask_source == "VERTEX_GROUP":
            arrays[f"mask{index}"] = plane.vertex_group_mask(layer.mask_vertex_group, *_mask_size(plane, max_side))
            spec["mask"] = {"array": f"mask{index}"}
        else:
            spec["mask"] = _mask_spec(layer.mask_source, layer.mask_rect, layer.mask_image, f"mask{index}", arrays,
                                      max_side, f"Layer '{layer.name}' uses an image mask but no image is chosen")
        if layer.pin_image is not None:
            spec["pin_mask"] = _mask_spec("IMAGE", None, layer.pin_image, f"pins{index}", arrays, max_side, "")
        hints, pins = guide_hints(layer, plane, projection, loop_frames, depsgraph)
        if pins:
            spec["pins"] = pins
        if layer.phase_frames and (layer.layer_type in {"FLUID", "DRIFT"} or layer.clip_motion == "FLUID"):
            if loop_frames % layer.phase_frames:
                raise PlaneError(f"Layer '{layer.name}': a Phase Period of {layer.phase_frames} frames does not "
                                 f"divide the loop of {loop_frames} frames: choose a divisor, or 0 for about 30")
            spec["phase_frames"] = layer.phase_frames
        if layer.layer_type == "DRIFT":
            spec["velocity"] = drift_velocity(layer, plane.image.size[0], loop_frames)
        elif layer.layer_type == "CLIP":
            spec.update(_clip_spec(plane.obj, layer))
        elif layer.layer_type == "OSCILLATION":
            spec.update(amplitude=float(layer.amplitude), wind=wind_degrees(layer, hints), terms=layer.terms,
                        falloff=float(layer.falloff), scale=float(layer.scale), seed=layer.seed)
        else:
            hints += [{"uv": [float(c) for c in hint.uv], "velocity": [float(c) for c in hint.velocity]}
                      for hint in layer.hints]
            if not all(math.isfinite(c) for hint in hints for c in hint["uv"] + hint["velocity"]):
                raise PlaneError(f"Layer '{layer.name}' has a hint with a speed that is not a number: retype it")
            if not hints:
                raise PlaneError(f"Layer '{layer.name}' has no hints: add an arrow, a flow line or a hint")
            spec["hints"] = hints
        layers.append(spec)
    job = {"loop_frames": loop_frames, "working_resolution": working_resolution,
           "device": device, "image_size": list(plane.image.size), "layers": layers}
    return job, arrays


def model_path(obj, layer):
    """Where a clip layer's trained predictor lives: next to the .blend (the temp folder for an unsaved file)."""
    folder = os.path.dirname(bpy.data.filepath) if bpy.data.filepath else tempfile.gettempdir()
    return os.path.join(folder, bpy.path.clean_name(f"{obj.name}_{layer.name}") + ".imgdyn-model.pt")


def _clip_spec(obj, layer):
    path = bpy.path.abspath(layer.clip_path)
    if not layer.clip_path or not os.path.exists(path):
        raise PlaneError(f"Layer '{layer.name}' needs a clip: choose a video file or a folder of images")
    spec = {"clip": path, "motion": layer.clip_motion.lower(), "method": layer.clip_method.lower(),
            "terms": layer.terms, "scale": float(layer.scale), "seed": layer.seed}
    if layer.clip_motion == "OSCILLATION":
        spec["method"] = "stats"  # a sway is described by its spectrum, not by looks or a registered field
    if spec["method"] == "predict":
        spec.update(model=model_path(obj, layer), reuse_model=layer.reuse_model,
                    train_seconds=float(layer.train_seconds))
    return spec


def _mask_size(plane, max_side):
    width, height = plane.image.size
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _mask_spec(source, rect, image, array_name, arrays, max_side, missing_message):
    if source == "RECT":
        return {"rect": [float(c) for c in rect]}
    if image is None:
        raise PlaneError(missing_message)
    arrays[array_name] = read_pixels(image, max_side, "Mask image")[..., :3]
    return {"array": array_name}
