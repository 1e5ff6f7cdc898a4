"""Measurements of a baked plane, read back from what Blender holds: rendered pixels and the baked atlases."""

import os

import bpy
import numpy as np


def render_frame(frame, folder):
    """Render one frame with the scene's settings; display-referred RGB in 0..1, as float32 (H, W, 3)."""
    scene = bpy.context.scene
    scene.frame_set(frame)
    settings = scene.render.image_settings
    settings.media_type = "IMAGE"
    settings.file_format = "PNG"
    settings.color_mode = "RGB"
    settings.color_depth = "16"
    path = os.path.join(folder, f"frame_{frame:05d}.png")
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    return read_image(path)


def read_image(path):
    """An image file's stored values, float32 (H, W, 3), rows top to bottom."""
    image = bpy.data.images.load(path)
    try:
        image.colorspace_settings.name = "Non-Color"  # the stored values, without conversion
        width, height = image.size
        pixels = np.empty(width * height * 4, np.float32)
        image.pixels.foreach_get(pixels)
        return pixels.reshape(height, width, 4)[::-1, :, :3].copy()
    finally:
        bpy.data.images.remove(image)


def _readback():
    from imgdyn.extension import extension_module
    return extension_module("addon.readback")


def atlas_tiles(settings):
    """The baked frame lookups of all flowing layers read back from their packed atlases, summed: (T, H, W, 4)
    in image row order, UV units (RG forward, BA backward)."""
    width, height = settings.baked_working_size
    frames = settings.baked_loop_frames
    return sum(_readback().atlas_tiles(entry.image, frames, width, height)
               for entry in settings.warp_images if entry.kind == "FRAMES")


def baked_lookups(settings, frame_index):
    """What the warp computes at loop frame t (see addon/readback.py)."""
    return _readback().baked_lookups(settings, frame_index)


def still_mask(job, width, height):
    """True where no layer of the job may move, on the working grid (pixel centres, as the backend does)."""
    u = (np.arange(width) + 0.5) / width
    v = 1.0 - (np.arange(height) + 0.5) / height
    moving = np.zeros((height, width), bool)
    for layer in job["layers"]:
        u0, v0, u1, v1 = layer["mask"].get("rect", (0.0, 0.0, 1.0, 1.0))  # an image mask: count it all as moving
        moving |= ((v >= v0) & (v <= v1))[:, None] & ((u >= u0) & (u <= u1))[None, :]
    return ~moving


def still_region_motion_px(settings, job, image_size):
    """Largest displacement, in source-image pixels, that the bake holds anywhere outside every mask."""
    width, height = settings.baked_working_size
    still = still_mask(job, width, height)
    if not still.any():
        return 0.0
    scale = np.array(image_size, np.float32)
    largest = 0.0
    for frame in range(settings.baked_loop_frames):
        for lookup in baked_lookups(settings, frame)[:2]:
            offsets_px = lookup[still] * scale
            largest = max(largest, float(np.hypot(offsets_px[:, 0], offsets_px[:, 1]).max()))
    return largest
