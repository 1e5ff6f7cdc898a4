"""A baked .blend on a render farm: a machine with neither the extension nor the backend, a clean Blender user
folder, Python auto-run off, another folder, the whole frame range rendered at once as `blender -b file.blend -a`
does. Every carrier and layer kind is in the file: a flow with shimmer, a drift, a sway on the shape keys, a
flicker, and an eased-in motion strength."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np

from imgdyn import measure
from imgdyn.extension import REPO_ROOT

SAMPLE = os.path.join(REPO_ROOT, "samples", "river", "river.png")
FRAMES = 8
LAYERS = ("--layer", "fluid", "rect=0,0.2,1,0.38", "hint=0.5,0.3,3,0", "shimmer=0.8",
          "--layer", "drift", "rect=0,0.62,1,1", "speed=2",
          "--layer", "sway", "rect=0.6,0.4,1,0.6", "amplitude=2", "terms=2",
          "--layer", "flicker", "rect=0.1,0.4,0.5,0.6", "amount=0.4", "rate=6")

# Runs in a bare Blender Python: no repository on the path, no add-on, nothing of ours importable.
FARM = """
import json, sys
import bpy
bpy.context.preferences.filepaths.use_scripts_auto_execute = False
bpy.ops.wm.open_mainfile(filepath=sys.argv[1], load_ui=False)
scene = bpy.context.scene
scene.render.filepath = "//farm/frame_####"
settings = scene.render.image_settings
settings.media_type, settings.file_format, settings.color_mode, settings.color_depth = "IMAGE", "PNG", "RGB", "16"
bpy.ops.render.render(animation=True)
drivers = [fcurve.driver for block in (*bpy.data.node_groups, *bpy.data.shape_keys, *bpy.data.objects)
           if block.animation_data for fcurve in block.animation_data.drivers]
print(json.dumps({
    "ours": sorted(name for name in (*sys.modules, *bpy.context.preferences.addons.keys())
                   if "image_dynamics" in name or name.split(".")[0] in ("imgdyn", "addon", "backend", "layertypes")),
    "drivers": len(drivers),
    "invalid": sum(not driver.is_valid for driver in drivers),
    "python_expressions": sum(not driver.is_simple_expression for driver in drivers),
    "missing_files": [image.name for image in bpy.data.images if image.source == "FILE" and not image.packed_file],
}))
"""


def test_a_baked_file_renders_on_a_farm_as_it_did_at_the_desk(tmp_path):
    desk = tmp_path / "desk"
    done = subprocess.run([sys.executable, "-m", "imgdyn", "animate", SAMPLE, "--frames", str(FRAMES),
                           "--working-resolution", "64", *LAYERS, "--strength", "1:0.3,5:1", "--out", str(desk),
                           "--name", "shot", "--width", "96", "--samples", "1", "--grid", "12", "--formats", "png"],
                          cwd=REPO_ROOT, env=dict(os.environ, PYTHONPATH=REPO_ROOT), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((desk / "report.json").read_text())
    assert report["shape_keys"] == 4  # the sway went to the geometry: both carriers are in the file
    packed = report["packed_mb"]
    assert packed["painting"] > 0 and packed["motion"] > 0

    # The farm: another folder, only the .blend; a Blender user folder with no extension in it; no backend.
    farm = tmp_path / "farm_machine"
    farm.mkdir()
    shutil.copy(desk / "shot.blend", farm / "shot.blend")
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "IMAGE_DYNAMICS_BACKEND_PYTHON")}
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "fresh_user")
    rendered = subprocess.run([sys.executable, "-c", FARM, str(farm / "shot.blend")], cwd=str(farm), env=env,
                              capture_output=True, text=True, timeout=900)
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    found = json.loads(rendered.stdout.strip().splitlines()[-1])
    assert found["ours"] == [] and found["missing_files"] == []
    assert found["drivers"] > 0 and found["invalid"] == 0 and found["python_expressions"] == 0

    moved = 0.0
    for frame in range(1, FRAMES + 1):
        at_desk = measure.read_image(str(desk / "frames" / f"frame_{frame:04d}.png"))
        on_farm = measure.read_image(str(farm / "farm" / f"frame_{frame:04d}.png"))
        assert np.abs(on_farm - at_desk).max() < 1 / 255, f"frame {frame} differs on the farm"
        moved = max(moved, float(np.abs(at_desk - measure.read_image(str(desk / "frames" / "frame_0001.png"))).max()))
    assert moved > 0.05  # the frames compared are moving ones
