"""The main job, headless: animate an image into a baked .blend, a looping preview video and a report.

    python tools/animate.py IMAGE --job JOB.json --out DIR      (with the Blender environment's Python)

The job file has the backend's schema (docs/job-spec.md). The tool imports the image as a plane, gives it the
job's layers, runs the extension's Generate operator (which starts the real backend), saves DIR/<name>.blend,
renders DIR/preview.mp4 with Cycles, and writes DIR/report.json with the measured loop error, the motion left in
still regions and the time of each stage. It exits non-zero when the loop or the stillness misses its bound.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from tools import dev_extension, measure  # noqa: E402

LOOP_TOLERANCE = 1.0 / 255.0
STILL_TOLERANCE_PX = 0.01


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python tools/animate.py", description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--job", required=True, help="job JSON (docs/job-spec.md)")
    parser.add_argument("--out", required=True, help="folder for the .blend, preview.mp4 and report.json")
    parser.add_argument("--width", type=int, default=320, help="preview width in pixels (default 320)")
    parser.add_argument("--samples", type=int, default=4, help="Cycles samples per pixel (default 4)")
    parser.add_argument("--grid", type=int, default=64, help="shape-key grid vertices along the long side")
    parser.add_argument("--name", help="base name of the saved .blend (default: the image's name)")
    parser.add_argument("--backend-python", help="Python of the backend environment")
    return parser.parse_args(argv)


def import_plane(image_path):
    folder, name = os.path.split(os.path.abspath(image_path))
    result = bpy.ops.image.import_as_mesh_planes(files=[{"name": name}], directory=folder, shader="EMISSION")
    if result != {"FINISHED"}:
        raise SystemExit(f"error: could not import '{image_path}' as an image plane")
    return bpy.context.active_object


def apply_job(obj, job, job_dir, grid):
    """Give the plane the job's layers, as a user would in the panel (pins become pin empties)."""
    settings = obj.image_dynamics
    settings.working_resolution = job.get("working_resolution", 256)
    settings.grid_resolution = grid
    for spec in job["layers"]:
        bpy.ops.image_dynamics.layer_add()
        layer = settings.layers[settings.active_layer]
        layer.name = spec["name"]
        layer.layer_type = spec["type"].upper()
        layer.feather = spec.get("feather", 0.02)
        layer.edge_tolerance = spec.get("edge_tolerance", 0.25)
        layer.pin_falloff = spec.get("pin_falloff", 0.05)
        layer.mask_source, layer.mask_rect, layer.mask_image = _mask(spec["mask"], job_dir)
        if "pin_mask" in spec:
            layer.pin_image = _mask(spec["pin_mask"], job_dir)[2]
        if "velocity" in spec:  # drift
            vx, vy = spec["velocity"]
            layer.speed, layer.speed_unit, layer.drift_angle = math.hypot(vx, vy), "PX_PER_FRAME", math.atan2(vy, vx)
        if spec["type"] == "oscillation":
            layer.amplitude = spec.get("amplitude", 4.0)
            layer.wind_angle = math.radians(spec.get("wind", 0.0))
            layer.terms = spec.get("terms", 8)
            layer.falloff = spec.get("falloff", 2.0)
            layer.scale = spec.get("scale", 0.1)
            layer.seed = spec.get("seed", 0)
        for hint_spec in spec.get("hints", []):
            hint = layer.hints.add()
            hint.uv, hint.velocity = hint_spec["uv"], hint_spec["velocity"]
        for pin_spec in spec.get("pins", []):
            bpy.ops.image_dynamics.guide_add(kind="PIN")
            _place_on_plane(obj, layer.guides[-1].object, pin_spec["uv"], pin_spec.get("radius", 0.0))


