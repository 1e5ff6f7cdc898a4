"""Bounds of the command line's numbers, the render size and the job file, checked before any work: each problem
is one line (a UsageError) naming the argument and the limit, instead of a failure minutes later."""

import json
import math
import os

import bpy

from .layers import UsageError

WIDTH = (16, 16384)  # render width in pixels
FPS = (1.0, 120.0)
SAMPLES = (1, 16384)  # Cycles samples per pixel: far beyond what a flat emission plane needs
GRID = (2, 1024)  # the add-on's Grid Resolution
MIN_RENDER_SIDE = 16  # Blender's video writer refuses smaller frames ("Image too small"); a thinner one shows nothing
MAX_JOB_FILE_BYTES = 16 << 20  # a job is a few kilobytes of JSON


def check_numbers(args):
    for flag, value, (low, high) in (("--width", args.width, WIDTH), ("--samples", args.samples, SAMPLES),
                                     ("--grid", args.grid, GRID)):
        if not low <= value <= high:
            raise UsageError(f"{flag} must be a whole number from {low} to {high}, not {value}")
    if args.fps is not None and not (math.isfinite(args.fps) and FPS[0] <= args.fps <= FPS[1]):  # None: the job's
        raise UsageError(f"--fps must be a number from {FPS[0]:g} to {FPS[1]:g}, not {args.fps}")


def render_size(image_width, image_height, width):
    """The render's size for an image at `width` pixels wide (the height even, as the video needs)."""
    return width, 2 * round(width * image_height / image_width / 2)


def check_render_size(image_path, width, formats):
    """Refuse an image too thin for the render, an odd width for MP4 and a render too large, with the limit."""
    try:
        image = bpy.data.images.load(os.path.abspath(image_path), check_existing=False)
    except RuntimeError:
        image_width = image_height = 0
    else:
        try:
            image_width, image_height = image.size
        finally:
            bpy.data.images.remove(image)
    if image_width == 0 or image_height == 0:
        raise UsageError(f"image '{image_path}' cannot be read as an image: use a PNG, JPEG, TIFF, EXR, ...")
    render_width, render_height = render_size(image_width, image_height, width)
    if render_height < MIN_RENDER_SIDE:
        needed = MIN_RENDER_SIDE * image_width / image_height
        hint = (f"--width {2 * math.ceil(needed / 2)} or more" if needed <= WIDTH[1]
                else "crop the image to a less extreme shape")
        raise UsageError(f"image '{image_path}' is {image_width}x{image_height}: at --width {width} the render "
                         f"would be {render_width}x{render_height}, and each side needs at least {MIN_RENDER_SIDE} "
                         f"pixels: {hint}")
    if render_height > WIDTH[1]:
        raise UsageError(f"image '{image_path}' is {image_width}x{image_height}: at --width {width} the render "
                         f"would be {render_width}x{render_height}, more than {WIDTH[1]} pixels high: lower --width")
    if "mp4" in formats and width % 2:
        raise UsageError(f"--width {width}: an MP4 needs an even width: use {width - 1} or {width + 1}")
    return render_width, render_height


def check_job_file(path):
    """A job file must be UTF-8 JSON of reasonable size and depth (the rest is checked by the job spec)."""
    try:
        size = os.path.getsize(path)
        if size > MAX_JOB_FILE_BYTES:
            raise UsageError(f"job file '{path}' is {size / 2**20:.0f} MiB: a job is a small JSON file "
                             f"(docs/job-spec.md)")
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise UsageError(f"cannot read job file '{path}': {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"job file '{path}' is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                         f"{exc.start}): save it as UTF-8") from None
    try:
        json.loads(text)
    except RecursionError:
        raise UsageError(f"job file '{path}' nests its JSON too deeply: a job is a few levels deep") from None
    except ValueError:
        pass  # reported with its position when the job is read
