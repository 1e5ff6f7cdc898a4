"""Float pixels to image files through Blender (no other image library on this side)."""

import os

import bpy
import numpy as np


def write_image(pixels, path, file_format, data=False):
    """Save (H, W, 3 or 4) float pixels, rows top to bottom: PNG (8-bit sRGB display values) or OPEN_EXR (half
    floats, as they are). With `data`, values for another program to compute with: a PNG stores them as they are
    (not as colour), 16 bits a channel (0..1), an EXR as 32-bit floats."""
    height, width = pixels.shape[:2]
    rgba = np.ones((height, width, 4), np.float32)
    rgba[..., : pixels.shape[2]] = pixels
    exr = file_format == "OPEN_EXR"
    image = bpy.data.images.new(os.path.basename(path), width, height, alpha=True,
                                float_buffer=exr or data, is_data=exr or data)
    try:
        image.pixels.foreach_set(rgba[::-1].ravel())
        image.filepath_raw, image.file_format = path, file_format
        image.use_half_precision = not data
        image.save()
    finally:
        bpy.data.images.remove(image)