def _mask(spec, job_dir):
    """(source, rect, image) layer settings for a job's mask."""
    if "rect" in spec:
        return "RECT", spec["rect"], None
    if "image" not in spec:
        raise SystemExit("error: masks in a job file are a 'rect' or an 'image' path")
    return "IMAGE", (0.0, 0.0, 1.0, 1.0), bpy.data.images.load(os.path.join(job_dir, spec["image"]),
                                                              check_existing=True)


def _place_on_plane(plane, empty, uv, radius):
    width, height = plane.dimensions.x, plane.dimensions.y  # an imported plane: centred, in its local XY
    empty.location.x = (uv[0] - 0.5) * width
    empty.location.y = (uv[1] - 0.5) * height
    empty.empty_display_size = max(radius, 1e-4) * width


def setup_scene(obj, loop_frames, width, samples):
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, loop_frames
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
    scene.view_settings.view_transform = "Standard"


def render_video(path):
    scene = bpy.context.scene
    settings = scene.render.image_settings
    settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    scene.render.ffmpeg.format = "MPEG4"
    scene.render.ffmpeg.codec = "H264"
    scene.render.filepath = path
    bpy.ops.render.render(animation=True)


def main(argv):
    args = parse_args(argv)
    if not os.path.isfile(args.image):
        raise SystemExit(f"error: image '{args.image}' does not exist")
    with open(args.job, encoding="utf-8") as handle:
        job = json.load(handle)
    os.makedirs(args.out, exist_ok=True)
    timings = {}
    clock = time.perf_counter()

    def lap(stage):
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now
        print(f"[animate] {stage}: {timings[stage]:.2f} s", flush=True)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    dev_extension.enable(args.backend_python, device=job.get("device", "auto"))
    obj = import_plane(args.image)
    apply_job(obj, job, os.path.dirname(os.path.abspath(args.job)), args.grid)
    setup_scene(obj, job["loop_frames"], args.width, args.samples)
    lap("setup")

    if bpy.ops.image_dynamics.generate() != {"FINISHED"}:
        raise SystemExit("error: generating the motion failed (see the message above)")
    lap("generate_and_bake")

    name = args.name or os.path.splitext(os.path.basename(args.image))[0]
    blend_path = os.path.abspath(os.path.join(args.out, f"{name}.blend"))
    image = obj.active_material.node_tree.nodes["Image Texture"].image
    image.pack()  # the .blend then renders anywhere, without the sample folder
    bpy.ops.wm.save_as_mainfile(filepath=blend_path)
    lap("save_blend")

    video_path = os.path.abspath(os.path.join(args.out, "preview.mp4"))
    render_video(video_path)
    lap("render_preview")

    settings = obj.image_dynamics
    start, frames = settings.baked_loop_start, settings.baked_loop_frames
    with tempfile.TemporaryDirectory() as scratch:
        first, loop_end, middle = (measure.render_frame(frame, scratch)
                                   for frame in (start, start + frames, start + frames // 2))
    report = {
        "image": os.path.abspath(args.image),
        "outputs": {"blend": blend_path, "video": video_path},
        "loop_frames": frames,
        "loop_start": start,
        "render_size": [bpy.context.scene.render.resolution_x, bpy.context.scene.render.resolution_y],
        "loop_error": float(np.abs(first - loop_end).max()),
        "mid_loop_change": float(np.abs(first - middle).mean()),
        "still_region_motion_px": measure.still_region_motion_px(settings, job, list(image.size)),
        "shape_keys": len(obj.data.shape_keys.key_blocks) - 1,
        "timings_s": timings,
    }
    lap("measure")
    report["timings_s"] = timings
    with open(os.path.join(args.out, "report.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    print(json.dumps(report, indent=2))
    failed = []
    if report["loop_error"] >= LOOP_TOLERANCE:
        failed.append(f"loop error {report['loop_error']:.5f} >= 1/255")
    if report["still_region_motion_px"] >= STILL_TOLERANCE_PX:
        failed.append(f"still-region motion {report['still_region_motion_px']:.5f} px >= {STILL_TOLERANCE_PX}")
    if failed:
        print("FAILED: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
