"""Every parameter declared for every layer type (layertypes/) reaches the backend with the value given, whichever
way it comes in: a job file through Blender's properties (the command line's --job), the panel, and --layer.

The values are made from the declarations themselves (never the defaults), so a parameter added later is covered
without an edit here, and one that a property, the panel or the request forgets fails."""

import json
import math
import os
import types

import bpy
import numpy as np
import pytest

from imgdyn import animate, extension as dev_extension
from imgdyn.layers import parse_layers
from layertypes import LAYER_TYPES, resolve_layer
from test_ui import CheckingLayout

REPO = dev_extension.REPO_ROOT
IMAGE = os.path.join(REPO, "samples", "river", "river.png")
LOOP = 24


def given_value(param, folder):
    """A value inside the parameter's range and unlike its default."""
    if param.kind == "number":
        low, high = param.low, param.soft_high or param.high
        return round(low + 0.37 * (high - low), 3)
    if param.kind == "whole":
        return 4 if param.key == "phase_frames" else min(param.high, param.low + 3)
    if param.kind == "switch":
        return not param.default
    if param.kind == "choice":
        return next(value for value, _, _ in param.choices if value != param.default)
    if param.kind == "path":
        path = os.path.join(folder, f"given_{param.key}{param.suffix or '.mp4'}")
        if not param.suffix:
            open(path, "wb").close()  # a clip the add-on can find (the backend is not asked here)
        return os.path.basename(path)
    if param.kind == "mask":
        if param.required:
            return {"rect": [0.1, 0.2, 0.7, 0.9]}
        path = os.path.join(folder, f"given_{param.key}.png")
        image = bpy.data.images.new("given", 8, 8)
        image.pixels.foreach_set(np.ones(8 * 8 * 4, np.float32))
        image.filepath_raw, image.file_format = path, "PNG"
        image.save()
        bpy.data.images.remove(image)
        return {"image": os.path.basename(path)}
    if param.kind == "pins":
        return [{"uv": [0.3, 0.6], "radius": 0.05}]
    if param.kind == "hints":
        return [{"uv": [0.2, 0.3], "velocity": [2.0, -0.5]}, {"uv": [0.8, 0.3], "velocity": [1.5, 0.25]}]
    if param.kind == "velocity":
        return [1.5, -0.5]
    if param.kind == "color":
        return [0.2, 0.6, 0.9]
    assert param.kind == "array", f"no value made for the kind {param.kind}: add one here"
    return None  # protocol only


def given_layers(folder):
    layers = []
    for name, declared in LAYER_TYPES.items():
        layer = {"name": f"every {name}", "type": name}
        for param in (param for param in declared.params if not param.old):  # (old keys: old job files only)
            value = given_value(param, folder)
            if value is not None:
                layer[param.key] = value
        layers.append(layer)
    return layers


