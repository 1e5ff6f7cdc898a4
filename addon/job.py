"""Turn a plane's settings into a backend job (docs/job-spec.md) and the arrays that travel with it."""

from .plane import PlaneError, read_pixels

# Images are sent at up to this many times the working resolution: enough detail for the working grid.
IMAGE_DETAIL = 2


def build_job(plane, settings, loop_frames, device):
    if not settings.layers:
        raise PlaneError("Add a motion layer first (Image Dynamics panel > Layers > +)")
    max_side = IMAGE_DETAIL * settings.working_resolution
    arrays = {"image": plane.image_pixels(max_side)}
    layers = []
    for index, layer in enumerate(settings.layers):
        if not layer.hints:
            raise PlaneError(f"Layer '{layer.name}' has no hints: add at least one direction hint")
        if layer.mask_source == "IMAGE":
            if layer.mask_image is None:
                raise PlaneError(f"Layer '{layer.name}' uses an image mask but no image is chosen")
            name = f"mask{index}"
            arrays[name] = read_pixels(layer.mask_image, max_side, "Mask image")[..., :3]
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
           "device": device, "image_size": list(plane.image.size), "layers": layers}
    return job, arrays
