"""Bake writers, playback and render cost of a baked rig, each against its plain counterpart in the same run.
Run with the Blender environment from the repository root:

    .venvs/blender/bin/python bench/bench_blender.py out/bench/blender.json
"""

import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from imgdyn import animate, extension, measure  # noqa: E402

SAMPLE = os.path.join(extension.REPO_ROOT, "samples", "river", "river.png")
LOOP = 120


def smooth_noise(rng, shape, cells=6):
    """Low-frequency random values on (H, W, ...) by bilinear upsampling of a coarse grid."""
    height, width = shape[:2]
    coarse = rng.standard_normal((cells, cells) + shape[2:])
    ys, xs = np.linspace(0, cells - 1, height), np.linspace(0, cells - 1, width)
    y0, x0 = np.minimum(ys.astype(int), cells - 2), np.minimum(xs.astype(int), cells - 2)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    extra = (slice(None), slice(None)) + (None,) * (len(shape) - 2)
    fy, fx = fy[extra], fx[extra]
    top = coarse[y0][:, x0] * (1 - fx) + coarse[y0][:, x0 + 1] * fx
    bottom = coarse[y0 + 1][:, x0] * (1 - fx) + coarse[y0 + 1][:, x0 + 1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def synthetic_flow(width, height, frames, rng):
    """Lookups by stream age shaped like the fluid engine's (a smooth field, straight paths), in UV units, and the
    phase period."""
    loop = extension.extension_module("backend.loop")
    period = loop.phase_period(frames)
    half = loop.half_span(period)
    velocity = smooth_noise(rng, (height, width, 2)) * np.array([2.0 / width, 1.0 / height], np.float32)
    ages = np.arange(-half, half + 1, dtype=np.float32)[:, None, None, None]
    return -ages * velocity, period


def motion(lookup=None, period=0, spectrum=None, size=(160, 90), flicker=None, terms=()):
    carriers = extension.extension_module("addon.carriers")
    return carriers.Motion([carriers.MotionPart("bench", "motion_strength_layer1", lookup, period, spectrum,
                                                flicker=flicker, terms=terms, weights=(1.2, 0.9, 0.6))], size)


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def scene_with_plane():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    extension.enable(device="cpu")
    plane = animate.import_plane(SAMPLE)
    animate.setup_scene(plane, LOOP, width=320, samples=4)
    return plane


def playback_seconds(frames=LOOP):
    scene = bpy.context.scene
    started = time.perf_counter()
    for frame in range(scene.frame_start, scene.frame_start + frames):
        scene.frame_set(frame)
    return (time.perf_counter() - started) / frames


def render_seconds(folder, frames=(1, 31, 61, 91)):
    times = [timed(measure.render_frame, frame, folder)[0] for frame in frames]
    return statistics.median(times)


def main(out_path):
    rng = np.random.default_rng(0)
    rows = []
    plane = scene_with_plane()
    bake_module = extension.extension_module("addon.carriers")
    shape_module = extension.extension_module("addon.carriers.geometry")
    warp_module = extension.extension_module("addon.carriers.texture")
    plane_module = extension.extension_module("addon.plane")
    settings = plane.image_dynamics
    image_plane = plane_module.ImagePlane(plane)

    lookup, period = synthetic_flow(160, 90, LOOP, rng)
    spectrum = smooth_noise(rng, (8, 90, 160, 4)) * 0.002
    for grid in (64, 128, 256, 512):
        seconds, (mesh, keys) = timed(shape_module.build, image_plane, settings, motion(spectrum=spectrum),
                                      (1, LOOP), grid)
        rows.append({"stage": "bake shape keys", "size": f"grid {grid}x{round(grid * 9 / 16)}",
                     "seconds": seconds, "shape_keys": keys})
        shape_module.remove_shape_mesh(mesh)
    for width in (256, 512, 1024):
        height = round(width * 9 / 16)
        big_lookup, big_period = synthetic_flow(width, height, LOOP, rng)
        seconds, warp = timed(warp_module.build, image_plane, settings,
                              motion(big_lookup, big_period, size=(width, height)), (1, LOOP), 0)
        # the bake holds one phase period of lookups by stream age, whatever the loop's length
        rows.append({"stage": "bake warp texture", "size": f"{width}x{height}, phase period {big_period}",
                     "seconds": seconds})
        warp_module.discard(warp)
        del big_lookup

    with tempfile.TemporaryDirectory() as folder:
        static_play = playback_seconds()
        static_render = render_seconds(folder)
        flicker = smooth_noise(rng, (90, 160, 6, 2)).transpose(2, 0, 1, 3) * 0.1  # six terms, 2 to 7 per loop
        for label, baked in (("fluid", motion(lookup, period)), ("sway", motion(spectrum=spectrum)),
                             ("flicker", motion(flicker=flicker, terms=range(2, 8)))):
            bake_module.bake(image_plane, settings, baked, 1, LOOP, 64)
            for carrier in ("TEXTURE", "GEOMETRY"):
                settings.carrier = carrier
                seconds = playback_seconds()
                rows.append({"stage": "playback", "size": f"{label} rig, motion on {carrier.lower()}",
                             "seconds": seconds, "baseline_seconds": static_play,
                             "ratio": seconds / static_play})
            settings.carrier = "TEXTURE"
            seconds = render_seconds(folder)
            rows.append({"stage": "render (Cycles, 320x180, 4 samples)", "size": f"{label} warp",
                         "seconds": seconds, "baseline_seconds": static_render, "ratio": seconds / static_render})
            bake_module.clear(plane, settings)
    rows += generate_and_bake_rows()
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump({"blender": bpy.app.version_string, "rows": rows}, handle, indent=1)


def generate_and_bake_rows(samples=("river", "waterfall")):
    """Generate + bake of a sample's own job through the operator, the backend already warm (a second Generate)."""
    rows = []
    for name in samples:
        folder = os.path.join(extension.REPO_ROOT, "samples", name)
        with open(os.path.join(folder, "job.json"), encoding="utf-8") as handle:
            job = json.load(handle)
        image = next(os.path.join(folder, entry) for entry in sorted(os.listdir(folder))
                     if entry.startswith(name + "."))
        bpy.ops.wm.read_factory_settings(use_empty=True)
        extension.enable(device="cpu")
        obj = animate.import_plane(image)
        animate.apply_job(obj, job, folder, grid=64)
        animate.setup_scene(obj, job["loop_frames"], width=320, samples=1)
        bpy.ops.image_dynamics.generate()  # starts the backend
        seconds, _ = timed(bpy.ops.image_dynamics.generate)
        rows.append({"stage": "generate + bake", "size": f"{name} sample: working {job['working_resolution']}, "
                                                         f"{job['loop_frames']} frames", "seconds": seconds})
    return rows


if __name__ == "__main__":
    main(sys.argv[1])
