"""`make quality` (`python -m imgdyn quality`): every sample's loop rendered through Blender at full size, and
what a person sees in it as numbers (imgdyn/quality.py), with a strip of frames to look at.

Per sample: sharpness of every frame against a render of the same plane at motion strength 0 (min, mean, max),
pulse CV, seam ratio, leak (8-bit levels 3 px or more outside the masks), fill (share of the flowing masks that
visibly moves) and the seconds taken; out/quality/report.json holds them all and out/quality/<sample>.png shows
still | mid-loop | softest frame, with 2x crops of the moving region below. Never part of `make test`.
"""

import argparse
import glob
import json
import os
import sys
import tempfile
import time

import bpy
import numpy as np

from . import animate, extension, measure, outputs, quality

REPO_SAMPLES = os.path.join(extension.REPO_ROOT, "samples")
# Bars from the issue that asked for this report: what a good loop is on a real photograph.
BARS = {"sharpness_min": 0.6, "sharpness_max": 1.15, "sharpness_mean": 0.75, "pulse_cv": 0.03, "seam_ratio": 1.1,
        "leak_levels": 2.0, "fill": 0.9}
# Pixels kept off each mask's edge when measuring inside it: its soft edge fades the motion on purpose.
EDGE_MARGIN = 6


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m imgdyn quality", description=__doc__.splitlines()[0])
    parser.add_argument("samples", nargs="*", help="sample names (default: every folder in samples/)")
    parser.add_argument("--out", default=os.path.join("out", "quality"))
    parser.add_argument("--width", type=int, help="render width (default: the image's own width)")
    parser.add_argument("--frames", type=int, help="loop length (default: the sample job's)")
    parser.add_argument("--samples-per-pixel", type=int, default=4)
    parser.add_argument("--backend-python")
    return parser.parse_args(argv)


def evaluate(image_path, job, job_dir, width, spp, backend_python, folder):
    """Render one sample's loop and measure it: (numbers, frames, still)."""
    started = time.perf_counter()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    extension.enable(backend_python, device=job.get("device", "auto"))
    obj = animate.import_plane(image_path)
    animate.apply_job(obj, job, job_dir, grid=64)
    image = obj.active_material.node_tree.nodes["Image Texture"].image
    animate.setup_scene(obj, job["loop_frames"], width or image.size[0], spp)
    if bpy.ops.image_dynamics.generate() != {"FINISHED"}:
        raise RuntimeError(f"Generate failed for {image_path}")
    generated = time.perf_counter()
    scene = bpy.context.scene
    frames = [measure.render_frame(frame, folder) for frame in range(scene.frame_start, scene.frame_end + 1)]
    still = measure.render_still(obj, scene.frame_start, folder)
    height, width = still.shape[:2]
    moving = measure.moving_region(job, job_dir, width, height)
    flowing = measure.moving_region({"layers": [layer for layer in job["layers"] if layer["type"] != "oscillation"]},
                                    job_dir, width, height)
    inside = ~quality.grow(~moving, EDGE_MARGIN)
    sharpness = [quality.sharpness(frame, still, inside) for frame in frames]
    numbers = {
        "render_size": [width, height], "loop_frames": len(frames),
        "sharpness_min": min(sharpness), "sharpness_mean": float(np.mean(sharpness)),
        "sharpness_max": max(sharpness), "softest_frame": int(np.argmin(sharpness)),
        "pulse_cv": quality.pulse_cv(frames, inside), "seam_ratio": quality.seam_ratio(frames, inside),
        "leak_levels": quality.leak_levels(frames, still, moving),
        "fill": quality.fill(frames, still, ~quality.grow(~flowing, EDGE_MARGIN)) if flowing.any() else None,
        "seconds": {"generate_and_bake": round(generated - started, 2),
                    "render": round(time.perf_counter() - generated, 2)},
    }
    return numbers, frames, still, inside


