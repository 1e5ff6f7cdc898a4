"""What Blender renders moves the way the job says: frames against the reference render of the backend's arrays,
a drift's speed measured on rendered frames, nothing moving outside the mask at a render size larger than the
motion grid, and flowing layers that flow whichever carrier is chosen."""


import bpy
import numpy as np
import pytest

from imgdyn import animate, extension, measure, quality

LEVEL = 1.0 / 255.0


def textured_png(path, width, height, seed=3):
    """Coloured noise at three scales: fine texture that hides nothing."""
    rng = np.random.default_rng(seed)
    picture = np.zeros((height, width, 3), np.float32)
    for cell, share in ((2, 0.45), (8, 0.35), (32, 0.2)):
        coarse = rng.random((height // cell + 2, width // cell + 2, 3)).astype(np.float32)
        picture += share * np.kron(coarse, np.ones((cell, cell, 1)))[:height, :width]
    image = bpy.data.images.new("texture", width, height)
    pixels = np.ones((height, width, 4), np.float32)
    pixels[..., :3] = np.clip(picture, 0, 1)
    image.pixels.foreach_set(pixels[::-1].ravel())
    image.filepath_raw, image.file_format = path, "PNG"
    image.save()
    bpy.data.images.remove(image)
    return path


def textured_plane(tmp_path, layers, loop_frames, size=(240, 136), render_width=None, working=48):
    obj = animate.import_plane(textured_png(str(tmp_path / "texture.png"), *size))
    animate.apply_job(obj, {"loop_frames": loop_frames, "working_resolution": working, "layers": layers},
                      str(tmp_path), grid=16)
    animate.setup_scene(obj, loop_frames, width=render_width or size[0], samples=1)
    bpy.context.scene.cycles.filter_width = 0.01  # one sample at each pixel's centre, as the reference reads
    return obj


def backend_result_and_bake(obj, loop_frames):
    """What Generate does, with the backend's arrays kept for the reference render."""
    module = extension.extension_module
    settings = obj.image_dynamics
    plane = module("addon.plane").ImagePlane(obj)
    job, arrays = module("addon.request.build").build_job(plane, settings, loop_frames, "cpu")
    client = module("addon.service.client").shared_client(extension.default_backend_python())
    meta, result = client.generate(job, arrays)
    strengths = [module("addon.rig").layer_strength_name(layer) for layer in settings.layers]
    motion = module("addon.carriers").check_result(meta, result, loop_frames, strengths)
    module("addon.carriers").bake(plane, settings, motion, 1, loop_frames, 16)
    return plane, meta, result


def reference_frame(plane, meta, result, frame_index, size):
    reference, loop = extension.extension_module("backend.reference"), extension.extension_module("backend.loop")
    painting = reference.Painting(*extension.extension_module("addon.plane").painting_texels(plane.image))
    low = reference.low_band(painting.linear(), loop.low_band_sigma(painting.size[0]))
    layers = []
    for info in meta["layers"]:
        prefix = info["prefix"]
        phase = 2 * np.pi * frame_index / meta["loop_frames"]
        if info["result"] == "lookup":
            layers.append({"lookups": result[f"{prefix}_lookup"], "period": info["phase_period"], "gain": 1.0,
                           "clock": frame_index, "sparkle": result.get(f"{prefix}_sparkle")})
        elif info["result"] == "flicker":
            layers.append({"flicker": result[f"{prefix}_flicker"], "cycles_per_loop": info["cycles_per_loop"],
                           "weights": info["channel_weights"], "gain": 1.0, "phase": phase})
        else:
            layers.append({"spectrum": result[f"{prefix}_spectrum"], "gain": 1.0, "phase": phase})
    return reference.linear_to_srgb(reference.render(painting, low, layers, size)[..., :3])


def test_blender_frames_match_the_reference_render(extension, tmp_path, render):
    layers = [{"name": "river", "type": "fluid", "mask": {"rect": [0.0, 0.3, 1.0, 0.7]}, "feather": 0.05,
               "hints": [{"uv": [0.3, 0.5], "velocity": [1.6, 0.4]}, {"uv": [0.7, 0.5], "velocity": [1.2, -0.3]}]},
              {"name": "clouds", "type": "drift", "mask": {"rect": [0.0, 0.7, 1.0, 1.0]}, "feather": 0.0,
               "velocity": [-1.3, 0.2]},
              {"name": "grass", "type": "oscillation", "mask": {"rect": [0.0, 0.0, 1.0, 0.35]}, "feather": 0.05,
               "amplitude": 3.0, "terms": 3}]
    obj = textured_plane(tmp_path, layers, 12)
    plane, meta, result = backend_result_and_bake(obj, 12)
    for frame in (1, 4, 9):
        blender = render(frame)
        expected = reference_frame(plane, meta, result, frame - 1, (blender.shape[1], blender.shape[0]))
        difference = np.abs(blender - expected) / LEVEL
        assert difference.mean() < 0.05 and np.percentile(difference, 99.9) < 1.0 and difference.max() < 8.0, \
            (frame, difference.mean(), np.percentile(difference, 99.9), difference.max())
    assert np.abs(render(13) - render(1)).max() < LEVEL  # frame T is frame 0


@pytest.mark.parametrize("velocity", [(1.5, 0.0), (-0.8, 1.1)])
def test_a_drift_renders_at_the_speed_asked(extension, tmp_path, render, velocity):
    """A picture larger than its render, as paintings are: 1.5 times, so the drift in render pixels is v / 1.5."""
    layers = [{"name": "clouds", "type": "drift", "mask": {"rect": [0.0, 0.0, 1.0, 1.0]}, "feather": 0.0,
               "velocity": list(velocity)}]
    textured_plane(tmp_path, layers, 24, size=(360, 204), render_width=240, working=60)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    frames = [render(frame) for frame in range(1, 14)]
    height, width = frames[0].shape[:2]
    centres = [(x, y) for x in (0.25 * width, 0.5 * width, 0.75 * width) for y in (0.3 * height, 0.7 * height)]
    measured = np.median(quality.rendered_speed(frames, centres), axis=0)  # x right, y down
    expected = np.array([velocity[0], -velocity[1]]) / 1.5
    assert np.linalg.norm(measured - expected) <= 0.1 * np.linalg.norm(expected), (measured, expected)


def test_nothing_outside_the_mask_moves_at_a_render_ten_times_the_motion_grid(extension, tmp_path, render):
    rect = [0.27, 0.33, 0.71, 0.62]
    layers = [{"name": "water", "type": "fluid", "mask": {"rect": rect}, "feather": 0.0,
               "hints": [{"uv": [0.5, 0.5], "velocity": [3.0, -1.0]}], "edge_tolerance": 10.0}]
    obj = textured_plane(tmp_path, layers, 12, size=(320, 180), working=32)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    frames = [render(frame) for frame in range(1, 13, 2)]
    still = measure.render_still(obj, 1, str(tmp_path))
    moving = measure.moving_region({"layers": layers}, str(tmp_path), still.shape[1], still.shape[0])
    assert quality.leak_levels(frames, still, moving) < 2.0
    # ... and inside it moves, but for the band one motion-grid pixel (10 render pixels) wide that keeps it contained
    assert quality.fill(frames, still, ~quality.grow(~moving, 12)) > 0.9


def test_flowing_layers_flow_on_the_texture_whatever_the_carrier(extension, tmp_path, render):
    layers = [{"name": "clouds", "type": "drift", "mask": {"rect": [0.0, 0.5, 1.0, 1.0]}, "feather": 0.0,
               "velocity": [1.5, 0.0]},
              {"name": "grass", "type": "oscillation", "mask": {"rect": [0.0, 0.0, 1.0, 0.4]}, "amplitude": 4.0,
               "terms": 2}]
    obj = textured_plane(tmp_path, layers, 12)
    settings = obj.image_dynamics
    settings.carrier = "GEOMETRY"
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    keys = obj.data.shape_keys.key_blocks
    assert {block.name.split()[1] for block in keys[1:]} == {"grass"}  # only the sway bends the mesh
    frames = [render(frame) for frame in range(1, 8)]
    height, width = frames[0].shape[:2]
    sky = quality.rendered_speed(frames, [(0.5 * width, 0.25 * height)])[0]
    assert sky[0] == pytest.approx(1.5, rel=0.1)  # the drift plays on the texture while the grid sways
    bpy.context.scene.frame_set(4)
    assert np.abs(quality_coords(obj) - quality_coords(obj, rest=True)).max() > 1e-4


def quality_coords(obj, rest=False):
    mesh = obj.data if rest else obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
    coords = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", coords)
    return coords.reshape(-1, 3)


def test_one_hint_moves_a_whole_textured_river(extension, tmp_path, render):
    """Rippled water between textured banks, the mask its band, one hint, the default edge tolerance: the render
    moves at least 90% of the river's textured pixels (its ripples do not stop the flow)."""
    width, height = 320, 180
    rng = np.random.default_rng(5)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ripples = np.sin(2 * np.pi * xs / 7 + 2 * np.sin(ys / 5)) * np.sin(2 * np.pi * ys / 9)
    grain = np.kron(rng.random((height // 3 + 1, width // 3 + 1, 3)), np.ones((3, 3, 1)))[:height, :width] - 0.5
    picture = np.where((ys > 0.3 * height)[..., None] & (ys < 0.7 * height)[..., None],
                       np.array([0.1, 0.25, 0.4]) + 0.25 * grain + 0.1 * ripples[..., None],
                       np.array([0.45, 0.6, 0.2]) + 0.3 * grain)
    image = bpy.data.images.new("river", width, height)
    pixels = np.ones((height, width, 4), np.float32)
    pixels[..., :3] = np.clip(picture, 0, 1)
    image.pixels.foreach_set(pixels[::-1].ravel())
    image.filepath_raw, image.file_format = str(tmp_path / "river.png"), "PNG"
    image.save()
    bpy.data.images.remove(image)
    layers = [{"name": "river", "type": "fluid", "mask": {"rect": [0.0, 0.3, 1.0, 0.7]}, "feather": 0.0,
               "hints": [{"uv": [0.3, 0.5], "velocity": [2.5, 0.3]}]}]
    obj = animate.import_plane(str(tmp_path / "river.png"))
    animate.apply_job(obj, {"loop_frames": 12, "working_resolution": 160, "layers": layers}, str(tmp_path), grid=16)
    animate.setup_scene(obj, 12, width=width, samples=1)
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    frames = [render(frame) for frame in range(1, 13, 3)]
    still = measure.render_still(obj, 1, str(tmp_path))
    moving = measure.moving_region({"layers": layers}, str(tmp_path), width, height)
    assert quality.fill(frames, still, ~quality.grow(~moving, 3)) >= 0.9
    assert quality.leak_levels(frames, still, moving) < 2.0
