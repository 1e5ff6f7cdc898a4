"""The main job, headless: animate an image into a baked .blend, a looping video and a report.

    python -m imgdyn animate IMAGE --job JOB.json [--out DIR] [options]
    python -m imgdyn animate IMAGE --layer fluid rect=0,0.2,1,0.4 hint=0.5,0.3,2,0 --frames 48 [options]

(with the Blender environment's Python). The tool imports the image as a plane, gives it the job's layers, runs
the extension's Generate (which starts the real backend), saves the .blend, renders the loop to PNG frames and
an MP4 and/or a GIF, writes a contact sheet, ST-maps, a flow map and motion vectors on request, and report.json
with the measured loop error, the motion left in still regions and the time of each stage. Outputs appear only
when everything succeeded. It exits non-zero when the loop or the stillness misses its bound.
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time

import bpy
import numpy as np

from layertypes import baked_motion, files_relative_to

from . import extension, interrupt, limits, measure, outputs, publish, quality, written
from .layers import UsageError, parse_layers
from .progress import StageProgress

LOOP_TOLERANCE = 1.0 / 255.0
LEAK_TOLERANCE_LEVELS = 2.0
PIXEL_FILTER_PX = 0.75
FORMATS = ("mp4", "gif", "png")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m imgdyn", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    animate = commands.add_parser("animate", help="animate an image into a looping video and a .blend")
    animate.add_argument("image")
    source = animate.add_mutually_exclusive_group(required=True)
    source.add_argument("--job", help="job JSON (docs/job-spec.md)")
    source.add_argument("--layer", nargs="+", action="append", metavar="TYPE KEY=VALUE",
                        help="a layer: fluid, drift or sway, then settings (see imgdyn/layers.py); repeatable")
    animate.add_argument("--frames", type=int, help="loop length (default: the job's, or 48)")
    animate.add_argument("--out", help="output folder (default: out/<name>)")
    animate.add_argument("--name", help="base name of the .blend (default: the image's name)")
    animate.add_argument("--formats", default="mp4", help="any of mp4,gif,png (png keeps the frames)")
    animate.add_argument("--width", type=int, default=1280, help="render width in pixels (default 1280)")
    animate.add_argument("--fps", type=float, help="frames per second (default: the job's, or 24)")
    animate.add_argument("--samples", type=int, default=4, help="Cycles samples per pixel (default 4)")
    animate.add_argument("--grid", type=int, default=64, help="shape-key grid vertices along the long side")
    animate.add_argument("--working-resolution", type=int, help="longest side of the motion grid")
    animate.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="where the backend computes")
    animate.add_argument("--stmap", action="store_true", help="also write ST-map EXRs of the loop")
    animate.add_argument("--flowmap", action="store_true",
                         help="also write a game engine's flow map of the flowing layers (docs/flowmaps.md)")
    animate.add_argument("--motion-vectors", action="store_true",
                         help="also write motion-vector EXRs of every frame (Blender's Vector pass, render pixels)")
    animate.add_argument("--strength", type=strength_keys, metavar="FRAME:VALUE,...",
                         help="keyframes of the motion strength, e.g. 1:0,24:1 eases the motion in over the first "
                              "24 frames (flowing layers speed up, swaying ones grow)")
    animate.add_argument("--backend-python", help="Python of the backend environment")
    animate.add_argument("--backend-command", metavar="COMMAND",
                         help="compute the motion through this command instead (e.g. ssh to a GPU machine; see the "
                              "README, 'Backend on another machine'); a GIF is still encoded with the local backend "
                              "Python")
    return parser.parse_args(argv)


def strength_keys(text):
    """`--strength 1:0,24:1` -> [(1, 0.0), (24, 1.0)]."""
    keys = []
    for pair in text.split(","):
        frame, _, value = pair.partition(":")
        try:
            keys.append((int(frame), float(value)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{pair}' is not FRAME:VALUE (a whole frame, a number)") from None
        if not math.isfinite(keys[-1][1]) or keys[-1][1] < 0:
            raise argparse.ArgumentTypeError(f"strength {value} at frame {frame} must be 0 or more")
    return keys


def build_job(args):
    """The job and the folder its relative paths start from; every problem raises UsageError."""
    from backend.errors import JobSpecError
    from backend.jobspec import parse_job
    if args.job:
        try:
            with open(args.job, encoding="utf-8") as handle:
                job = json.load(handle)
        except OSError as exc:
            raise UsageError(f"cannot read job file '{args.job}': {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"job file '{args.job}' is not valid JSON: {exc}") from None
        base = os.path.dirname(os.path.abspath(args.job))
    else:
        job, base = {"loop_frames": 48, "layers": parse_layers(args.layer)}, os.getcwd()
    if not isinstance(job, dict):
        raise UsageError(f"job file '{args.job}' must hold a JSON object")
    files_relative_to(job, base)
    for key, value in (("loop_frames", args.frames), ("working_resolution", args.working_resolution),
                       ("device", args.device), ("fps", getattr(args, "fps", None))):
        if value is not None:
            job[key] = value
    try:
        parse_job(job)
    except JobSpecError as exc:
        raise UsageError(exc.message) from None
    if getattr(args, "flowmap", False) and not has_flow(job):
        raise UsageError("--flowmap needs a flowing layer (fluid, drift or a flowing clip): this job has none")
    for layer in job["layers"]:
        for key in ("mask", "pin_mask"):
            path = layer.get(key, {}).get("image")
            if path and not os.path.isfile(os.path.join(base, path)):
                raise UsageError(f"{key} image '{path}' of layer '{layer['name']}' does not exist")
    return job, base


def check_args(args):
    if not os.path.isfile(args.image):
        raise UsageError(f"image '{args.image}' does not exist")
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UsageError(f"--formats takes some of {', '.join(FORMATS)}, not '{args.formats}'")
    limits.check_numbers(args)
    return formats


def import_plane(image_path):
    folder, name = os.path.split(os.path.abspath(image_path))
    result = bpy.ops.image.import_as_mesh_planes(files=[{"name": name}], directory=folder, shader="EMISSION")
    if result != {"FINISHED"} or bpy.context.active_object is None:
        raise UsageError(f"Blender could not import '{image_path}' as an image plane")
    return bpy.context.active_object


def apply_job(obj, job, job_dir, grid):
    """Give the plane the job's layers, as a user would in the panel (pins become pin empties); every parameter
    goes through the add-on's properties (addon/settings/layer_values.py), so none is lost on the way."""
    settings = obj.image_dynamics
    settings.working_resolution = job.get("working_resolution", 256)
    settings.grid_resolution = grid
    layer_values = extension.extension_module("addon.settings.layer_values")

    def place_pin(uv, radius):
        bpy.ops.image_dynamics.guide_add(kind="PIN")
        _place_on_plane(obj, settings.layers[settings.active_layer].guides[-1].object, uv, radius)

    for spec in job["layers"]:
        bpy.ops.image_dynamics.layer_add()
        layer = settings.layers[settings.active_layer]
        layer.layer_type = layer_values.layer_type_of_spec(spec)
        layer_values.apply_layer(layer, spec, job_dir, place_pin)


