"""Float pixels to image files through Blender (no other image library on this side)."""

import contextlib
import os

import bpy
import numpy as np


@contextlib.contextmanager
def _blender_image(pixels, path, float_buffer, is_data):
    """A temporary Blender image holding (H, W, 3 or 4) float pixels, rows top to bottom."""
    height, width = pixels.shape[:2]
    rgba = np.ones((height, width, 4), np.float32)
    rgba[..., : pixels.shape[2]] = pixels
    image = bpy.data.images.new(os.path.basename(path), width, height, alpha=True, float_buffer=float_buffer,
                                is_data=is_data)
    try:
        image.pixels.foreach_set(rgba[::-1].ravel())
        yield image
    finally:
        bpy.data.images.remove(image)


def write_image(pixels, path, file_format, data=False):
    """Save (H, W, 3 or 4) float pixels, rows top to bottom: PNG (8-bit sRGB display values) or OPEN_EXR (32-bit
    floats as they are, uncompressed). With `data`, a PNG stores the values as they are too (not as colour), 16
    bits a channel (0..1)."""
    exr = file_format == "OPEN_EXR"
    with _blender_image(pixels, path, exr or data, exr or data) as image:
        image.filepath_raw, image.file_format = path, file_format
        image.save()


def write_exr(pixels, path, half):
    """Save (H, W, 3 or 4) float pixels, rows top to bottom, as a ZIP-compressed EXR of half or 32-bit floats, as
    they are. (An image's own save ignores both settings; a render's output settings, on a scratch scene so that
    the user's stay as they are, do not.)"""
    scene = bpy.data.scenes.new("imgdyn export settings")
    try:
        settings = scene.render.image_settings
        settings.file_format, settings.exr_codec = "OPEN_EXR", "ZIP"
        settings.color_depth = "16" if half else "32"
        with _blender_image(pixels, path, True, True) as image:
            image.save_render(path, scene=scene)
    finally:
        bpy.data.scenes.remove(scene)
