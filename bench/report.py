"""Join the benchmark parts into out/bench/report.json, print the table, fit the scaling exponent and draw
time against pixels x frames (out/bench/scaling.png). Run with the backend environment (it has OpenCV)."""

import json
import os
import platform
import sys

import cv2
import numpy as np


def fit_exponent(rows):
    """Slope of log(seconds) against log(pixels x frames) over the integrate rows: 1 means linear."""
    work = np.log([row["width"] * row["height"] * row["frames"] for row in rows])
    seconds = np.log([row["seconds"] for row in rows])
    return float(np.polyfit(work, seconds, 1)[0])


def plot(rows, path):
    """Log-log points of integrate time against pixels x frames, one colour per loop length."""
    size, margin = 640, 60
    image = np.full((size, size, 3), 255, np.uint8)
    work = np.log10([r["width"] * r["height"] * r["frames"] for r in rows])
    seconds = np.log10([r["seconds"] for r in rows])
    lo_x, hi_x, lo_y, hi_y = work.min() - 0.2, work.max() + 0.2, seconds.min() - 0.2, seconds.max() + 0.2

    def at(x, y):
        return (int(margin + (x - lo_x) / (hi_x - lo_x) * (size - 2 * margin)),
                int(size - margin - (y - lo_y) / (hi_y - lo_y) * (size - 2 * margin)))

    cv2.rectangle(image, at(lo_x, lo_y), at(hi_x, hi_y), (0, 0, 0), 1)
    colours = {48: (200, 80, 0), 120: (0, 150, 0), 240: (0, 0, 200)}
    for row, x, y in zip(rows, work, seconds):
        cv2.circle(image, at(x, y), 6, colours.get(row["frames"], (0, 0, 0)), -1)
    slope, offset = np.polyfit(work, seconds, 1)
    cv2.line(image, at(lo_x, slope * lo_x + offset), at(hi_x, slope * hi_x + offset), (120, 120, 120), 1)
    cv2.putText(image, "integrate: log10 seconds vs log10 pixels x frames", (margin, 30),
                cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.putText(image, f"slope {slope:.2f}   blue T=48  green T=120  red T=240", (margin, size - 20),
                cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.imwrite(path, image)


def table(backend, blender):
    lines = [f"{'stage':<38} {'size':<34} {'seconds':>9} {'x floor / x plain':>18}"]
    for row in backend["rows"]:
        size = (f"{row['width']}x{row['height']}" + (f" x {row['frames']}" if row["frames"] else "")
                if row["width"] else f"{row['output_bytes'] / 1e6:.0f} MB")
        lines.append(f"{row['stage']:<38} {size:<34} {row['seconds']:>9.3f} {row['times_floor']:>17.1f}x")
    for row in blender["rows"]:
        ratio = f"{row['ratio']:>17.2f}x" if "ratio" in row else ""
        lines.append(f"{row['stage']:<38} {row['size']:<34} {row['seconds']:>9.4f} {ratio}")
    return "\n".join(lines)


def scale_table(scale):
    """The production-scale rows (bench_scale.py): the real Generate at 3840x2160, then each rival by working
    resolution and loop, and the exponents of each cost."""
    lines = [f"{'scale':<10} {'working x frames':<17} {'seconds':>8} {'cpu s':>7} {'MB over static':>14} "
             f"{'peak MB':>8} {'backend MB':>10} {'open s':>7} {'open MB':>8} {'render s':>8}"]
    for row in scale["headline"] + scale["rows"]:
        render = f"{row['render_seconds']:>8.2f}" if "render_seconds" in row else f"{'':>8}"
        backend = f"{row['backend_peak_rss_mb']:>10.0f}" if "backend_peak_rss_mb" in row else f"{'':>10}"
        cpu = row["cpu_seconds"] + row.get("backend_cpu_seconds", 0)
        lines.append(f"{row['kind']:<10} {row['working']:>5} x {row['frames']:<9} {row['seconds']:>8.2f} {cpu:>7.1f} "
                     f"{row['overhead_bytes'] / 1e6:>14.1f} {row['peak_rss_mb']:>8.0f} {backend} "
                     f"{row['open_seconds']:>7.2f} {row['open_peak_rss_mb']:>8.0f} {render}")
    shot = scale.get("headline_render")
    if shot:
        lines.append(f"render of the headline ({shot['working']} x {shot['frames']}) at {shot['render_width']} px, "
                     f"CPU per frame: {shot['render_cpu_seconds']:.1f} s against {shot['still_render_cpu_seconds']:.1f}"
                     f" s for the plane before Generate = {shot['render_ratio']:.2f}x")
    lines.append("")
    lines.append(f"{'exponent (log-log slope)':<40} {'vs working pixels':>18} {'vs loop frames':>15}")
    for name, fit in scale["exponents"].items():
        cells = [f"{fit[axis]:>+.2f}" if fit[axis] is not None else "-" for axis in ("vs_pixels", "vs_frames")]
        lines.append(f"{name:<40} {cells[0]:>18} {cells[1]:>15}")
    load = ", ".join(f"{value:.1f}" for value in scale["load_average"])
    lines.append(f"load average at the end {load} on {scale['cpu_count']} cores (cpu s: this process and the backend)")
    return "\n".join(lines)


def main(folder):
    with open(os.path.join(folder, "backend.json"), encoding="utf-8") as handle:
        backend = json.load(handle)
    with open(os.path.join(folder, "blender.json"), encoding="utf-8") as handle:
        blender = json.load(handle)
    integrate = [row for row in backend["rows"] if row["stage"] == "integrate"]
    report = {"machine": {"cpu_count": backend["cpu_count"], "processor": platform.processor() or platform.machine(),
                          "device": backend["device"], "torch": backend["torch"], "blender": blender["blender"],
                          "write_bandwidth_gb_s": backend["write_bandwidth_gb_s"]},
              "integrate_exponent": fit_exponent(integrate), "backend": backend["rows"], "blender": blender["rows"]}
    plot(integrate, os.path.join(folder, "scaling.png"))
    text = table(backend, blender)
    scale_path = os.path.join(folder, "scale.json")
    if os.path.isfile(scale_path):
        with open(scale_path, encoding="utf-8") as handle:
            scale = json.load(handle)
        report["scale"] = scale
        text += "\n\n" + scale_table(scale)
    with open(os.path.join(folder, "report.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    with open(os.path.join(folder, "table.txt"), "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    print(text)
    print(f"\nintegrate time grows as (pixels x frames)^{report['integrate_exponent']:.2f}; "
          f"device {backend['device']}, {backend['cpu_count']} cores, write bandwidth "
          f"{backend['write_bandwidth_gb_s']:.1f} GB/s")


if __name__ == "__main__":
    main(sys.argv[1])