def _place_on_plane(plane, empty, uv, radius):
    width, height = plane.dimensions.x, plane.dimensions.y  # an imported plane: centred, in its local XY
    empty.location.x = (uv[0] - 0.5) * width
    empty.location.y = (uv[1] - 0.5) * height
    empty.empty_display_size = max(radius, 1e-4) * width


def setup_scene(obj, loop_frames, width, samples, fps=24.0):
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, loop_frames
    scene.render.fps = max(1, round(fps))
    scene.render.fps_base = scene.render.fps / fps  # 23.976 and the like: Blender's fps is whole, its base not
    u_len, v_len = obj.dimensions.x, obj.dimensions.y
    camera_data = bpy.data.cameras.new("Preview Camera")
    camera_data.type, camera_data.ortho_scale = "ORTHO", max(u_len, v_len)
    camera = bpy.data.objects.new("Preview Camera", camera_data)
    scene.collection.objects.link(camera)
    camera.location = (obj.location.x, obj.location.y, obj.location.z + 5.0)
    scene.camera = camera
    render = scene.render
    render.engine = "CYCLES"
    render.resolution_x = width
    render.resolution_y = 2 * round(width * v_len / u_len / 2)
    render.resolution_percentage = 100
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    # Cycles' default 1.5 px pixel filter softens a still picture by about 40%; a narrow one keeps it sharp.
    scene.cycles.filter_width = PIXEL_FILTER_PX
    scene.view_settings.view_transform = "Standard"


