"""Production scale: what a baked loop costs against a static plane and a flow map, as the working resolution
and the loop grow. Run with the Blender environment from the repository root:

    .venvs/blender/bin/python bench/bench_scale.py out/bench/scale.json

Every configuration runs in its own Blender process (`--one`), so each peak RSS is that configuration's alone;
its .blend is reopened in another fresh process (`--open`). Rivals, on the same painting:
- baked: the extension's bake (a fluid and a drift layer) from smooth synthetic lookups shaped like the backend's;
- static: the plane as imported, no bake;
- flow map: one static velocity texture advected in the shader (uv - velocity * age for three staggered phases
  with backend/loop.py's sin^2 weights), a node group this bench builds itself.
The headline rows ("Done when" of production scale) go through the real Generate and backend instead.
"""

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# The headline: a 3840x2160 painting (the lake sample doubled), fluid on the water and drift in the sky.
HEADLINE_SIZE = (3840, 2160)
HEADLINE_WORKING = 1024
HEADLINE_LOOPS = (240, 480)
# A cross through the grid rather than all of it (the baked data depends on the phase period, about 30 frames
# for each of these loops, not on the loop): every working resolution at one loop, every loop at one resolution.
GRID_WORKING = (256, 512, 1024, 2048)
GRID_LOOPS = (60, 120, 240, 480)
AT_FRAMES, AT_WORKING = 120, 512
# Renders of the grid at a small size (Cycles, CPU): the cost of the shader, not of the pixels.
RENDER_WIDTH, RENDER_SAMPLES, RENDER_FRAMES = 480, 1, (1, 16)
# The headline's render against the same plane before Generate: full HD, the command line's samples, CPU time
# (the load of other processes changes wall time, hardly the CPU a frame needs).
HEADLINE_RENDER_WIDTH, HEADLINE_RENDER_SAMPLES = 1920, 4


def job(working, frames):
    """Fluid on the lake's water (samples/lake) and a drift of the clouds above the mountains."""
    return {"loop_frames": frames, "working_resolution": working, "device": "cpu", "layers": [
        {"name": "water", "type": "fluid", "mask": {"rect": [0.0, 0.0, 1.0, 0.225]}, "feather": 0.01,
         "edge_tolerance": 1.0,
         "hints": [{"uv": [0.3, 0.1], "velocity": [1.2, 0.0]}, {"uv": [0.7, 0.15], "velocity": [1.0, 0.0]}]},
        {"name": "clouds", "type": "drift", "mask": {"rect": [0.0, 0.75, 1.0, 1.0]}, "feather": 0.04,
         "velocity": [0.6, 0.0]}]}


def peak_rss_mb(who=resource.RUSAGE_SELF):
    return resource.getrusage(who).ru_maxrss / 1024.0  # kilobytes on Linux


def cpu_seconds(who=resource.RUSAGE_SELF):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


# --- inside one Blender process ---

def make_painting(path, size):
    """The lake sample scaled to `size` (Blender's own scaling), saved as a JPEG once."""
    import bpy
    if os.path.isfile(path):
        return path
    image = bpy.data.images.load(os.path.join(REPO, "samples", "lake", "lake.jpg"))
    image.scale(*size)
    image.filepath_raw, image.file_format = path, "JPEG"
    image.save(quality=92)
    bpy.data.images.remove(image)
    return path


def scene_for(painting, working, frames, render_width):
    import bpy
    from imgdyn import animate, extension
    bpy.ops.wm.read_factory_settings(use_empty=True)
    extension.enable(device="cpu")
    obj = animate.import_plane(painting)
    animate.apply_job(obj, job(working, frames), REPO, grid=16)
    animate.setup_scene(obj, frames, width=render_width, samples=RENDER_SAMPLES)
    return obj


def synthetic_motion(obj, working, frames):
    """A fluid and a drift layer's lookups by age (smooth, straight paths like the engine's) at the working size
    the real Generate would use, masked like the job."""
    import numpy as np
    from imgdyn import extension
    sys.path.insert(0, os.path.join(REPO, "bench"))
    from bench_blender import synthetic_flow
    carriers = extension.extension_module("addon.carriers")
    width_px, height_px = HEADLINE_SIZE
    width = working if width_px >= height_px else round(working * width_px / height_px)
    height = round(width * height_px / width_px)
    rng = np.random.default_rng(0)
    parts = []
    for index, (label, low, high) in enumerate((("water", 0.0, 0.225), ("clouds", 0.75, 1.0))):
        lookup, period = synthetic_flow(width, height, frames, rng)
        rows = np.arange(height)[::-1] / height  # image rows top to bottom, v up
        lookup *= ((rows >= low) & (rows <= high))[None, :, None, None]
        parts.append(carriers.MotionPart(label, f"motion_strength_layer{index + 1}", lookup, period, None))
    return carriers.Motion(parts, (width, height))


