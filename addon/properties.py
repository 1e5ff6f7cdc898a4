"""What the user sets on an image plane: its motion layers, their masks and hints, and the loop."""

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, FloatVectorProperty, IntProperty,
                       IntVectorProperty,
                       PointerProperty, StringProperty)


class IMAGEDYN_PG_hint(bpy.types.PropertyGroup):
    uv: FloatVectorProperty(name="Position", size=2, min=0.0, max=1.0, default=(0.5, 0.5),
                            description="Where the hint sits on the image, in UV space (0,0 is bottom left)")
    velocity: FloatVectorProperty(name="Velocity", size=2, default=(1.0, 0.0), soft_min=-50.0, soft_max=50.0,
                                  description="Speed and direction of the motion, in image pixels per frame "
                                              "(x to the right, y up)")


class IMAGEDYN_PG_guide(bpy.types.PropertyGroup):
    """An object over the plane that guides a layer: an arrow, a pin or a flow line."""
    object: PointerProperty(name="Object", type=bpy.types.Object)
    kind: EnumProperty(name="Kind", items=[
        ("ARROW", "Arrow", "An empty: the picture moves along its arrow, by the arrow's length in one loop"),
        ("PIN", "Pin", "An empty: the picture does not move within its sphere"),
        ("LINE", "Flow Line", "A curve: the picture flows along it at the layer's speed")])


SPEED_UNITS = [("PX_PER_FRAME", "Pixels per Frame", "Image pixels per frame"),
               ("WIDTHS_PER_LOOP", "Image Widths per Loop", "How many image widths the motion covers in one loop")]


class IMAGEDYN_PG_layer(bpy.types.PropertyGroup):
    name: StringProperty(name="Name", default="Layer")
    uid: IntProperty(default=0, description="Stable number of the layer: names its strength property")
    mute: BoolProperty(name="Mute", default=False, description="Leave this layer out of the next Generate")
    layer_type: EnumProperty(name="Type", default="FLUID", items=[
        ("FLUID", "Fluid", "Flowing water, smoke or clouds, guided by arrows, flow lines and hints"),
        ("DRIFT", "Drift", "The whole masked region drifts one way at one speed: clouds, fog banks"),
        ("OSCILLATION", "Sway", "Swaying around a rest pose: trees, grass, flowers, flags, flames"),
        ("CLIP", "From Clip", "The motion of a reference clip (a video or a folder of images) of the real thing")])
    clip_path: StringProperty(name="Clip", subtype="FILE_PATH",
                              description="A video file, or a folder of images, showing how the thing moves")
    clip_motion: EnumProperty(name="Clip Motion", default="FLUID", items=[
        ("FLUID", "Flowing", "The clip flows (water, smoke): its optical flow drives a fluid loop"),
        ("OSCILLATION", "Swaying", "The clip sways (a tree, a flag): its spectrum drives a sway loop")])
    clip_method: EnumProperty(name="Use", default="STATS", items=[
        ("STATS", "Speed and Direction", "The clip's mean speed and direction, everywhere in the mask"),
        ("PREDICT", "Learned from Looks", "A small network learns from the clip which appearance moves how, and "
                                          "predicts the still's motion from its appearance (trains for a while)"),
        ("ALIGNED", "The Clip's Own Flow", "The still is a (painted-over) frame of the clip: use the clip's flow "
                                           "field, registered onto the still")])
    train_seconds: FloatProperty(name="Training Time", default=30.0, min=1.0, soft_max=600.0,
                                 description="Seconds to train the predictor on the clip")
    reuse_model: BoolProperty(name="Reuse Trained Model", default=True,
                              description="Use the model saved next to the .blend by an earlier Generate instead of "
                                          "training again (turn off after changing the clip)")
    amplitude: FloatProperty(name="Amplitude", default=4.0, min=0.0, soft_max=50.0,
                             description="Size of the sway, in image pixels")
    wind_angle: FloatProperty(name="Wind", subtype="ANGLE", default=0.0,
                              description="Direction of the sway: 0 to the right, 90 degrees up (an Arrow guide, "
                                          "if the layer has one, sets it instead)")
    terms: IntProperty(name="Terms", default=8, min=1, max=16,
                       description="Frequencies in the motion, whole multiples of the loop's (fewer for short loops)")
    falloff: FloatProperty(name="Calm", default=2.0, min=0.0, max=6.0,
                           description="How fast the power falls with frequency: 3 is a calm breeze, 1 is gusty")
    scale: FloatProperty(name="Scale", default=0.1, min=0.001, max=2.0, subtype="FACTOR",
                         description="Size of the parts that move together, as a fraction of the image width: "
                                     "small for leaf flutter, large for a whole tree swaying")
    seed: IntProperty(name="Seed", default=0, min=0, description="Another seed gives another variation")
    speed: FloatProperty(name="Speed", default=1.0, min=0.0, soft_max=20.0,
                         description="Speed of the drift and along flow lines")
    speed_unit: EnumProperty(name="Unit", items=SPEED_UNITS, default="PX_PER_FRAME")
    drift_angle: FloatProperty(name="Direction", subtype="ANGLE", default=0.0,
                               description="Direction of the drift: 0 to the right, 90 degrees up")
    phase_frames: IntProperty(name="Phase Period", default=0, min=0, max=100000,
                              description="Frames after which each stream of a flowing layer starts again from the "
                                          "still picture (three staggered streams hide the restarts): longer flows "
                                          "further, shorter keeps detail. Must divide the loop length; 0 picks "
                                          "about 30 frames")
    edge_tolerance: FloatProperty(name="Edge Tolerance", default=0.25, min=0.01, soft_max=3.0,
                                  description="How strong a colour edge must be to stop the flow spreading across "
                                              "it: lower keeps the flow tighter inside regions of the picture")
    guides: CollectionProperty(type=IMAGEDYN_PG_guide)
    pin_image: PointerProperty(name="Pin Image", type=bpy.types.Image,
                               description="Painted region that must not move (white is pinned)")
    pin_falloff: FloatProperty(name="Pin Falloff", default=0.05, min=0.0, max=1.0, subtype="FACTOR",
                               description="Distance over which motion fades in around pins, as a fraction of the "
                                           "image width")
    mask_source: EnumProperty(name="Mask", default="RECT", items=[
        ("RECT", "Rectangle", "A rectangle in UV space"),
        ("IMAGE", "Image", "A grey-scale image over the plane: white moves, black stays still"),
        ("VERTEX_GROUP", "Vertex Group", "Weights painted on a subdivided plane: 1 moves, 0 stays still")])
    mask_vertex_group: StringProperty(name="Vertex Group",
                                      description="Vertex group of the plane whose weights say where the layer moves")
    mask_rect: FloatVectorProperty(name="Rectangle", size=4, min=0.0, max=1.0, default=(0.0, 0.0, 1.0, 1.0),
                                   description="Moving region as (u min, v min, u max, v max) in UV space")
    mask_image: PointerProperty(name="Mask Image", type=bpy.types.Image,
                                description="Image whose brightness says where this layer moves")
    feather: FloatProperty(name="Soft Edge", default=0.02, min=0.0, max=0.5, subtype="FACTOR",
                           description="Width of the fade at the mask edge, as a fraction of the image width")
    hints: CollectionProperty(type=IMAGEDYN_PG_hint)