def misses(numbers):
    """The bars a sample misses, as words."""
    missed = []
    for key, bar in BARS.items():
        value = numbers.get(key)
        if value is None:
            continue
        if (key in ("sharpness_min", "sharpness_mean", "fill") and value < bar) or (
                key not in ("sharpness_min", "sharpness_mean", "fill") and value > bar):
            missed.append(f"{key} {value:.3f} (bar {bar})")
    return missed


def strip(frames, still, inside, softest, path):
    """still | mid-loop | softest frame on top; 2x crops of the middle of the moving region below."""
    middle = frames[len(frames) // 2]
    height, width = still.shape[:2]
    gap = np.ones((height, 6, 3), np.float32)
    top = np.concatenate([still, gap, middle, gap, frames[softest]], axis=1)
    size = max(16, min(width // 6, height // 2))
    # The crops look where the loop changes the picture most (box-averaged), inside the measured region.
    change = np.abs(quality.grey(middle) - quality.grey(still)) * inside
    summed = np.pad(change, ((1, 0), (1, 0))).cumsum(axis=0).cumsum(axis=1)
    half = size // 2
    boxes = (summed[size:, size:] - summed[:-size, size:] - summed[size:, :-size] + summed[:-size, :-size])
    cy, cx = np.unravel_index(np.argmax(boxes), boxes.shape)
    cy, cx = cy + half, cx + half
    crops = []
    for frame in (still, middle, frames[softest]):
        crop = frame[cy - size // 2:cy + size // 2, cx - size // 2:cx + size // 2]
        crop = np.kron(crop, np.ones((2, 2, 1), np.float32))
        padded = np.ones((crop.shape[0], width, 3), np.float32)
        padded[:, :crop.shape[1]] = crop
        crops.append(padded)
    bottom = np.concatenate([crops[0], gap[:crops[0].shape[0]], crops[1], gap[:crops[0].shape[0]], crops[2]],
                            axis=1)
    sheet = np.concatenate([top, np.ones((6, top.shape[1], 3), np.float32), bottom], axis=0)
    outputs.write_image(np.clip(sheet, 0, 1), path, "PNG")


def main(argv):
    args = parse_args(argv)
    names = args.samples or sorted(os.path.basename(os.path.dirname(path))
                                   for path in glob.glob(os.path.join(REPO_SAMPLES, "*", "job.json")))
    os.makedirs(args.out, exist_ok=True)
    report, table = {}, []
    for name in names:
        folder = os.path.join(REPO_SAMPLES, name)
        with open(os.path.join(folder, "job.json"), encoding="utf-8") as handle:
            job = json.load(handle)
        if args.frames:
            job["loop_frames"] = args.frames
        image = next(path for path in sorted(glob.glob(os.path.join(folder, f"{name}.*")))
                     if not path.endswith(".json"))
        print(f"[quality] {name}: rendering {job['loop_frames']} frames ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as scratch:
            numbers, frames, still, inside = evaluate(image, job, folder, args.width, args.samples_per_pixel,
                                                      args.backend_python, scratch)
        strip(frames, still, inside, numbers["softest_frame"], os.path.join(args.out, f"{name}.png"))
        numbers["misses"] = misses(numbers)
        report[name] = numbers
        fill = "-" if numbers["fill"] is None else f"{numbers['fill']:.3f}"
        table.append(f"{name:<10} {numbers['render_size'][0]:>5}x{numbers['render_size'][1]:<5} "
                     f"{numbers['sharpness_min']:.2f} {numbers['sharpness_mean']:.2f} {numbers['sharpness_max']:.2f}"
                     f"  {numbers['pulse_cv']:.4f}  {numbers['seam_ratio']:.2f}  {numbers['leak_levels']:6.2f}"
                     f"  {fill:>5}  {sum(numbers['seconds'].values()):7.1f}  {'; '.join(numbers['misses']) or 'ok'}")
    with open(os.path.join(args.out, "report.json"), "w", encoding="utf-8") as handle:
        json.dump({"bars": BARS, "samples": report}, handle, indent=2)
    header = ("sample      render     sharpness min/mean/max  pulse CV  seam  leak   fill   seconds  bars\n"
              + "-" * 104)
    print("\n".join([header] + table))
    return 0