def flow_map(obj, working, frames):
    """One velocity texture advected in the shader: three phases of period P (backend/loop.py's), each reading
    the painting at uv - velocity * age, mixed with sin^2 weights. Built here, in place of the image texture."""
    import bpy
    import numpy as np
    from imgdyn import extension
    loop = extension.extension_module("backend.loop")
    motion = synthetic_motion(obj, working, frames)
    width, height = motion.working_size
    velocity = sum(part.lookup[-1] - part.lookup[-2] for part in motion.parts)  # per frame, UV units
    image = bpy.data.images.new("Flow Map", width, height, alpha=True, float_buffer=True, is_data=True)
    rgba = np.zeros((height, width, 4), np.float32)
    rgba[..., :2] = velocity
    image.pixels.foreach_set(rgba[::-1].ravel())
    image.file_format = "OPEN_EXR"
    image.pack()
    period = motion.parts[0].period
    tree = obj.active_material.node_tree
    painting = next(node for node in tree.nodes if node.type == "TEX_IMAGE")
    coords = tree.nodes.new("ShaderNodeTexCoord")
    velocity_node = tree.nodes.new("ShaderNodeTexImage")
    velocity_node.image, velocity_node.interpolation = image, "Linear"
    tree.links.new(coords.outputs["UV"], velocity_node.inputs["Vector"])
    clock = tree.nodes.new("ShaderNodeValue")
    driver = clock.outputs[0].driver_add("default_value").driver
    driver.expression = "frame"

    def math_node(operation, a, b):
        made = tree.nodes.new("ShaderNodeMath")
        made.operation = operation
        for socket, value in zip(made.inputs, (a, b)):
            if isinstance(value, float):
                socket.default_value = value
            else:
                tree.links.new(value, socket)
        return made.outputs[0]

    def vector_node(operation, a, b):
        made = tree.nodes.new("ShaderNodeVectorMath")
        made.operation = operation
        for socket, value in zip(made.inputs, (a, b)):
            tree.links.new(value, socket)
        return made.outputs[0]

    mixed = None
    for index in range(loop.PHASES):
        position = math_node("FLOORED_MODULO", math_node("ADD", clock.outputs[0], index * period / loop.PHASES),
                             float(period))
        age = math_node("SUBTRACT", position, period / 2)
        sine = math_node("SINE", math_node("MULTIPLY", position, math.pi / period), 0.0)
        weight = math_node("MULTIPLY", math_node("MULTIPLY", sine, sine), 2.0 / loop.PHASES)
        scaled = tree.nodes.new("ShaderNodeVectorMath")
        scaled.operation = "SCALE"
        tree.links.new(velocity_node.outputs["Color"], scaled.inputs[0])
        tree.links.new(age, scaled.inputs["Scale"])
        where = vector_node("SUBTRACT", coords.outputs["UV"], scaled.outputs[0])
        read = tree.nodes.new("ShaderNodeTexImage")
        read.image, read.interpolation, read.extension = painting.image, "Linear", "EXTEND"
        tree.links.new(where, read.inputs["Vector"])
        weighted = tree.nodes.new("ShaderNodeVectorMath")
        weighted.operation = "SCALE"
        tree.links.new(read.outputs["Color"], weighted.inputs[0])
        tree.links.new(weight, weighted.inputs["Scale"])
        mixed = weighted.outputs[0] if mixed is None else vector_node("ADD", mixed, weighted.outputs[0])
    for link in list(painting.outputs["Color"].links):
        target = link.to_socket
        tree.links.remove(link)
        tree.links.new(mixed, target)


def render_per_frame(folder):
    from imgdyn import measure
    times = []
    for frame in RENDER_FRAMES:
        started = time.perf_counter()
        measure.render_frame(frame, folder)
        times.append(time.perf_counter() - started)
    return min(times)


def render_cpu_per_frame(folder):
    from imgdyn import measure
    times = []
    for frame in RENDER_FRAMES:
        started = cpu_seconds()
        measure.render_frame(frame, folder)
        times.append(cpu_seconds() - started)
    return min(times)


