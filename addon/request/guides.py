"""Guides drawn in the scene (arrows, pins, flow lines) turned into backend hints in UV space and pixel units."""

import math

import numpy as np

MAX_LINE_HINTS = 32  # points taken along one flow line


def speed_px_per_frame(value, unit, image_width, loop_frames):
    if unit == "WIDTHS_PER_LOOP":
        return value * image_width / loop_frames
    return value


class PlaneProjection:
    """World space <-> the plane's UV space, from the plane's object matrix and its UV frame."""

    def __init__(self, plane):
        origin, u_axis, v_axis = plane.uv_frame()
        matrix = np.array(plane.obj.matrix_world, dtype=np.float64)
        self.origin = matrix[:3, :3] @ origin + matrix[:3, 3]
        self.axes = np.stack([matrix[:3, :3] @ u_axis, matrix[:3, :3] @ v_axis], axis=1)  # (3, 2)
        self.width_world = np.linalg.norm(self.axes[:, 0])

    def uv_of_points(self, points):
        return np.linalg.lstsq(self.axes, (np.asarray(points, np.float64) - self.origin).T, rcond=None)[0].T

    def uv_of_vectors(self, vectors):
        return np.linalg.lstsq(self.axes, np.asarray(vectors, np.float64).T, rcond=None)[0].T


def guide_hints(layer, plane, projection, loop_frames, depsgraph):
    """(hints, pins) of the layer's guides, as job dictionaries."""
    width, height = plane.image.size
    hints, pins = [], []
    for guide in layer.guides:
        obj = guide.object
        if obj is None:
            continue
        matrix = np.array(obj.matrix_world, dtype=np.float64)
        uv = projection.uv_of_points([matrix[:3, 3]])[0]
        if guide.kind == "ARROW":
            # The arrow's length is how far the picture moves in one loop.
            travel = projection.uv_of_vectors([matrix[:3, 2] * obj.empty_display_size])[0]
            hints.append({"uv": _clamped(uv), "velocity": list(travel * (width, height) / loop_frames)})
        elif guide.kind == "PIN":
            radius = obj.empty_display_size * np.linalg.norm(matrix[:3, :3], axis=0).max() / projection.width_world
            pins.append({"uv": _clamped(uv), "radius": float(min(radius, 1.0))})
        elif guide.kind == "LINE":
            speed = speed_px_per_frame(layer.speed, layer.speed_unit, width, loop_frames)
            hints.extend(_line_hints(obj, projection, speed, (width, height), depsgraph))
    return hints, pins


def drift_velocity(layer, image_width, loop_frames):
    speed = speed_px_per_frame(layer.speed, layer.speed_unit, image_width, loop_frames)
    return [speed * math.cos(layer.drift_angle), speed * math.sin(layer.drift_angle)]


def _line_hints(obj, projection, speed, image_size, depsgraph):
    """Hints along every segment of the curve (all its splines), pointing along the segment."""
    evaluated = obj.evaluated_get(depsgraph)
    mesh = evaluated.to_mesh()
    try:
        local = np.empty(len(mesh.vertices) * 3, np.float64)
        mesh.vertices.foreach_get("co", local)
        edges = np.empty(len(mesh.edges) * 2, np.int64)
        mesh.edges.foreach_get("vertices", edges)
    finally:
        evaluated.to_mesh_clear()
    if not len(edges):
        return []
    matrix = np.array(obj.matrix_world, dtype=np.float64)
    uv = projection.uv_of_points(local.reshape(-1, 3) @ matrix[:3, :3].T + matrix[:3, 3])
    starts, ends = uv[edges[0::2]], uv[edges[1::2]]
    step = max(1, len(starts) // MAX_LINE_HINTS)
    hints = []
    for start, end in zip(starts[::step], ends[::step]):
        tangent_px = (end - start) * image_size
        length = np.linalg.norm(tangent_px)
        if length > 0:
            hints.append({"uv": _clamped((start + end) / 2), "velocity": list(tangent_px / length * speed)})
    return hints


def _clamped(uv):
    return [float(min(max(c, 0.0), 1.0)) for c in uv]
