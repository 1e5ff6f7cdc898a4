"""Bake a backend result onto an image plane with both writers, or take a bake off again."""

import numpy as np

from ..backend.errors import InputError
from .bake_shapekeys import build_shape_mesh, clear_shape_keys, install_shape_mesh
from .bake_warp import NODE_NAME, build_warp, clear_warp, install_warp, remove_warp_data
from .rig import composite_lookup, composite_spectrum, ensure_rig_properties


class Motion:
    """What the backend computed, checked and ready to bake: flowing lookups and/or a swaying spectrum."""

    def __init__(self, lookup, weights, spectrum, working_size):
        self.lookup, self.weights, self.spectrum = lookup, weights, spectrum
        self.working_size = working_size


def check_result(meta, result, loop_frames):
    """The backend is another program: check what it sent before anything touches the scene."""
    try:
        width, height = meta["working_size"]
        lookup, weights = composite_lookup(result, meta)
        spectrum = composite_spectrum(result, meta)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"the backend's result is incomplete ({exc}); the scene was not changed") from None
    if lookup is not None and (lookup.shape != (2, loop_frames, height, width, 2)
                               or weights.shape != (loop_frames, 2)):
        raise InputError(f"the backend sent arrays of shape {lookup.shape} and {weights.shape}, expected "
                         f"(2, {loop_frames}, {height}, {width}, 2) and ({loop_frames}, 2); the scene was not changed")
    if spectrum is not None and (spectrum.shape[1:] != (height, width, 4) or len(spectrum) > loop_frames // 2):
        raise InputError(f"the backend sent a spectrum of shape {spectrum.shape}, expected (K <= {loop_frames // 2}, "
                         f"{height}, {width}, 4); the scene was not changed")
    for array in (lookup, weights, spectrum):
        if array is not None and not np.isfinite(array).all():
            raise InputError("the backend sent NaN or infinite motion; the scene was not changed")
    return Motion(lookup, weights, spectrum, (width, height))


def bake(plane, settings, motion, loop_start, loop_frames, grid_resolution, signature=""):
    """Build the new bake completely, then swap it in for the old one: a failure leaves the old bake as it was."""
    obj = plane.obj
    warp = build_warp(obj, motion, loop_start, loop_frames)
    try:
        mesh, shape_keys = build_shape_mesh(plane, settings, motion, loop_start, loop_frames, grid_resolution)
    except BaseException:
        remove_warp_data(*warp)
        raise
    clear(obj, settings)
    ensure_rig_properties(obj)  # only now: a failed bake must not leave properties behind
    install_warp(plane, settings, *warp)
    install_shape_mesh(obj, settings, plane.mesh, mesh)
    settings.baked_loop_start, settings.baked_loop_frames = loop_start, loop_frames
    settings.timing_start, settings.timing_frames = loop_start, loop_frames
    settings.baked_signature = signature
    settings.baked_working_size = motion.working_size
    settings.baked_terms = 0 if motion.spectrum is None else len(motion.spectrum)
    apply_carrier(obj, settings)
    return shape_keys


def clear(obj, settings):
    clear_warp(settings)
    clear_shape_keys(obj, settings)
    settings.baked_loop_start = settings.baked_loop_frames = 0
    settings.baked_signature = ""


def apply_carrier(obj, settings):
    """Both rigs are baked; mute the one not chosen (a muted group passes the UV through untouched)."""
    material = settings.warp_material
    group_node = material.node_tree.nodes.get(NODE_NAME) if material and material.node_tree else None
    if group_node is not None:
        group_node.mute = settings.carrier != "TEXTURE"
    mesh = settings.shape_mesh
    if mesh is not None and mesh.shape_keys is not None:
        for block in mesh.shape_keys.key_blocks[1:]:
            block.mute = settings.carrier != "GEOMETRY"