def packed_megabytes(obj, painting, blend_path):
    """What the saved .blend carries, in MB: the painting, the baked motion (every image the bake packed) and the
    whole file, which is what a render farm needs and nothing else."""
    baked = [entry.image for entry in obj.image_dynamics.warp_images if entry.image is not None]
    return {"painting": painting.packed_file.size / 1e6,
            "motion": sum(image.packed_file.size for image in baked if image.packed_file) / 1e6,
            "blend": os.path.getsize(blend_path) / 1e6}


def main(argv):
    args = parse_args(argv)
    interrupt.install(interrupt.jobs_module(extension.MODULE))  # Ctrl-C, SIGTERM: stop at the next safe point
    try:
        formats = check_args(args)
        if args.job:
            limits.check_job_file(args.job)
        job, job_dir = build_job(args)
        name = publish.check_name(args.name or os.path.splitext(os.path.basename(args.image))[0])
        limits.check_render_size(args.image, args.width, formats)
        destination = publish.Destination.open(args.out or os.path.join("out", name))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    published = False
    try:
        report = run(args, job, job_dir, formats, name, destination.staging)
        interrupt.check()
        destination.publish(_relocated(report, destination.staging, destination.path))
        published = True
    except (interrupt.Interrupted, UsageError, RuntimeError, OSError) as exc:
        return _failed(exc, destination)
    finally:
        destination.close(keep_created=published)
    code = _summary(report)
    if interrupt.received():  # it came while publishing, which is not interrupted: the outputs are whole
        print("interrupted while publishing: the outputs are complete", file=sys.stderr)
        return interrupt.Interrupted(interrupt.received()).exit_code
    return code


def _failed(exc, destination):
    """One line for a run that stopped, and its exit code; nothing was published."""
    if interrupt.received():  # a failure after a stop signal is its doing (a cancelled job, a killed encoder)
        stopped = interrupt.Interrupted(interrupt.received())
        print(f"interrupted ({stopped}): stopped; nothing was written to '{destination.path}'", file=sys.stderr)
        return stopped.exit_code
    print(f"error: {destination.explain(exc)}", file=sys.stderr)
    return 1


