"""Shape keys: the plane becomes a subdivided grid whose vertices sway with the baked motion.

Only swaying layers bend the mesh: a vertex can swing about its rest place, but it cannot flow (it would have to
travel forever); flowing layers play on the texture warp. Only a lone flat plane showing the whole painting becomes
the grid (plane.geometry_problem says why not); elsewhere swaying plays on the texture. Each Fourier term of a
sway is a cos and a sin key whose value is a driver of the frame times the layer's and the object's strength: it
plays without the extension.
"""

import bpy
import numpy as np

from ...backend.reference import sample
from ..animation import add_driver, remove_animation
from ..rig import STRENGTH, pluck_variables, sway_expression

TERMS = "imgdyn_terms"  # per key after the basis: +k plays cos of term k, -k its sin


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


def build(plane, settings, motion, timing, grid_resolution):
    """A grid mesh over the plane with the swaying motion as shape keys, (mesh, key count), or None when no layer
    sways (a mesh cannot flow), or when the object is no lone flat plane showing the whole painting (a projected
    matte, a card, a painting shown by several objects: a flat grid cannot stand in for them, and mapping the sway
    through each face's tangent frame is not done; the sway plays on the texture there). Not yet shown."""
    if not motion.swaying() or plane.geometry_problem() is not None:
        return None
    loop_start, loop_frames = timing
    obj = plane.obj
    origin, u_axis, v_axis = plane.uv_frame()
    segments = grid_size(u_axis, v_axis, grid_resolution)
    mesh, vertex_uv = grid_mesh(f"{plane.mesh.name} (ImageDynamics grid)", plane.mesh, origin, u_axis, v_axis,
                                *segments)
    try:
        modes = []
        for part in motion.swaying():
            modes += _sway_modes(part, vertex_uv, u_axis, v_axis)
        count = _add_shape_keys(mesh, obj, modes, loop_start, loop_frames)
    except BaseException:
        remove_shape_mesh(mesh)
        raise
    return mesh, count


def _to_object_space(uv_offsets, u_axis, v_axis):
    return uv_offsets[..., :1] * u_axis + uv_offsets[..., 1:2] * v_axis


def _sway_modes(part, vertex_uv, u_axis, v_axis):
    """(name, offsets (N, 3), (k, "cos" or "sin"), strength property) per cos and sin part of each term:
    D(t) = sum_k Re S_k cos(k phase) - Im S_k sin(k phase), phase = 2 pi (frame - start) / T."""
    spectrum = part.spectrum
    sampled = sample(np.moveaxis(spectrum, 0, 2).reshape(*spectrum.shape[1:3], -1), vertex_uv)
    sampled = sampled.reshape(len(vertex_uv), len(spectrum), 4).transpose(1, 0, 2)  # (K, N, 4)
    modes = []
    for index, term in enumerate(sampled):
        k = index + 1
        modes.append((f"Sway {part.label} {k} cos", _to_object_space(term[:, :2], u_axis, v_axis),
                      (k, "cos"), part.strength))
        modes.append((f"Sway {part.label} {k} sin", _to_object_space(-term[:, 2:], u_axis, v_axis),
                      (k, "sin"), part.strength))
    return modes


def _add_shape_keys(mesh, obj, modes, loop_start, loop_frames):
    """Mode keys driven by cos and sin of the frame, each scaled by its layer's strength and the object's
    motion_strength; which term each key plays is recorded on the keys (for Re-time). Returns the key count."""
    # Shape keys are added through an object; a temporary one keeps the user's object untouched until the swap.
    holder = bpy.data.objects.new("ImageDynamics shape key holder", mesh)
    try:
        rest = np.empty(len(mesh.vertices) * 3, np.float32)
        mesh.vertices.foreach_get("co", rest)
        holder.shape_key_add(name="Basis", from_mix=False)
        key = mesh.shape_keys
        key[TERMS] = [k if part == "cos" else -k for _, _, (k, part), _ in modes]
        for name, offsets, (k, part), layer_strength in modes:
            block = holder.shape_key_add(name=name, from_mix=False)
            block.slider_min, block.slider_max = -10.0, 10.0
            block.data.foreach_set("co", rest + offsets.astype(np.float32).ravel())
            add_driver(key, f'key_blocks["{block.name}"].value', _key_expression(part, k, loop_start, loop_frames),
                       variables=(
                ("s", "OBJECT", obj, f'["{STRENGTH}"]'), ("l", "OBJECT", obj, f'["{layer_strength}"]'))
                + pluck_variables(obj))
        return len(modes)
    finally:
        bpy.data.objects.remove(holder)


def install(plane, settings, staged):
    if staged is not None:
        settings.source_mesh = plane.mesh
        plane.obj.data = settings.shape_mesh = staged[0]


def discard(staged):
    if staged is not None:
        remove_shape_mesh(staged[0])


def remove_shape_mesh(mesh):
    if mesh.shape_keys is not None:
        remove_animation(mesh.shape_keys)
    bpy.data.meshes.remove(mesh)


def remove(obj, settings):
    mesh, source = settings.shape_mesh, settings.source_mesh
    if source is not None:
        obj.data = source
    settings.shape_mesh = settings.source_mesh = None
    if mesh is not None:
        remove_shape_mesh(mesh)


def retime(settings, loop_start, loop_frames):
    """Point each key's driver at the new loop, by the term the bake recorded for it."""
    key = settings.shape_mesh.shape_keys if settings.shape_mesh is not None else None
    if key is None or key.animation_data is None:
        return
    for block, term in zip(key.key_blocks[1:], key[TERMS]):
        fcurve = key.animation_data.drivers.find(f'key_blocks["{block.name}"].value')
        part = "cos" if term > 0 else "sin"
        fcurve.driver.expression = _key_expression(part, abs(term), loop_start, loop_frames)


def _key_expression(part, k, loop_start, loop_frames):
    """A key's weight: its term's cos or sin at the frame, times the object's and the layer's strength."""
    return f"{sway_expression(part, k, loop_start, loop_frames)} * s * l"


def show(settings, sway_here):
    """The keys play when swaying layers are shown on the geometry; muted otherwise."""
    mesh = settings.shape_mesh
    if mesh is not None and mesh.shape_keys is not None:
        for block in mesh.shape_keys.key_blocks[1:]:
            block.mute = not sway_here
