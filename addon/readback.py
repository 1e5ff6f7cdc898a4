"""The baked motion read back from the packed images: what the warp computes at a loop frame. Used by the flow
overlay, and by the command line's contact sheet, ST-maps and measurements."""

import math

import numpy as np

from .bake_warp import atlas_layout


def atlas_tiles(image, count, width, height):
    """The first `count` tiles of an atlas image, (count, H, W, 4) in image row order."""
    columns, rows = atlas_layout(count, width, height)
    pixels = np.empty(image.size[0] * image.size[1] * 4, np.float32)
    image.pixels.foreach_get(pixels)
    tiles = pixels.reshape(rows, height, columns, width, 4).transpose(0, 2, 1, 3, 4).reshape(-1, height, width, 4)
    return tiles[:count, ::-1]


def baked_lookups(settings, frame_index):
    """(forward, backward, backward weight) at loop frame t, all layers at full strength: lookups (H, W, 2) in
    UV units, rows top to bottom."""
    width, height = settings.baked_working_size
    frames = settings.baked_loop_frames
    forward = np.zeros((height, width, 2), np.float32)
    backward = np.zeros((height, width, 2), np.float32)
    weight = (frame_index % frames) / frames
    phase = 2 * math.pi * frame_index / frames
    for entry in settings.warp_images:
        if entry.kind == "FRAMES":
            tile = atlas_tiles(entry.image, frames, width, height)[frame_index % frames]
            forward += tile[..., :2]
            backward += tile[..., 2:]
        else:
            for k, tile in enumerate(atlas_tiles(entry.image, entry.terms, width, height), start=1):
                sway = tile[..., :2] * math.cos(k * phase) + tile[..., 2:] * math.sin(k * phase)
                forward += sway
                backward += sway
    if not any(entry.kind == "FRAMES" for entry in settings.warp_images):
        weight = 0.0
    return forward, backward, weight


def content_motion(settings):
    """How far the content moves in one frame at the loop's start, (h, w, 2) in UV units (v up): the change of
    the forward lookup from frame 0 to 1, reversed. (The cross-faded average of the two layers would cancel.)"""
    return -(baked_lookups(settings, 1)[0] - baked_lookups(settings, 0)[0])
