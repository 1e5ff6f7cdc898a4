"""Guides drawn in the scene become backend hints in UV space, in pixel units, and the bake obeys them."""

import math

import bpy
import numpy as np
import pytest
from helpers import LOOP

from imgdyn import extension as dev_extension, measure


def job_of(plane):
    job_module = dev_extension.extension_module("addon.request.build")
    plane_module = dev_extension.extension_module("addon.plane")
    settings = plane.image_dynamics
    return job_module.build_job(plane_module.ImagePlane(plane, settings.source_mesh), settings, LOOP, "cpu")[0]


@pytest.fixture
def layer_plane(plane):
    """The sample plane with one fluid layer that has no hints of its own."""
    layer = plane.image_dynamics.layers[0]
    layer.hints.clear()
    layer.mask_rect = (0.0, 0.0, 1.0, 1.0)
    return plane


def test_arrow_gives_position_direction_and_travel_per_loop(layer_plane):
    assert bpy.ops.image_dynamics.guide_add(kind="ARROW") == {"FINISHED"}
    arrow = layer_plane.image_dynamics.layers[0].guides[0].object
    assert arrow.parent == layer_plane and arrow.empty_display_type == "SINGLE_ARROW"
    hint = job_of(layer_plane)["layers"][0]["hints"][0]
    assert hint["uv"] == pytest.approx([0.5, 0.5], abs=1e-6)
    # a quarter of the plane's width per loop of 12 frames, on a 640-pixel-wide image, to the right
    assert hint["velocity"] == pytest.approx([0.25 * 640 / LOOP, 0.0], abs=1e-4)

    arrow.location.x += layer_plane.dimensions.x * 0.25
    arrow.rotation_euler = (-math.pi / 2, 0.0, 0.0)  # Z axis now along the plane's +y: up in the picture
    arrow.scale = (2.0, 2.0, 2.0)
    bpy.context.view_layer.update()
    hint = job_of(layer_plane)["layers"][0]["hints"][0]
    assert hint["uv"] == pytest.approx([0.75, 0.5], abs=1e-6)
    height_px = 360
    assert hint["velocity"] == pytest.approx([0.0, 2 * 0.25 * 640 / 360 * height_px / LOOP], abs=1e-4)


def test_pin_and_flow_line_become_pins_and_tangent_hints(layer_plane):
    layer = layer_plane.image_dynamics.layers[0]
    layer.speed, layer.speed_unit = 0.5, "WIDTHS_PER_LOOP"
    bpy.ops.image_dynamics.guide_add(kind="PIN")
    bpy.ops.image_dynamics.guide_add(kind="LINE")
    pin_object, line_object = (guide.object for guide in layer.guides)
    pin_object.location.y += layer_plane.dimensions.y * 0.25
    bpy.context.view_layer.update()
    spec = job_of(layer_plane)["layers"][0]
    assert spec["pins"] == [{"uv": pytest.approx([0.5, 0.75], abs=1e-6), "radius": pytest.approx(0.05)}]
    velocities = np.array([hint["velocity"] for hint in spec["hints"]])
    uvs = np.array([hint["uv"] for hint in spec["hints"]])
    assert len(spec["hints"]) >= 8
    assert np.allclose(velocities, [0.5 * 640 / LOOP, 0.0], atol=1e-3)  # along the straight line, rightwards
    assert uvs[:, 0].min() < 0.3 and uvs[:, 0].max() > 0.7 and np.allclose(uvs[:, 1], 0.5, atol=1e-4)


def test_drift_layer_sends_one_velocity(layer_plane):
    layer = layer_plane.image_dynamics.layers[0]
    layer.layer_type, layer.drift_angle, layer.speed = "DRIFT", math.radians(90), 3.0
    spec = job_of(layer_plane)["layers"][0]
    assert spec["type"] == "drift" and "hints" not in spec
    assert spec["velocity"] == pytest.approx([0.0, 3.0], abs=1e-6)


def test_layer_without_any_hint_is_refused(layer_plane):
    with pytest.raises(RuntimeError, match="has no hints: add an arrow"):
        bpy.ops.image_dynamics.generate()


