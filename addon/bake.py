"""Bake a backend result onto an image plane with both writers, or take a bake off again."""

import numpy as np

from ..backend import loop
from ..backend.errors import InputError
from .bake_shapekeys import build_shape_mesh, clear_shape_keys, install_shape_mesh
from .bake_warp import SWAY_SWITCH, build_warp, clear_warp, install_warp, remove_warp_data
from .clock import bake_clocks, flowing_strengths, remove_clocks
from .rig import ensure_rig_properties, motion_parts


class Motion:
    """What the backend computed, checked and ready to bake: one MotionPart per layer."""

    def __init__(self, parts, working_size):
        self.parts, self.working_size = parts, working_size

    def flowing(self):
        return [part for part in self.parts if part.lookup is not None]

    def swaying(self):
        return [part for part in self.parts if part.spectrum is not None]


def check_result(meta, result, loop_frames, strengths):
    """The backend is another program: check what it sent before anything touches the scene."""
    try:
        width, height = meta["working_size"]
        parts = motion_parts(result, meta, strengths)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"the backend's result is incomplete ({exc}); the scene was not changed") from None
    for part in parts:
        ages = 2 * loop.half_span(part.period) + 1
        if part.lookup is not None and (part.period < 1 or loop_frames % part.period
                                        or part.lookup.shape != (ages, height, width, 2)):
            raise InputError(f"the backend sent arrays of shape {part.lookup.shape} for a phase period of "
                             f"{part.period} frames, which do not fit a loop of {loop_frames} at {width}x{height}; "
                             f"the scene was not changed")
        if part.spectrum is not None and (part.spectrum.shape[1:] != (height, width, 4)
                                          or not 1 <= len(part.spectrum) <= loop_frames // 2):
            raise InputError(f"the backend sent a spectrum of shape {part.spectrum.shape}, expected (K <= "
                             f"{loop_frames // 2}, {height}, {width}, 4); the scene was not changed")
        for array in (part.lookup, part.spectrum):
            if array is not None and not np.isfinite(array).all():
                raise InputError("the backend sent NaN or infinite motion; the scene was not changed")
    return Motion(parts, (width, height))


def bake(plane, settings, motion, loop_start, loop_frames, grid_resolution, signature=""):
    """Build the new bake completely, then swap it in for the old one: a failure leaves the old bake as it was."""
    obj = plane.obj
    warp = build_warp(obj, plane, motion, (loop_start, loop_frames))
    mesh, shape_keys = None, 0
    try:
        if motion.swaying():  # only swaying layers bend the mesh: a mesh cannot flow
            mesh, shape_keys = build_shape_mesh(plane, settings, motion, loop_start, loop_frames, grid_resolution)
    except BaseException:
        remove_warp_data(*warp)
        raise
    clear(obj, settings)
    # only now: a failed bake must not leave properties behind
    ensure_rig_properties(obj, [(part.strength, part.label) for part in motion.parts])
    install_warp(plane, settings, *warp)
    if mesh is not None:
        install_shape_mesh(obj, settings, plane.mesh, mesh)
    settings.baked_loop_start, settings.baked_loop_frames = loop_start, loop_frames
    settings.timing_start, settings.timing_frames = loop_start, loop_frames
    settings.baked_signature = signature
    settings.baked_working_size = motion.working_size
    apply_carrier(obj, settings)
    bake_clocks(obj)
    return shape_keys


def clear(obj, settings):
    remove_clocks(obj, flowing_strengths(settings))
    clear_warp(settings)
    clear_shape_keys(obj, settings)
    settings.baked_loop_start = settings.baked_loop_frames = 0
    settings.baked_signature = ""


def apply_carrier(obj, settings):
    """Swaying layers are baked on both rigs; show them on the chosen one. Flowing layers always play on the
    texture."""
    group = settings.warp_group
    switch = group.nodes.get(SWAY_SWITCH) if group is not None else None
    if switch is not None:
        switch.outputs[0].default_value = float(settings.carrier == "TEXTURE")
    mesh = settings.shape_mesh
    if mesh is not None and mesh.shape_keys is not None:
        for block in mesh.shape_keys.key_blocks[1:]:
            block.mute = settings.carrier != "GEOMETRY"