def close(sent, expected, where):
    """Blender stores floats in single precision and angles in radians: equal within that."""
    if isinstance(expected, dict):
        assert isinstance(sent, dict) and sent.keys() == expected.keys(), f"{where}: {sent} != {expected}"
        for key in expected:
            close(sent[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(sent, list) and len(sent) == len(expected), f"{where}: {sent} != {expected}"
        for index, (a, b) in enumerate(zip(sent, expected)):
            close(a, b, f"{where}[{index}]")
    elif isinstance(expected, float):
        assert math.isclose(sent, expected, rel_tol=1e-5, abs_tol=1e-4), f"{where}: sent {sent}, given {expected}"
    else:
        assert sent == expected, f"{where}: sent {sent!r}, given {expected!r}"


@pytest.fixture
def job_file(tmp_path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    dev_extension.enable(device="cpu")
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))  # a trained model goes next to it
    job = {"loop_frames": LOOP, "working_resolution": 32, "layers": given_layers(str(tmp_path))}
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def test_a_job_file_reaches_the_backend_through_blender_unchanged(job_file):
    folder = str(job_file.parent)
    job, base = animate.build_job(types.SimpleNamespace(job=str(job_file), frames=None, working_resolution=None,
                                                        device=None))
    obj = animate.import_plane(IMAGE)
    animate.apply_job(obj, job, base, grid=8)
    plane = dev_extension.extension_module("addon.plane").ImagePlane(obj)
    build = dev_extension.extension_module("addon.request.build")
    request, arrays = build.build_job(plane, obj.image_dynamics, LOOP, "cpu")

    with open(job_file, encoding="utf-8") as handle:
        given = json.load(handle)["layers"]
    assert [layer["type"] for layer in request["layers"]] == list(LAYER_TYPES)
    for sent, written in zip(request["layers"], given):
        declared = LAYER_TYPES[written["type"]]
        paths = {param.key for param in declared.params if param.kind == "path"}
        expected = resolve_layer({key: os.path.join(folder, value) if key in paths else value
                                  for key, value in written.items()})
        sent_resolved = resolve_layer(sent)
        current = set(expected) - {param.key for param in declared.params if param.old}
        assert set(sent) == current, f"{written['type']}: the request has {sorted(sent)}"
        for key, value in expected.items():
            if isinstance(value, dict) and "image" in value:  # a file becomes an array that travels with it
                assert "array" in sent_resolved[key]
                assert arrays[sent_resolved[key]["array"]].min() > 0.99
                continue
            close(sent_resolved[key], value, f"{written['type']}.{key}")
    # the two the issue named
    sent = {layer["type"]: layer for layer in request["layers"]}
    written = {layer["type"]: layer for layer in given}
    assert sent["oscillation"]["sway_across"] == pytest.approx(written["oscillation"]["sway_across"], rel=1e-5)
    assert sent["clip"]["model"] == os.path.join(folder, written["clip"]["model"])


def test_every_declared_parameter_is_on_the_panel(job_file):
    job, base = animate.build_job(types.SimpleNamespace(job=str(job_file), frames=None, working_resolution=None,
                                                        device=None))
    obj = animate.import_plane(IMAGE)
    animate.apply_job(obj, job, base, grid=8)
    settings = obj.image_dynamics
    panel = dev_extension.extension_module("addon.ui.panels").IMAGEDYN_PT_main
    for layer, declared in zip(settings.layers, LAYER_TYPES.values()):
        drawn = set()
        for switch in [None] + [p for p in declared.params if p.kind == "choice"]:
            for value in ([None] if switch is None else [c[0] for c in switch.choices]):
                if switch is not None:
                    setattr(layer, switch.prop, value.upper())
                log = []
                panel.draw_layer(CheckingLayout(log), layer, obj)
                drawn |= {name for kind, name in log if kind == "prop"}
        for param in declared.params:
            if param.kind == "mask":
                assert f"{param.prop}_source" in drawn, f"{declared.name}: {param.key} is not on the panel"
            elif param.kind == "velocity":
                assert {"speed", "drift_angle"} <= drawn
            elif param.kind == "hints":
                assert "speed" in drawn  # with the hint list and the flow-line guides
            elif param.kind not in ("pins", "array") and not param.old:
                assert param.prop in drawn, f"{declared.name}: {param.key} is not on the panel"


def test_every_declared_parameter_is_a_layer_option(tmp_path):
    for name, declared in LAYER_TYPES.items():
        tokens, expected = [name], {}
        for param in (param for param in declared.params if not param.old):
            value = given_value(param, str(tmp_path))
            if param.kind in ("pins", "hints", "array") or value is None:
                continue
            if param.kind == "mask":
                text = ",".join(map(str, value["rect"])) if "rect" in value else value["image"]
                tokens.append(f"rect={text}" if "rect" in value else f"{param.key}={text}")
            elif param.kind in ("velocity", "color"):
                tokens.append(f"{param.key}={','.join(map(str, value))}")
            else:
                tokens.append(f"{param.key}={str(value).lower() if param.kind == 'switch' else value}")
            expected[param.key] = value
        if any(param.kind == "hints" for param in declared.params):
            tokens.append("hint=0.5,0.5,1,0")
        layer = parse_layers([tokens])[0]
        for key, value in expected.items():
            assert layer[key] == value, f"--layer {name} {key}"
