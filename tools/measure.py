"""Measurements of a baked plane, read back from what Blender holds: rendered pixels and the baked atlas."""

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
    image = bpy.data.images.load(path)
    try:
        image.colorspace_settings.name = "Non-Color"  # the stored values, without conversion
        width, height = image.size
        pixels = np.empty(width * height * 4, np.float32)
        image.pixels.foreach_get(pixels)
        return pixels.reshape(height, width, 4)[::-1, :, :3].copy()
    finally:
        bpy.data.images.remove(image)


def atlas_tiles(settings):
    """The baked lookups read back from the packed atlas: (T, H, W, 4) in image row order, UV units."""
    from tools.dev_extension import extension_module
    atlas_layout = extension_module("addon.bake_warp").atlas_layout
    width, height = settings.baked_working_size
    frames = settings.baked_loop_frames
    columns, rows = atlas_layout(frames, width, height)
    image = settings.warp_atlas
    pixels = np.empty(image.size[0] * image.size[1] * 4, np.float32)
    image.pixels.foreach_get(pixels)
    tiles = pixels.reshape(rows, height, columns, width, 4).transpose(0, 2, 1, 3, 4).reshape(-1, height, width, 4)
    return tiles[:frames, ::-1]


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
    tiles = atlas_tiles(settings)
    still = still_mask(job, tiles.shape[2], tiles.shape[1])
    if not still.any():
        return 0.0
    scale = np.array(image_size, np.float32)
    largest = 0.0
    for layer in (slice(0, 2), slice(2, 4)):
        offsets_px = tiles[..., layer][:, still] * scale
        largest = max(largest, float(np.hypot(offsets_px[..., 0], offsets_px[..., 1]).max()))
    return largest