def run(args, job, job_dir, formats, name, folder):
    timings, progress = {}, StageProgress()
    clock = time.perf_counter()

    def lap(stage):
        nonlocal clock
        progress.finish()
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now
        interrupt.check()

    bpy.ops.wm.read_factory_settings(use_empty=True)
    extension.enable(args.backend_python, device=job.get("device", "auto"), backend_command=args.backend_command)
    obj = import_plane(args.image)
    apply_job(obj, job, job_dir, args.grid)
    args.fps = job.get("fps", 24.0)
    setup_scene(obj, job["loop_frames"], args.width, args.samples, args.fps)
    lap("setup")

    jobs = extension.extension_module("addon.service.worker")
    listener = lambda label, stage, fraction: progress.update("generate", fraction, stage)  # noqa: E731
    jobs.progress_listeners.append(listener)
    try:
        if bpy.ops.image_dynamics.generate() != {"FINISHED"}:
            raise RuntimeError("generating the motion failed (see the message above)")
    except RuntimeError as exc:  # the operator's error report, without Blender's "Error: " prefix
        raise RuntimeError(str(exc).strip().removeprefix("Error: ")) from None
    finally:
        jobs.progress_listeners.remove(listener)
    sent, warnings = jobs.last_request(), jobs.last_warnings()
    if args.strength:
        for frame, value in args.strength:
            obj["motion_strength"] = value
            obj.keyframe_insert('["motion_strength"]', frame=frame)
        extension.extension_module("addon.carriers.clocks").bake_clocks(obj)
    lap("generate_and_bake")

    blend_path = os.path.join(folder, f"{name}.blend")
    painting = obj.active_material.node_tree.nodes["Image Texture"].image
    painting.pack()  # renders anywhere, without the image
    bpy.ops.wm.save_as_mainfile(filepath=blend_path)
    written.check(blend_path)  # (Blender says "Saved" on a full disk too)
    packed = packed_megabytes(obj, painting, blend_path)
    lap("save_blend")

    settings = obj.image_dynamics
    start, frames = settings.baked_loop_start, settings.baked_loop_frames
    frame_paths = outputs.render_frames(os.path.join(folder, "frames"),
                                        lambda done, total: progress.update("render", done / total,
                                                                            f"frame {done}/{total}"))
    with tempfile.TemporaryDirectory() as scratch:
        loop_end = measure.render_frame(start + frames, scratch)
        still = measure.render_still(obj, start, scratch)
    lap("render")

    produced = {"blend": blend_path, "contact_sheet": os.path.join(folder, "contact_sheet.png")}
    if "mp4" in formats:
        produced["video"] = os.path.join(folder, "preview.mp4")
        outputs.encode_mp4(frame_paths, args.fps, produced["video"])
    if "gif" in formats:
        produced["gif"] = os.path.join(folder, "preview.gif")
        outputs.encode_gif(frame_paths, args.fps, produced["gif"],
                           args.backend_python or extension.default_backend_python(), extension.REPO_ROOT)
    outputs.contact_sheet(frame_paths, settings, produced["contact_sheet"])
    lap("encode")
    if args.stmap:
        produced["stmap"] = os.path.join(folder, "stmap")
        bpy.ops.image_dynamics.export_stmaps(directory=produced["stmap"])
        lap("stmap")
    if args.flowmap:
        produced["flowmap"] = os.path.join(folder, "flowmap")
        _export(bpy.ops.image_dynamics.export_flowmap, directory=produced["flowmap"])
        lap("flowmap")
    if args.motion_vectors:  # in pixels of the render
        produced["motion_vectors"] = os.path.join(folder, "vectors")
        _export(bpy.ops.image_dynamics.export_motion_vectors, directory=produced["motion_vectors"])
        lap("motion_vectors")

    rendered = [measure.read_image(path) for path in frame_paths]
    first, middle = rendered[0], rendered[len(rendered) // 2]
    moving = measure.moving_region(job, job_dir, first.shape[1], first.shape[0])
    report = {
        "image": os.path.abspath(args.image),
        "outputs": produced,
        "loop_frames": frames,
        "loop_start": start,
        "fps": args.fps,
        "render_size": [bpy.context.scene.render.resolution_x, bpy.context.scene.render.resolution_y],
        "loop_error": float(np.abs(first - loop_end).max()),
        "strength_keys": args.strength or [],
        "mid_loop_change": float(np.abs(first - middle).mean()),
        "leak_levels": quality.leak_levels(rendered, still, moving),
        "shape_keys": len(obj.data.shape_keys.key_blocks) - 1 if obj.data.shape_keys else 0,
        "packed_mb": packed,  # what a render farm receives
        "job": sent,  # as sent to the backend: every layer with every parameter after defaults
        "warnings": warnings,  # what the backend noticed about the job (a clip's cut, a sway that is very large)
    }
    if "png" in formats:
        produced["frames"] = os.path.join(folder, "frames")
    else:
        shutil.rmtree(os.path.join(folder, "frames"))
    lap("measure")
    report["timings_s"] = timings
    return report


def _export(operator, **settings):
    """Run an export operator; its error report becomes the run's one-line error."""
    try:
        if operator(**settings) != {"FINISHED"}:
            raise RuntimeError(f"{operator.idname_py()} did not finish (see the message above)")
    except RuntimeError as exc:
        raise RuntimeError(str(exc).strip().removeprefix("Error: ")) from None


def has_flow(job):
    """Whether a job has a flowing layer (fluid, drift, a flowing clip): a flow map needs one."""
    return any(baked_motion(spec) == "flow" for spec in job["layers"])


def _relocated(report, staging, out_dir):
    report["outputs"] = {key: path.replace(staging, out_dir) for key, path in report["outputs"].items()}
    return report


def _summary(report):
    print(json.dumps(report, indent=2))
    failed = []
    if report["loop_error"] >= LOOP_TOLERANCE and not report["strength_keys"]:  # a ramp is not meant to repeat
        failed.append(f"loop error {report['loop_error']:.5f} >= 1/255")
    if report["leak_levels"] > LEAK_TOLERANCE_LEVELS:
        failed.append(f"{report['leak_levels']:.1f} levels of change 3 px or more outside the masks")
    outputs_line = ", ".join(f"{key} {path}" for key, path in report["outputs"].items())
    print(f"\nwrote {outputs_line}\nloop error {report['loop_error']:.6f}, change outside the masks "
          f"{report['leak_levels']:.2f} levels, timings {report['timings_s']}", file=sys.stderr)
    if failed:
        print("FAILED: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0
