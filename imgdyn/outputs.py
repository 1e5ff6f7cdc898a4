"""What the main job writes besides the .blend: frames, MP4, GIF, a contact sheet and ST-maps."""

import math
import os
import subprocess

import bpy
import numpy as np

from . import interrupt, measure, written
from .extension import extension_module


def render_frames(folder, on_frame=None):
    """Render the scene's frame range to 16-bit PNGs in `folder`; returns their paths in order.

    One render per frame rather than one animation render: a stop signal is honoured between frames (Cycles
    swallows KeyboardInterrupt), and a frame the disk had no room for is noticed at once (Blender only logs it)."""
    scene = bpy.context.scene
    settings = scene.render.image_settings
    settings.media_type = "IMAGE"
    settings.file_format = "PNG"
    settings.color_mode = "RGB"
    settings.color_depth = "16"
    os.makedirs(folder, exist_ok=True)
    paths, total = [], scene.frame_end - scene.frame_start + 1
    for frame in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(frame)
        path = os.path.join(folder, f"frame_{frame:04d}.png")
        scene.render.filepath = path
        bpy.ops.render.render(write_still=True)
        written.check(path)
        paths.append(path)
        if on_frame is not None:
            on_frame(len(paths), total)
        interrupt.check()
    return paths


def encode_mp4(frame_paths, fps, path):
    """Join rendered frames into an H.264 MP4 with Blender's sequencer (no second render of the scene)."""
    first = bpy.data.images.load(frame_paths[0])
    width, height = first.size
    bpy.data.images.remove(first)
    scene = bpy.data.scenes.new("ImageDynamics encode")
    try:
        editor = scene.sequence_editor_create()
        # The sequencer keeps every frame it has read (up to 4 GB by default): 16-bit frames at 1920 wide are
        # 33 MB each, so an encode would grow by a frame's worth per frame. Each frame is read once: no cache.
        editor.use_cache_raw = editor.use_cache_final = False
        strips = editor.strips if hasattr(editor, "strips") else editor.sequences  # "strips" since Blender 4.4
        strip = strips.new_image("frames", frame_paths[0], channel=1, frame_start=1)
        for frame_path in frame_paths[1:]:
            strip.elements.append(os.path.basename(frame_path))
        scene.frame_start, scene.frame_end = 1, len(frame_paths)
        scene.render.fps, scene.render.resolution_x, scene.render.resolution_y = round(fps), width, height
        scene.render.resolution_percentage = 100
        scene.render.image_settings.media_type = "VIDEO"
        scene.render.image_settings.file_format = "FFMPEG"
        scene.render.ffmpeg.format, scene.render.ffmpeg.codec = "MPEG4", "H264"
        scene.render.ffmpeg.constant_rate_factor = "HIGH"
        scene.render.filepath = path
        bpy.ops.render.render(animation=True, scene=scene.name)
    finally:
        bpy.data.scenes.remove(scene)
    written.check(path)


def encode_gif(frame_paths, fps, path, backend_python, backend_root):
    """The Blender side has no GIF writer: the backend's OpenCV writes one."""
    done = subprocess.run([backend_python, "-m", "backend", "gif", *frame_paths, "--out", path, "--fps", str(fps)],
                          cwd=backend_root, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"writing the GIF failed: {done.stderr.strip().splitlines()[-1:]}")
    written.check(path)


def write_image(pixels, path, file_format):
    extension_module("addon.exports.images").write_image(pixels, path, file_format)
    written.check(path)


def contact_sheet(frame_paths, settings, path, arrows_across=14):
    """Six panels: four frames through the loop; the motion per frame drawn as arrows; the region that moves,
    tinted. Written as a PNG beside the video, so a person sees at a glance what moved and how."""
    count = len(frame_paths)
    frames = [measure.read_image(frame_paths[i]) for i in (0, count // 4, count // 2, 3 * count // 4)]
    height, width = frames[0].shape[:2]
    arrow_panel = frames[0] * 0.6
    readback = extension_module("addon.carriers.texture")
    _draw_arrows(arrow_panel, readback.content_motion(settings), arrows_across)
    tint = np.array([1.0, 0.35, 0.1], np.float32)
    region = _resize(_moving_region(settings), width, height)[..., None]
    mask_panel = frames[0] * (1 - 0.5 * region) + 0.5 * region * tint
    gap = np.ones((height, 4, 3), np.float32)
    top = np.concatenate([frames[0], gap, frames[1], gap, frames[2]], axis=1)
    bottom = np.concatenate([frames[3], gap, arrow_panel, gap, mask_panel], axis=1)
    sheet = np.concatenate([top, np.ones((4, top.shape[1], 3), np.float32), bottom], axis=0)
    write_image(np.clip(sheet, 0.0, 1.0), path, "PNG")


def _moving_region(settings):
    """Where the bake moves anything, on the working grid."""
    readback = extension_module("addon.carriers.texture")
    largest = np.zeros(tuple(settings.baked_working_size)[::-1], np.float32)
    for lookups, _ in readback.flowing_layers(settings):
        largest = np.maximum(largest, np.abs(lookups).max(axis=(0, 3)))
    for spectrum in readback.swaying_layers(settings):
        largest = np.maximum(largest, np.abs(spectrum).max(axis=(0, 3)))
    return (largest > 1e-6).astype(np.float32)


def _resize(field, width, height):
    """Nearest-neighbour resize of an (h, w, ...) array."""
    rows = (np.arange(height) * field.shape[0] / height).astype(int)
    columns = (np.arange(width) * field.shape[1] / width).astype(int)
    return field[rows][:, columns]


def _draw_arrows(panel, motion, across):
    """Yellow arrows on an (H, W, 3) panel for a (h, w, 2) UV motion field; typical fast motion gets arrows one
    grid step long, the rest in proportion."""
    height, width = panel.shape[:2]
    step = width / across
    field = _resize(motion, width, height) * np.array([width, -height])  # pixels, y down
    speed = np.hypot(field[..., 0], field[..., 1])
    if not (speed > 0).any():
        return
    scale = 0.9 * step / np.percentile(speed[speed > 0], 90)
    for y in np.arange(step / 2, height, step):
        for x in np.arange(step / 2, width, step):
            dx, dy = field[int(y), int(x)] * scale
            length = math.hypot(dx, dy)
            if length > step:
                dx, dy = dx * step / length, dy * step / length
            if length < 1.5:
                continue
            tip = np.array([x + dx, y + dy])
            _line(panel, (x, y), tip)
            angle = math.atan2(dy, dx)
            for side in (-1, 1):
                back = angle + math.pi - side * math.radians(28)
                _line(panel, tip, tip + 0.35 * math.hypot(dx, dy) * np.array([math.cos(back), math.sin(back)]))


def _line(panel, start, end, colour=(1.0, 0.9, 0.1)):
    samples = int(max(abs(end[0] - start[0]), abs(end[1] - start[1]))) * 2 + 1
    xs = np.clip(np.round(np.linspace(start[0], end[0], samples)).astype(int), 0, panel.shape[1] - 1)
    ys = np.clip(np.round(np.linspace(start[1], end[1], samples)).astype(int), 0, panel.shape[0] - 1)
    panel[ys, xs] = colour
