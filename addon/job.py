"""Turn a plane's settings into a backend job (docs/job-spec.md) and the arrays that travel with it."""

import numpy as np

from .plane import PlaneError


def build_job(plane, settings, loop_frames, device):
    if not settings.layers:
        raise PlaneError("Add a motion layer first (Image Dynamics panel > Layers > +)")
    arrays = {"image": plane.image_pixels()}
    layers = []
    for index, layer in enumerate(settings.layers):
        if not layer.hints:
            raise PlaneError(f"Layer '{layer.name}' has no hints: add at least one direction hint")
        if layer.mask_source == "IMAGE":
            if layer.mask_image is None:
                raise PlaneError(f"Layer '{layer.name}' uses an image mask but no image is chosen")
            name = f"mask{index}"
            arrays[name] = _mask_pixels(layer.mask_image)
            mask = {"array": name}
        else:
            mask = {"rect": [float(c) for c in layer.mask_rect]}
        layers.append({
            "name": layer.name,
            "type": layer.layer_type.lower(),
            "mask": mask,
            "feather": float(layer.feather),
            "hints": [{"uv": [float(c) for c in hint.uv], "velocity": [float(c) for c in hint.velocity]}
                      for hint in layer.hints],
        })
    job = {"loop_frames": loop_frames, "working_resolution": settings.working_resolution,
           "device": device, "layers": layers}
    return job, arrays


def _mask_pixels(image):
    width, height = image.size
    if width == 0 or height == 0:
        raise PlaneError(f"Mask image '{image.name}' has no pixels: check that its file can be read")
    buffer = np.empty(width * height * 4, np.float32)
    image.pixels.foreach_get(buffer)
    return buffer.reshape(height, width, 4)[::-1, :, :3].copy()
