"""Blender's peak memory during a bake stays within twice the baked data: atlases are written into one buffer,
which goes before packing, and an atlas's float pixels go once it is packed. Runs in a fresh process, so that
the peak RSS is the bake's."""

import json
import subprocess
import sys

from imgdyn import extension

BAKE = """
import json, resource, sys
sys.path.insert(0, sys.argv[1])
import bpy
import numpy as np
from imgdyn import animate, extension

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

extension.enable(device="cpu")
obj = animate.import_plane(sys.argv[2])
bpy.ops.image_dynamics.layer_add()
bpy.ops.image_dynamics.layer_add()
carriers = extension.extension_module("addon.carriers")
plane = extension.extension_module("addon.plane").ImagePlane(obj)
width, height, ages = 1024, 576, 31  # two flowing layers, phase period 30: 2 x 283 MB of float atlases
rng = np.random.default_rng(0)
field = rng.standard_normal((height, width, 2)).astype(np.float32) * 1e-3
steps = np.arange(-(ages // 2), ages // 2 + 1, dtype=np.float32)[:, None, None, None]
parts = [carriers.MotionPart(f"layer {index}", f"motion_strength_layer{index + 1}", steps * field * (index + 1), 30,
                             None) for index in range(2)]
motion = carriers.Motion(parts, (width, height))
before = peak()
carriers.bake(plane, obj.image_dynamics, motion, 1, 30, 16)
grown = peak() - before  # before reading the atlases' sizes below, which loads their pixels again
baked = sum(entry.image.size[0] * entry.image.size[1] * 16 for entry in obj.image_dynamics.warp_images
            if entry.kind == "AGES")
print("RESULT " + json.dumps({"grown": grown, "baked": baked}))
"""


def test_a_bake_peaks_within_twice_its_data():
    done = subprocess.run([sys.executable, "-c", BAKE, extension.REPO_ROOT, extension.REPO_ROOT +
                           "/samples/river/river.png"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result["baked"] == 2 * 30 * 1024 * 576 * 16
    assert result["grown"] < 2 * result["baked"], (result["grown"] >> 20, result["baked"] >> 20)
