"""A viewport overlay of the baked flow: arrows over the plane showing where each part of the picture moves,
so the user sees what the backend understood."""

import bpy
import numpy as np

from ..plane import ImagePlane
from ..carriers.texture import content_motion

_handle = None
_segments = {}  # object name -> (N, 3) world-space points, two per line


def flow_segments(obj, across=16):
    """Arrows over the plane for the motion of one frame at the loop's start, as world-space line segments
    (pairs of points); the typical fast arrow is one grid step long."""
    settings = obj.image_dynamics
    origin, u_axis, v_axis = ImagePlane(obj, settings.source_mesh).uv_frame()
    motion = content_motion(settings)  # (h, w, 2) UV per frame, rows top to bottom
    height, width = motion.shape[:2]
    down = max(1, round(across * height / width))
    us, vs = (np.arange(across) + 0.5) / across, (np.arange(down) + 0.5) / down
    uu, vv = np.meshgrid(us, vs)
    rows = np.clip(((1 - vv) * height).astype(int), 0, height - 1)
    columns = np.clip((uu * width).astype(int), 0, width - 1)
    step = motion[rows, columns].reshape(-1, 2)
    speed = np.hypot(step[:, 0] * width, step[:, 1] * height)
    if not (speed > 0).any():
        return np.zeros((0, 3), np.float32)
    scale = 0.9 / across / (np.percentile(speed[speed > 0], 90) / width)
    start = np.stack([uu.ravel(), vv.ravel()], axis=1)
    tip = start + step * scale
    head = (tip - start) * 0.3
    side = np.stack([-head[:, 1], head[:, 0]], axis=1) * 0.6
    points = np.stack([start, tip, tip, tip - head + side, tip, tip - head - side], axis=1)
    points = points[speed > 0].reshape(-1, 2)
    local = origin + points[:, :1] * u_axis + points[:, 1:] * v_axis
    matrix = np.array(obj.matrix_world)
    return (local @ matrix[:3, :3].T + matrix[:3, 3]).astype(np.float32)


def is_shown(obj):
    return obj.name in _segments


def toggle(obj):
    """Show the overlay for this plane (computed now from its bake), or hide it."""
    global _handle
    if obj.name in _segments:
        del _segments[obj.name]
    else:
        _segments[obj.name] = flow_segments(obj)
    if _segments and _handle is None and not bpy.app.background:
        _handle = bpy.types.SpaceView3D.draw_handler_add(_draw, (), "WINDOW", "POST_VIEW")
    elif not _segments:
        remove()


def remove():
    global _handle
    _segments.clear()
    if _handle is not None:
        bpy.types.SpaceView3D.draw_handler_remove(_handle, "WINDOW")
        _handle = None


def _draw():
    import gpu
    from gpu_extras.batch import batch_for_shader
    shader = gpu.shader.from_builtin("UNIFORM_COLOR")
    shader.uniform_float("color", (1.0, 0.85, 0.1, 1.0))
    for points in _segments.values():
        if len(points):
            batch_for_shader(shader, "LINES", {"pos": points}).draw(shader)
