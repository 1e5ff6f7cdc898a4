"""The README's plot of a keyframed strength ramp: rendered speed of a drift and a fluid layer against the strength.

    .venvs/blender/bin/python tools/strength_ramp.py render out/ramp.json
    .venvs/backend/bin/python tools/strength_ramp.py plot out/ramp.json docs/images/strength_ramp.png

The first renders a textured picture with a drift (top) and a fluid layer (bottom) whose motion_strength is
keyframed 1 -> 0 over 24 frames, held at 0, then 0 -> 1 over 24 frames, and measures the shift between
consecutive frames by phase correlation; the second draws it (OpenCV, in the backend environment).
"""

import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RAMPS = ((1, 1.0), (25, 0.0), (37, 0.0), (61, 1.0))
SPEED = 2.0


def render(out_path):
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        result = _render_ramp(folder)
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


def _render_ramp(folder):
    import bpy
    import numpy as np
    sys.path.insert(0, REPO)
    from imgdyn import animate, extension, measure, quality
    sys.path.insert(0, os.path.join(REPO, "tests", "addon"))
    from test_rendered_motion import textured_png

    bpy.ops.wm.read_factory_settings(use_empty=True)
    extension.enable(device="cpu")
    obj = animate.import_plane(textured_png(os.path.join(folder, "texture.png"), 360, 204))
    layers = [{"name": "clouds", "type": "drift", "mask": {"rect": [0.0, 0.55, 1.0, 1.0]}, "feather": 0.0,
               "velocity": [SPEED, 0.0]},
              {"name": "river", "type": "fluid", "mask": {"rect": [0.0, 0.0, 1.0, 0.45]}, "feather": 0.0,
               "edge_tolerance": 10.0, "hints": [{"uv": [0.5, 0.2], "velocity": [SPEED, 0.0]}]}]
    animate.apply_job(obj, {"loop_frames": 24, "working_resolution": 60, "layers": layers}, folder, grid=16)
    animate.setup_scene(obj, 24, width=240, samples=1)
    bpy.context.scene.cycles.filter_width = 0.01
    bpy.ops.image_dynamics.generate()
    for frame, value in RAMPS:
        obj["motion_strength"] = value
        obj.keyframe_insert('["motion_strength"]', frame=frame)
    bpy.context.view_layer.update()
    frames = [measure.render_frame(frame, folder) for frame in range(1, 65)]
    height, width = frames[0].shape[:2]
    result = {"strength": [float(np.interp(f + 0.5, *zip(*RAMPS))) for f in range(1, 64)], "layers": {}}
    for name, (x, y) in (("drift", (width // 3, height // 5)), ("fluid", (2 * width // 3, 4 * height // 5))):
        window = (slice(y - 20, y + 20), slice(x - 20, x + 20))
        shifts = [quality.phase_shift(quality.grey(a)[window], quality.grey(b)[window])[0] / (SPEED / 1.5)
                  for a, b in zip(frames, frames[1:])]
        result["layers"][name] = [float(value) for value in shifts]
    return result


def plot(in_path, out_path):
    import cv2
    import numpy as np
    with open(in_path, encoding="utf-8") as handle:
        data = json.load(handle)
    width, height, margin = 720, 300, 40
    image = np.full((height, width, 3), 255, np.uint8)
    count = len(data["strength"])

    def at(index, value):
        return (int(margin + index / (count - 1) * (width - 2 * margin)),
                int(height - margin - (value + 0.1) / 1.2 * (height - 2 * margin)))

    cv2.line(image, at(0, 0), at(count - 1, 0), (200, 200, 200), 1)
    for series, colour in ((data["strength"], (60, 60, 60)), (data["layers"]["drift"], (200, 90, 0)),
                           (data["layers"]["fluid"], (0, 120, 220))):
        points = np.array([at(i, v) for i, v in enumerate(series)], np.int32)
        cv2.polylines(image, [points], False, colour, 2)
    for text, y, colour in (("strength (keyframed)", 20, (60, 60, 60)), ("drift: rendered speed / asked", 40,
                                                                         (200, 90, 0)),
                            ("fluid: rendered speed / asked", 60, (0, 120, 220))):
        cv2.putText(image, text, (width - 300, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    cv2.putText(image, "frame 1 .. 64", (margin, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                cv2.LINE_AA)
    cv2.imwrite(out_path, image)


if __name__ == "__main__":
    if sys.argv[1] == "render":
        render(sys.argv[2])
    else:
        plot(sys.argv[2], sys.argv[3])