def test_baked_motion_follows_the_arrow_and_stops_at_the_pin(layer_plane):
    bpy.ops.image_dynamics.guide_add(kind="ARROW")
    bpy.ops.image_dynamics.guide_add(kind="PIN")
    pin_object = layer_plane.image_dynamics.layers[0].guides[1].object
    pin_object.location.x -= layer_plane.dimensions.x * 0.3
    bpy.context.view_layer.update()
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    settings = layer_plane.image_dynamics
    lookups = measure.flow_lookups(settings)  # (2H + 1, H, W, 2) by stream age, read back from the packed bake
    height, width = lookups.shape[1:3]
    older = lookups[len(lookups) // 2 + 3, height // 2, width // 2]
    assert older[0] < 0 and abs(older[1]) < 0.2 * abs(older[0])  # looks left (upstream): moves right
    pin_x, pin_y = round(0.2 * width - 0.5), round(0.5 * height - 0.5)
    assert np.abs(lookups[:, pin_y, pin_x]).max() * 640 < 0.01

    pin_name = pin_object.name
    assert bpy.ops.image_dynamics.guide_remove(index=1) == {"FINISHED"}
    assert pin_name not in bpy.data.objects and len(settings.layers[0].guides) == 1


def subdivide(plane, cuts=3):
    import bmesh
    mesh = plane.data
    editing = bmesh.new()
    editing.from_mesh(mesh)
    bmesh.ops.subdivide_edges(editing, edges=editing.edges[:], cuts=cuts, use_grid_fill=True)
    editing.to_mesh(mesh)
    editing.free()


def test_subdivided_plane_with_a_vertex_group_mask(plane):
    """A plane subdivided after the import works, and a vertex group painted on it says where it moves."""
    subdivide(plane)
    assert len(plane.data.polygons) == 16
    lower = plane.vertex_groups.new(name="water")
    lower.add([v.index for v in plane.data.vertices if v.co.y < -0.01], 1.0, "REPLACE")
    layer = plane.image_dynamics.layers[0]
    layer.mask_source, layer.mask_vertex_group = "VERTEX_GROUP", "water"
    spec = job_of(plane)["layers"][0]
    assert spec["mask"] == {"array": "mask0"}
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    lookups = measure.flow_lookups(plane.image_dynamics)
    height = lookups.shape[1]
    motion_by_row = np.abs(lookups).max(axis=(0, 2, 3))
    assert motion_by_row[: height // 2 - 2].max() == 0.0        # the upper half (weight 0) stays still
    assert motion_by_row[round(0.71 * height)] > 0              # the river row in the lower half moves
    assert bpy.ops.image_dynamics.clear() == {"FINISHED"}
    assert len(plane.data.polygons) == 16                       # Clear gives back the subdivided plane

    layer.mask_vertex_group = "nothing"
    with pytest.raises(RuntimeError, match="has no vertex group 'nothing'"):
        bpy.ops.image_dynamics.generate()


def test_a_bent_plane_moves_on_the_texture_but_has_no_place_for_guides(plane):
    """Guides are placed through a flat plane's UV frame; a bent mesh has none, so a guide on it is refused. Without
    guides it moves like any mesh showing the painting (on the texture; its mesh stays)."""
    subdivide(plane, cuts=1)
    bpy.ops.image_dynamics.guide_add(kind="ARROW")  # placed while the plane is flat
    plane.data.vertices[4].co.z += 0.2
    with pytest.raises(RuntimeError, match="is not a flat plane whose UV map follows its shape: guides"):
        bpy.ops.image_dynamics.generate()
    plane.image_dynamics.layers[0].guides.clear()
    mesh = plane.data
    assert bpy.ops.image_dynamics.generate() == {"FINISHED"}
    assert plane.data == mesh and plane.image_dynamics.is_baked


def test_flow_line_with_two_strokes_gives_hints_along_each(layer_plane):
    bpy.ops.image_dynamics.guide_add(kind="LINE")
    curve = layer_plane.image_dynamics.layers[0].guides[0].object.data
    stroke = curve.splines.new("POLY")  # a second stroke, going up on the left
    stroke.points.add(1)
    stroke.points[0].co = (-0.6, -0.3, 0.0, 1.0)
    stroke.points[1].co = (-0.6, 0.3, 0.0, 1.0)
    bpy.context.view_layer.update()
    hints = job_of(layer_plane)["layers"][0]["hints"]
    directions = {tuple(np.sign(np.round(hint["velocity"], 6))) for hint in hints}
    assert directions == {(1.0, 0.0), (0.0, 1.0)}  # along each stroke, nothing across the gap between them
