"""Shape keys: the plane becomes a subdivided grid whose vertices follow the baked motion.

A loop of T frames of vertex offsets is compressed to a few basis shape keys (principal components, no mean, so
the still frame is exact). Each key's weight over the loop is a cyclic F-curve on a custom property of the shape
key datablock, and the key's value is a driver `coefficient * motion_strength`: it plays without the extension.
"""

import bpy
import numpy as np

from .animation import add_driver, ensure_fcurve, remove_animation, set_cyclic_keys
from .rig import STRENGTH, pluck_variables, sample_at_uv, sway_expression

COEFFICIENTS = "imgdyn_coefficients"
MAX_KEYS = 16


def grid_size(u_axis, v_axis, resolution):
    """Segments along u and v, `resolution` along the longer side of the plane."""
    u_len, v_len = np.linalg.norm(u_axis), np.linalg.norm(v_axis)
    if u_len >= v_len:
        return resolution, max(1, round(resolution * v_len / u_len))
    return max(1, round(resolution * u_len / v_len)), resolution


def grid_mesh(name, source_mesh, origin, u_axis, v_axis, segments_u, segments_v):
    """A flat grid over the plane with UVs spanning 0..1 and the plane's materials; returns (mesh, vertex uvs)."""
    u = np.linspace(0.0, 1.0, segments_u + 1)
    v = np.linspace(0.0, 1.0, segments_v + 1)
    uu, vv = np.meshgrid(u, v)  # row j is v[j]: vertex index = j * (segments_u + 1) + i
    uv = np.stack([uu.ravel(), vv.ravel()], axis=1)
    positions = origin + uv[:, :1] * u_axis + uv[:, 1:] * v_axis
    row = segments_u + 1
    i, j = np.meshgrid(np.arange(segments_u), np.arange(segments_v))
    corner = (j * row + i).ravel()
    quads = np.stack([corner, corner + 1, corner + row + 1, corner + row], axis=1)

    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(positions))
    mesh.vertices.foreach_set("co", positions.astype(np.float32).ravel())
    mesh.loops.add(quads.size)
    mesh.loops.foreach_set("vertex_index", quads.astype(np.int32).ravel())
    mesh.polygons.add(len(quads))
    mesh.polygons.foreach_set("loop_start", (np.arange(len(quads)) * 4).astype(np.int32))
    mesh.polygons.foreach_set("loop_total", np.full(len(quads), 4, np.int32))
    uv_layer = mesh.uv_layers.new(name=source_mesh.uv_layers.active.name)
    uv_layer.data.foreach_set("uv", uv[quads.ravel()].astype(np.float32).ravel())
    for material in source_mesh.materials:
        mesh.materials.append(material)
    mesh.update()
    mesh.validate()
    return mesh, uv


def motion_basis(offsets, relative_error):
    """offsets (T, N, 3) -> (basis (K, N, 3), coefficients (T, K)) with |coefficient| <= 1; K is the fewest keys
    (at most MAX_KEYS) that leave a residual below `relative_error` of the motion (Frobenius norms)."""
    frames = offsets.shape[0]
    matrix = offsets.reshape(frames, -1).astype(np.float64)
    total = np.linalg.norm(matrix)
    if total == 0.0:
        return np.zeros((0,) + offsets.shape[1:]), np.zeros((frames, 0))
    left, singular, right = np.linalg.svd(matrix, full_matrices=False)
    residual = np.sqrt(np.maximum(total ** 2 - np.cumsum(singular ** 2), 0.0)) / total
    keep = min(MAX_KEYS, len(singular), int(np.searchsorted(-residual, -relative_error) + 1))
    coefficients = left[:, :keep] * singular[:keep]
    peak = np.abs(coefficients).max(axis=0)
    peak[peak == 0.0] = 1.0
    basis = right[:keep] * peak[:, None]
    return basis.reshape((keep,) + offsets.shape[1:]), coefficients / peak


def build_shape_mesh(plane, settings, motion, loop_start, loop_frames, grid_resolution):
    """A grid mesh over the plane with the motion as shape keys; returns (mesh, key count). Not yet shown."""
    obj = plane.obj
    origin, u_axis, v_axis = plane.uv_frame()
    segments = grid_size(u_axis, v_axis, grid_resolution)
    mesh, vertex_uv = grid_mesh(f"{plane.mesh.name} (ImageDynamics grid)", plane.mesh, origin, u_axis, v_axis,
                                *segments)
    try:
        bases, modes = [], []
        for part in motion.parts:
            if part.lookup is not None:
                offsets = _flow_offsets(part.lookup, part.weights, vertex_uv, u_axis, v_axis)
                bases.append((part, *motion_basis(offsets, settings.basis_error)))
            else:
                modes += _sway_modes(part, vertex_uv, u_axis, v_axis, loop_start, loop_frames)
        count = _add_shape_keys(mesh, obj, bases, modes, loop_start)
    except BaseException:
        remove_shape_mesh(mesh)
        raise
    return mesh, count