def run_one(config):
    """Make one configuration's scene, time making + saving it, and say what it cost."""
    import bpy
    from imgdyn import extension
    rss_before = peak_rss_mb()
    painting = make_painting(config["painting"], tuple(config["painting_size"]))
    obj = scene_for(painting, config["working"], config["frames"], config["render_width"])
    result = {"rss_start_mb": rss_before}
    blend = config["blend"]
    bpy.ops.wm.save_as_mainfile(filepath=blend + ".static.blend", check_existing=False)
    result["static_bytes"] = os.path.getsize(blend + ".static.blend")
    os.remove(blend + ".static.blend")
    if config.get("render_against_still"):
        bpy.context.scene.cycles.samples = HEADLINE_RENDER_SAMPLES
        with tempfile.TemporaryDirectory() as folder:
            result["still_render_cpu_seconds"] = render_cpu_per_frame(folder)
    cpu_started, started = time.process_time(), time.perf_counter()
    kind = config["kind"]
    if kind == "generate":
        done = bpy.ops.image_dynamics.generate()
        if done != {"FINISHED"}:
            raise RuntimeError(f"Generate did not finish: {done}")
    elif kind == "baked":
        carriers = extension.extension_module("addon.carriers")
        plane = extension.extension_module("addon.plane").ImagePlane(obj)
        carriers.bake(plane, obj.image_dynamics, synthetic_motion(obj, config["working"], config["frames"]), 1,
                      config["frames"], 16)
    elif kind == "flowmap":
        flow_map(obj, config["working"], config["frames"])
    bpy.ops.wm.save_as_mainfile(filepath=blend, check_existing=False)
    result["seconds"] = time.perf_counter() - started
    result["cpu_seconds"] = time.process_time() - cpu_started
    result["peak_rss_mb"] = peak_rss_mb()
    result["blend_bytes"] = os.path.getsize(blend)
    result["overhead_bytes"] = result["blend_bytes"] - result["static_bytes"]
    if kind == "generate":
        extension.extension_module("addon.service.client").stop_shared_client()  # waited for: its rusage counts
        result["backend_peak_rss_mb"] = peak_rss_mb(resource.RUSAGE_CHILDREN)
        result["backend_cpu_seconds"] = cpu_seconds(resource.RUSAGE_CHILDREN)
        settings = obj.image_dynamics
        result["working_size"] = list(settings.baked_working_size)
        result["baked_bytes"] = sum(entry.image.size[0] * entry.image.size[1] * 16
                                    for entry in settings.warp_images if entry.image is not None)
    elif kind == "baked":
        result["baked_bytes"] = sum(entry.image.size[0] * entry.image.size[1] * 16
                                    for entry in obj.image_dynamics.warp_images if entry.image is not None)
    if config.get("render"):
        with tempfile.TemporaryDirectory() as folder:
            result["render_seconds"] = render_per_frame(folder)
    if config.get("render_against_still"):
        with tempfile.TemporaryDirectory() as folder:
            result["render_cpu_seconds"] = render_cpu_per_frame(folder)
        result["render_ratio"] = result["render_cpu_seconds"] / result["still_render_cpu_seconds"]
    return result


def open_one(blend):
    """Open a saved .blend in this fresh process, without the extension (as on a machine without it)."""
    import bpy
    rss_before = peak_rss_mb()
    cpu_started, started = time.process_time(), time.perf_counter()
    bpy.ops.wm.open_mainfile(filepath=blend)
    return {"open_seconds": time.perf_counter() - started, "open_cpu_seconds": time.process_time() - cpu_started,
            "open_peak_rss_mb": peak_rss_mb(), "open_rss_start_mb": rss_before}


# --- the driver: one subprocess per configuration ---

