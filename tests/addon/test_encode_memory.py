"""The command line's MP4 encode holds a few frames at a time, whatever the loop's length: Blender's sequencer
would otherwise keep every frame it read (up to 4 GB). Each encode runs in a fresh process, so its peak RSS is
its own."""

import json
import os
import subprocess
import sys

from imgdyn import extension

WIDTH, HEIGHT = 640, 360
FRAME_BYTES = WIDTH * HEIGHT * 4 * 4  # a 16-bit frame as the sequencer holds it: float RGBA

ENCODE = """
import json, os, resource, sys
sys.path.insert(0, sys.argv[1])
import bpy
import numpy as np
from imgdyn import outputs
folder, count = sys.argv[2], int(sys.argv[3])
image = bpy.data.images.new("frame", {width}, {height}, float_buffer=True)
settings = bpy.context.scene.render.image_settings
settings.file_format, settings.color_mode, settings.color_depth = "PNG", "RGB", "16"
ramp = np.linspace(0.0, 1.0, {width}, dtype=np.float32)
paths = []
for index in range(count):  # a bar moving across a ramp: frames the encoder cannot reduce to nothing
    pixels = np.ones(({height}, {width}, 4), np.float32)
    pixels[..., :3] = np.roll(ramp, 9 * index)[None, :, None]
    pixels[:, 5 * index % {width}:5 * index % {width} + 20, :3] = 0.0
    image.pixels.foreach_set(pixels.ravel())
    paths.append(os.path.join(folder, f"frame_{{index:04d}}.png"))
    image.save_render(paths[-1])
bpy.data.images.remove(image)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
outputs.encode_mp4(paths, 24, os.path.join(folder, "loop.mp4"))
print("RESULT " + json.dumps({{"grown": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before,
                               "size": os.path.getsize(os.path.join(folder, "loop.mp4"))}}))
""".format(width=WIDTH, height=HEIGHT)


def encode_peak(folder, count):
    os.makedirs(folder)
    done = subprocess.run([sys.executable, "-c", ENCODE, extension.REPO_ROOT, folder, str(count)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result["size"] > 2000  # a real video came out
    return result["grown"]


def test_the_mp4_encode_does_not_grow_with_the_frames(tmp_path):
    short, long = encode_peak(str(tmp_path / "short"), 12), encode_peak(str(tmp_path / "long"), 60)
    # 48 more frames: a cache of them would add 48 frames' worth (35 MB); a streaming encode adds next to nothing
    assert long - short < 12 * FRAME_BYTES, (short >> 20, long >> 20)
