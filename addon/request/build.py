"""Turn a plane's settings into a backend job (docs/job-spec.md) and the arrays that travel with it.

Each layer becomes the job's layer with every parameter of its type (addon/settings/layer_values.py); the
guides drawn in the scene become its hints, pins and directions (guides.py).
"""

import os

import bpy

from ...layertypes import SpecError, divides_loop, resolve_layer
from ..carriers import bake_size
from ..plane import PlaneError
from ..settings.layer_values import RequestContext, layer_request
from .guides import PlaneProjection, guide_hints

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
    arrays = {}  # the masks; the picture joins them once the job is known to fit
    # Files the backend writes (a trained model) go next to the .blend; an unsaved file keeps none.
    folder = os.path.dirname(bpy.data.filepath) if bpy.data.filepath else None
    context = RequestContext(plane, arrays, max_side, loop_frames, folder)
    projection = None  # only guides need the plane's UV frame (a projected matte has none)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    layers = []
    for index, layer in active:
        if projection is None and any(guide.object is not None for guide in layer.guides):
            projection = PlaneProjection(plane)
        guides = guide_hints(layer, plane, projection, loop_frames, depsgraph)
        spec = layer_request(layer, index, guides, context)
        try:  # what the backend would refuse, said here, in the panel's words, before anything is sent
            resolve_layer(spec, f"layer '{layer.name}'")
        except SpecError as exc:
            raise PlaneError(f"Layer '{layer.name}' cannot be computed: {exc}") from None
        problem = divides_loop(spec, loop_frames)
        if problem:
            raise PlaneError(f"Layer '{layer.name}': {problem}")
        layers.append(spec)
    render = bpy.context.scene.render
    job = {"loop_frames": loop_frames, "working_resolution": working_resolution, "fps": render.fps / render.fps_base,
           "device": device, "image_size": list(plane.image.size), "layers": layers}
    bake_size.check_job(job)  # a bake Blender cannot hold is refused now, not after the computing
    return job, {"image": plane.image_pixels(max_side), **arrays}
