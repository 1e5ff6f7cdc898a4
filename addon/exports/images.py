"""Float pixels to image files through Blender (no other image library on this side)."""

import os

import bpy
import numpy as np


def write_image(pixels, path, file_format):
    """Save (H, W, 3 or 4) float pixels, rows top to bottom: PNG (8-bit sRGB display values) or OPEN_EXR."""
    height, width = pixels.shape[:2]
    rgba = np.ones((height, width, 4), np.float32)
    rgba[..., : pixels.shape[2]] = pixels
    image = bpy.data.images.new(os.path.basename(path), width, height, alpha=True,
                                float_buffer=file_format == "OPEN_EXR", is_data=file_format == "OPEN_EXR")
    try:
        image.pixels.foreach_set(rgba[::-1].ravel())
        image.filepath_raw, image.file_format = path, file_format
        image.save()
    finally:
        bpy.data.images.remove(image)
