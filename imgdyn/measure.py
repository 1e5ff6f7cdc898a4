"""Measurements of a baked plane, from what Blender renders: frames, the still at strength 0, the masks at the
render's size. The numbers themselves are imgdyn/quality.py's."""

import os

import bpy
import numpy as np

from . import quality


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


def render_still(obj, frame, folder):
    """The frame with the object's motion_strength at 0 (the still picture through the same rig), the strength
    put back as it was (keyframes included)."""
    strength = obj.animation_data.action if obj.animation_data else None
    if obj.animation_data:
        obj.animation_data.action = None
    saved = obj.get("motion_strength", 1.0)
    obj["motion_strength"] = 0.0
    try:
        return render_frame(frame, folder)
    finally:
        obj["motion_strength"] = saved
        if strength is not None:
            obj.animation_data.action = strength


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


def moving_region(job, job_dir, width, height):
    """Where any layer of the job may move, at the render's size (the whole picture in view): rectangles exactly,
    mask images where they are not black."""
    u = (np.arange(width) + 0.5) / width
    v = 1.0 - (np.arange(height) + 0.5) / height
    moving = np.zeros((height, width), bool)
    for layer in job["layers"]:
        mask = layer["mask"]
        if "rect" in mask:
            u0, v0, u1, v1 = mask["rect"]
            moving |= ((v >= v0) & (v <= v1))[:, None] & ((u >= u0) & (u <= u1))[None, :]
        else:
            pixels = read_image(os.path.join(job_dir, mask["image"])).max(axis=2) > 0
            rows = np.clip((np.arange(height) + 0.5) * pixels.shape[0] / height, 0, pixels.shape[0] - 1).astype(int)
            columns = np.clip((np.arange(width) + 0.5) * pixels.shape[1] / width, 0,
                              pixels.shape[1] - 1).astype(int)
            moving |= quality.grow(pixels[rows][:, columns], 1)  # nearest sampling can miss a sliver
    return moving


def flow_lookups(settings):
    """The first flowing layer's lookups by stream age, (2H + 1, h, w, 2) in UV units, read back from the bake."""
    from .extension import extension_module
    return extension_module("addon.carriers.texture").flowing_layers(settings)[0][0]
