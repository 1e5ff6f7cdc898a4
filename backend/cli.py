"""`python -m backend generate IMAGE --job JOB --out RESULT.npz`: one job without Blender."""

import argparse
import json
import os
import sys
import tempfile

import cv2
import numpy as np

from layertypes import files_relative_to

from . import files
from .engine import run_job
from .errors import BackendError, InputError, JobSpecError
from .jobspec import parse_job


def read_image(path, what):
    if not os.path.isfile(path):
        raise InputError(f"cannot read {what} '{files.shown(path)}': the file is missing")
    image = files.read_image(path, cv2.IMREAD_UNCHANGED, what)
    if image.ndim == 3:  # OpenCV reads BGR(A); the engine works in RGB(A)
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return image


def load_job(path):
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise InputError(f"cannot read job file '{files.shown(path)}': {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise JobSpecError(f"job file '{files.shown(path)}' is not UTF-8 text (byte {exc.start}): save it as "
                           f"UTF-8 JSON") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise JobSpecError(f"job file '{files.shown(path)}' is not valid JSON: {exc}") from None
    base = os.path.dirname(os.path.abspath(path))
    job = parse_job(files_relative_to(data, base))
    arrays = {}
    for index, layer in enumerate(job.layers):
        for kind, spec in layer.masks():
            if spec.image is not None:  # files become named arrays, as over the protocol
                name = f"{kind}{index}"
                arrays[name] = read_image(os.path.join(base, spec.image), f"{kind} of layer '{layer.name}'")
                spec.image, spec.array = None, name
    return job, arrays


def save_result(path, meta, arrays):
    """Write the .npz next to its final place, then rename, so a failed run leaves no partial file."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temp = tempfile.mkstemp(suffix=".npz", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def write_gif(frame_paths, out, fps):
    """A GIF that loops forever, written next to its place and renamed, so that no partial file is left."""
    frames = []
    for path in frame_paths:
        try:
            frames.append(files.read_image(path, cv2.IMREAD_COLOR, "frame"))  # 8-bit BGR, whatever the depth
        except InputError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
    animation = cv2.Animation()
    animation.frames = frames
    animation.durations = [round(1000 / fps)] * len(frames)
    animation.loop_count = 0  # forever
    ok, encoded = cv2.imencodeanimation(".gif", animation)  # in memory: OpenCV cannot open every file name
    if not ok:
        print(f"error: OpenCV could not write '{files.shown(out)}'", file=sys.stderr)
        return 2
    temp = f"{out}.part.gif"
    try:
        with open(temp, "wb") as stream:
            stream.write(encoded.tobytes())
        os.replace(temp, out)
    except OSError as exc:
        if os.path.exists(temp):
            os.unlink(temp)
        print(f"error: cannot write '{files.shown(out)}': {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m backend")
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="animate one image from a job JSON file")
    generate.add_argument("image")
    generate.add_argument("--job", required=True, help="job JSON, see docs/job-spec.md")
    generate.add_argument("--out", required=True, help="result .npz to write")
    gif = commands.add_parser("gif", help="join frames into a looping GIF (the Blender side has no GIF writer)")
    gif.add_argument("frames", nargs="+", help="image files, in order")
    gif.add_argument("--out", required=True)
    gif.add_argument("--fps", type=float, default=24.0)
    args = parser.parse_args(argv)
    if args.command == "gif":
        return write_gif(args.frames, args.out, args.fps)

    def progress(stage, fraction):
        print(f"\r{stage}: {fraction:6.1%}", end="", file=sys.stderr, flush=True)

    try:
        job, arrays = load_job(args.job)
        image = read_image(args.image, "image")
        meta, result = run_job(job, image, arrays, progress)
        save_result(args.out, meta, result)
    except BackendError as exc:
        print(f"\nerror: {exc.kind}: {exc.message}", file=sys.stderr)
        return 2
    print(f"\nwrote {args.out} ({meta['working_size'][0]}x{meta['working_size'][1]}, "
          f"{job.loop_frames} frames, {meta['seconds']} s on {meta['device']})", file=sys.stderr)
    return 0