def _to_object_space(uv_offsets, u_axis, v_axis):
    return uv_offsets[..., :1] * u_axis + uv_offsets[..., 1:2] * v_axis


def _flow_offsets(lookup, weights, vertex_uv, u_axis, v_axis):
    """(T, N, 3) object-space offsets. A vertex moves against the lookup (the content at p came from
    p + lookup), cross-faded like the texture."""
    per_layer = [sample_at_uv(np.moveaxis(lookup[layer], 0, 2), vertex_uv) for layer in range(2)]  # (N, T, 2)
    uv_offsets = -(weights[:, 0, None, None] * np.moveaxis(per_layer[0], 1, 0)
                   + weights[:, 1, None, None] * np.moveaxis(per_layer[1], 1, 0))
    return _to_object_space(uv_offsets, u_axis, v_axis)


def _sway_modes(part, vertex_uv, u_axis, v_axis, loop_start, loop_frames):
    """(name, offsets (N, 3), driver expression, strength property) per cos and sin part of each term:
    D(t) = sum_k Re S_k cos(k phase) - Im S_k sin(k phase), phase = 2 pi (frame - start) / T."""
    spectrum = part.spectrum
    sampled = sample_at_uv(np.moveaxis(spectrum, 0, 2).reshape(*spectrum.shape[1:3], -1), vertex_uv)
    sampled = sampled.reshape(len(vertex_uv), len(spectrum), 4).transpose(1, 0, 2)  # (K, N, 4)
    modes = []
    for index, term in enumerate(sampled):
        k = index + 1
        modes.append((f"Sway {part.label} {k} cos", _to_object_space(term[:, :2], u_axis, v_axis),
                      sway_expression("cos", k, loop_start, loop_frames), part.strength))
        modes.append((f"Sway {part.label} {k} sin", _to_object_space(-term[:, 2:], u_axis, v_axis),
                      sway_expression("sin", k, loop_start, loop_frames), part.strength))
    return modes


def _add_shape_keys(mesh, obj, bases, modes, loop_start):
    """Per flowing layer, basis keys with cyclic coefficient curves; per swaying layer, mode keys driven by cos
    and sin of the frame; every key scaled by its layer's strength and the object's motion_strength. Returns
    how many keys were made."""
    # Shape keys are added through an object; a temporary one keeps the user's object untouched until the swap.
    holder = bpy.data.objects.new("ImageDynamics shape key holder", mesh)

    def strengths(layer_strength):
        return (("s", "OBJECT", obj, f'["{STRENGTH}"]'), ("l", "OBJECT", obj, f'["{layer_strength}"]'))

    try:
        rest = np.empty(len(mesh.vertices) * 3, np.float32)
        mesh.vertices.foreach_get("co", rest)
        holder.shape_key_add(name="Basis", from_mix=False)
        key = mesh.shape_keys

        def add_block(name, offsets):
            block = holder.shape_key_add(name=name, from_mix=False)
            block.slider_min, block.slider_max = -10.0, 10.0
            block.data.foreach_set("co", rest + offsets.astype(np.float32).ravel())
            return block

        count = 0
        for number, (part, basis, coefficients) in enumerate(bases):
            if not len(basis):
                continue
            curve_property = f"{COEFFICIENTS}{number}"
            key[curve_property] = [0.0] * len(basis)
            frames = coefficients.shape[0]
            key_frames = [loop_start + t for t in range(frames + 1)]
            for index, direction in enumerate(basis):
                block = add_block(f"Motion {part.label} {index + 1}", direction)
                values = list(coefficients[:, index]) + [coefficients[0, index]]
                fcurve = ensure_fcurve(key, f'["{curve_property}"]', index, f"ImageDynamics Basis ({obj.name})")
                set_cyclic_keys(fcurve, key_frames, values)
                add_driver(key, f'key_blocks["{block.name}"].value', "c * s * l", variables=(
                    ("c", "KEY", key, f'["{curve_property}"][{index}]'),) + strengths(part.strength))
            count += len(basis)
        for name, offsets, expression, layer_strength in modes:
            block = add_block(name, offsets)
            add_driver(key, f'key_blocks["{block.name}"].value', f"{expression} * s * l",
                       variables=strengths(layer_strength) + pluck_variables(obj))
        return count + len(modes)
    finally:
        bpy.data.objects.remove(holder)


def install_shape_mesh(obj, settings, source_mesh, mesh):
    settings.source_mesh = source_mesh
    obj.data = mesh
    settings.shape_mesh = mesh


def remove_shape_mesh(mesh):
    if mesh.shape_keys is not None:
        remove_animation(mesh.shape_keys)
    bpy.data.meshes.remove(mesh)


def clear_shape_keys(obj, settings):
    mesh, source = settings.shape_mesh, settings.source_mesh
    if source is not None:
        obj.data = source
    settings.shape_mesh = settings.source_mesh = None
    if mesh is not None:
        remove_shape_mesh(mesh)