def in_subprocess(flag, argument, timeout=1800):
    done = subprocess.run([sys.executable, os.path.abspath(__file__), flag, argument], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{flag} {argument} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def measure(folder, kind, working, frames, painting, painting_size, render_width=RENDER_WIDTH, render=True,
            against_still=False):
    blend = os.path.join(folder, f"{kind}-{working}-{frames}.blend")
    config = {"kind": kind, "working": working, "frames": frames, "painting": painting,
              "painting_size": list(painting_size), "render_width": render_width, "render": render, "blend": blend,
              "render_against_still": against_still}
    row = dict(config)
    row.update(in_subprocess("--one", json.dumps(config)))
    row.update(in_subprocess("--open", blend))
    row["load_average"] = os.getloadavg()
    os.remove(blend)
    print(f"  {kind:<9} working {working:>5} x {frames:>3} frames: {row['seconds']:7.2f} s "
          f"(cpu {row['cpu_seconds']:.1f} s), {row['overhead_bytes'] / 1e6:8.1f} MB over static, peak "
          f"{row['peak_rss_mb']:6.0f} MB, open {row['open_seconds']:.2f} s"
          + (f", render {row['render_seconds']:.2f} s" if "render_seconds" in row else "")
          + (f", render CPU {row['render_ratio']:.2f}x the still plane's" if "render_ratio" in row else ""),
          flush=True)
    return row


def slope(xs, ys):
    """The log-log slope of ys against xs (least squares)."""
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-9)) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((x - mx) ** 2 for x in lx)
    return sum((x - mx) * (y - my) for x, y in zip(lx, ly)) / den if den else float("nan")


COSTS = ("seconds", "cpu_seconds", "overhead_bytes", "peak_rss_mb", "open_seconds", "open_peak_rss_mb",
         "render_seconds")


def exponents(rows):
    """Per rival and cost: the log-log slope against working pixels (loops of AT_FRAMES) and against loop frames
    (at AT_WORKING). 0: the cost does not grow; 1: it grows in proportion."""
    found = {}
    for kind in sorted({row["kind"] for row in rows}):
        mine = [row for row in rows if row["kind"] == kind]
        for cost in COSTS:
            by_pixels = [row for row in mine if row["frames"] == AT_FRAMES and cost in row]
            by_frames = [row for row in mine if row["working"] == AT_WORKING and cost in row]
            value = (lambda row: max(row[cost], 1)) if cost == "overhead_bytes" else (lambda row: row[cost])
            if len(by_pixels) < 2 and len(by_frames) < 2:
                continue  # measured once (the static plane): nothing to fit
            found[f"{kind} {cost}"] = {
                "vs_pixels": slope([row["working"] ** 2 for row in by_pixels], [value(r) for r in by_pixels])
                if len(by_pixels) > 1 else None,
                "vs_frames": slope([row["frames"] for row in by_frames], [value(r) for r in by_frames])
                if len(by_frames) > 1 else None}
    return found


def main(out_path):
    rows, headline = [], []
    with tempfile.TemporaryDirectory(prefix="imgdyn-scale-") as folder:
        painting = os.path.join(folder, "lake_3840x2160.jpg")
        print("headline: the real Generate on a 3840x2160 painting (fluid + drift)", flush=True)
        for frames in HEADLINE_LOOPS:
            headline.append(measure(folder, "generate", HEADLINE_WORKING, frames, painting, HEADLINE_SIZE,
                                    render=False))
        print(f"render: {HEADLINE_RENDER_WIDTH} px wide, {HEADLINE_RENDER_SAMPLES} samples, against the plane "
              f"before Generate (its own run: rendering raises the peak)", flush=True)
        headline_render = measure(folder, "generate", HEADLINE_WORKING, HEADLINE_LOOPS[0], painting, HEADLINE_SIZE,
                                  render_width=HEADLINE_RENDER_WIDTH, render=False, against_still=True)
        print(f"grid: synthetic bake against a static plane and a flow map, renders {RENDER_WIDTH} px wide", flush=True)
        configs = sorted({(w, AT_FRAMES) for w in GRID_WORKING} | {(AT_WORKING, t) for t in GRID_LOOPS})
        for working, frames in configs:
            for kind in ("baked", "flowmap"):
                rows.append(measure(folder, kind, working, frames, painting, HEADLINE_SIZE))
        rows.append(measure(folder, "static", AT_WORKING, AT_FRAMES, painting, HEADLINE_SIZE))
    report = {"headline": headline, "headline_render": headline_render, "rows": rows, "exponents": exponents(rows),
              "load_average": os.getloadavg(),
              "cpu_count": os.cpu_count()}
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)


if __name__ == "__main__":
    if sys.argv[1] == "--one":
        print("RESULT " + json.dumps(run_one(json.loads(sys.argv[2]))), flush=True)
    elif sys.argv[1] == "--open":
        print("RESULT " + json.dumps(open_one(sys.argv[2])), flush=True)
    else:
        main(sys.argv[1])