class IMAGEDYN_PG_baked_image(bpy.types.PropertyGroup):
    """A float image the warp reads: a flowing layer's lookups by stream age, a swaying layer's spectrum terms, or
    the painting's low band."""
    image: PointerProperty(type=bpy.types.Image)
    kind: EnumProperty(items=[("AGES", "Stream ages", ""), ("SPECTRUM", "Spectrum", ""),
                              ("LOW", "Low band of the painting", "")])
    terms: IntProperty(default=0)  # tiles: ages of a flow (2H), or terms of a sway
    period: IntProperty(default=0)  # a flow's phase period in frames
    strength: StringProperty(default="")  # a flow's strength property, which drives its clock


def _carrier_changed(settings, context):
    from .bake import apply_carrier
    apply_carrier(settings.id_data, settings)


class IMAGEDYN_PG_settings(bpy.types.PropertyGroup):
    layers: CollectionProperty(type=IMAGEDYN_PG_layer)
    active_layer: IntProperty(name="Active Layer", default=0)
    loop_frames: IntProperty(name="Loop Length", default=0, min=0, max=100000,
                             description="Frames in one loop; 0 uses the scene's frame range")
    working_resolution: IntProperty(name="Working Resolution", default=256, min=8, max=8192,
                                    description="Longest side, in pixels, of the grid the motion is computed on")
    grid_resolution: IntProperty(name="Grid Resolution", default=64, min=2, max=1024,
                                 description="Vertices along the longest side of the subdivided plane that the "
                                             "shape keys move")
    carrier: EnumProperty(name="Sway On", default="TEXTURE", update=_carrier_changed, items=[
        ("TEXTURE", "Texture", "The picture sways while the plane stays put"),
        ("GEOMETRY", "Geometry", "The subdivided plane bends with the sway")],
        description="Where swaying layers play; both rigs are baked, so switching needs no new bake. Flowing "
                    "layers (Fluid, Drift, a flowing clip) always play on the texture: a mesh cannot flow")
    # What the last bake made, so Clear and re-bake can remove exactly that.
    baked_loop_start: IntProperty(default=0)
    baked_loop_frames: IntProperty(default=0)
    baked_working_size: IntVectorProperty(size=2, default=(0, 0))
    # How the bake plays now (Re-time changes these without a new bake; baked_loop_frames stays the frame count)
    timing_start: IntProperty(default=0)
    timing_frames: IntProperty(default=0)
    baked_signature: StringProperty(default="")
    warp_material: PointerProperty(type=bpy.types.Material)
    warp_group: PointerProperty(type=bpy.types.NodeTree)
    warp_images: CollectionProperty(type=IMAGEDYN_PG_baked_image)
    source_mesh: PointerProperty(type=bpy.types.Mesh)
    shape_mesh: PointerProperty(type=bpy.types.Mesh)

    @property
    def is_baked(self):
        return self.baked_loop_frames > 0

    @property
    def has_sway(self):
        return any(entry.kind == "SPECTRUM" for entry in self.warp_images)


_classes = (IMAGEDYN_PG_hint, IMAGEDYN_PG_guide, IMAGEDYN_PG_layer, IMAGEDYN_PG_baked_image,
            IMAGEDYN_PG_settings)


def register():
    for cls in _classes:
        bpy.utils.register_class(cls)
    bpy.types.Object.image_dynamics = PointerProperty(type=IMAGEDYN_PG_settings)


def unregister():
    del bpy.types.Object.image_dynamics
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
