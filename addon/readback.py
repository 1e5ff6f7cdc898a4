"""The baked motion read back from the packed images, in the backend's own array forms: used by the flow overlay,
and by the command line's contact sheet, ST-maps and measurements (with backend/reference.py)."""

import numpy as np

from .bake_warp import atlas_layout


def atlas_tiles(image, count, width, height):
    """The first `count` tiles of an atlas image, (count, H, W, 4) in image row order."""
    columns, rows = atlas_layout(count, width, height)
    pixels = np.empty(image.size[0] * image.size[1] * 4, np.float32)
    image.pixels.foreach_get(pixels)
    tiles = pixels.reshape(rows, height, columns, width, 4).transpose(0, 2, 1, 3, 4).reshape(-1, height, width, 4)
    return tiles[:count, ::-1]


def flowing_layers(settings):
    """[(lookups by age (2H + 1, H, W, 2), phase period)] of the flowing layers, in bake order."""
    width, height = settings.baked_working_size
    layers = []
    for entry in settings.warp_images:
        if entry.kind == "AGES":
            tiles = atlas_tiles(entry.image, entry.terms, width, height)
            layers.append((np.concatenate([tiles[..., :2], tiles[-1:, ..., 2:]]), entry.period))
    return layers


def swaying_layers(settings):
    """The spectra (K, H, W, 4) of the swaying layers (Re u, Re v, Im u, Im v), in bake order."""
    width, height = settings.baked_working_size
    return [np.concatenate([-tiles[..., :2], tiles[..., 2:]], axis=-1)
            for tiles in (atlas_tiles(entry.image, entry.terms, width, height)
                          for entry in settings.warp_images if entry.kind == "SPECTRUM")]


def content_motion(settings):
    """How far the content moves in one frame, (h, w, 2) in UV units (v up): the flowing layers' speed (a
    stream one frame older has its lookup one frame further upstream) plus the sway's change at the loop's start.
    (Mixing the streams' offsets would cancel: this is the motion of each stream.)"""
    width, height = settings.baked_working_size
    motion = np.zeros((height, width, 2), np.float32)
    for lookups, _ in flowing_layers(settings):
        half = (len(lookups) - 1) // 2
        motion -= lookups[half + 1] - lookups[half]
    frames = settings.baked_loop_frames
    for spectrum in swaying_layers(settings):
        for k, term in enumerate(spectrum, start=1):
            phase = 2 * np.pi * k / frames
            # the content moves by D(1) - D(0), D(t) = sum Re S cos - Im S sin
            motion += term[..., :2] * (np.cos(phase) - 1) - term[..., 2:] * np.sin(phase)
    return motion
