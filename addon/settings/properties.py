"""What the user sets on an image plane: its motion layers, their masks and hints, and the loop."""

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, FloatVectorProperty, IntProperty,
                       IntVectorProperty, PointerProperty, StringProperty)

from . import layer_values


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
    """A motion layer. Besides what is written here, it has a property for every parameter declared for the layer
    types (layertypes/), added by layer_values.annotations() at registration."""
    name: StringProperty(name="Name", default="Layer")
    uid: IntProperty(default=0, description="Stable number of the layer: names its strength property")
    mute: BoolProperty(name="Mute", default=False, description="Leave this layer out of the next Generate")
    layer_type: EnumProperty(name="Type", items=layer_values.layer_type_items())  # the first: fluid
    # How a drift's velocity and a flow line's speed are given in the panel (the job has [x, y] per frame).
    speed: FloatProperty(name="Speed", default=1.0, min=0.0, soft_max=20.0,
                         description="Speed of the drift and along flow lines")
    speed_unit: EnumProperty(name="Unit", items=SPEED_UNITS, default="PX_PER_FRAME")
    drift_angle: FloatProperty(name="Direction", subtype="ANGLE", default=0.0,
                               description="Direction of the drift: 0 to the right, 90 degrees up")
    guides: CollectionProperty(type=IMAGEDYN_PG_guide)
    hints: CollectionProperty(type=IMAGEDYN_PG_hint)


IMAGEDYN_PG_layer.__annotations__.update(layer_values.annotations())


class IMAGEDYN_PG_baked_image(bpy.types.PropertyGroup):
    """A float image the warp reads: a flowing layer's lookups by stream age, a swaying layer's spectrum terms, a
    flickering layer's brightness terms, or the painting's low band."""
    image: PointerProperty(type=bpy.types.Image)
    kind: EnumProperty(items=[("AGES", "Stream ages", ""), ("SPECTRUM", "Spectrum", ""),
                              ("LIGHT", "Flicker", ""), ("SPARKLE", "Shimmer of a flow", ""),
                              ("LOW", "Low band of the painting", ""),
                              ("MOVING", "Where anything moves or changes", "")])
    terms: IntProperty(default=0)  # tiles: ages of a flow (2H), or terms of a sway or a flicker
    period: IntProperty(default=0)  # a flow's phase period in frames
    strength: StringProperty(default="")  # a flow's strength property, which drives its clock


class IMAGEDYN_PG_shown(bpy.types.PropertyGroup):
    """A material the warp was put in: the object's own, or another showing the same painting."""
    material: PointerProperty(type=bpy.types.Material)


def _carrier_changed(settings, context):
    from ..carriers import apply_carrier
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
    warp_material: PointerProperty(type=bpy.types.Material)  # the object's own material
    warp_materials: CollectionProperty(type=IMAGEDYN_PG_shown)  # every material that shows the painting
    warp_group: PointerProperty(type=bpy.types.NodeTree)
    warp_images: CollectionProperty(type=IMAGEDYN_PG_baked_image)
    source_mesh: PointerProperty(type=bpy.types.Mesh)
    shape_mesh: PointerProperty(type=bpy.types.Mesh)

    @property
    def is_baked(self):
        return self.baked_loop_frames > 0

    def loop_timing(self, scene):
        """(first frame, frames per loop): the scene's frame range unless the plane sets its own loop length."""
        return scene.frame_start, self.loop_frames or (scene.frame_end - scene.frame_start + 1)

    @property
    def has_sway(self):
        return any(entry.kind == "SPECTRUM" for entry in self.warp_images)


_classes = (IMAGEDYN_PG_hint, IMAGEDYN_PG_guide, IMAGEDYN_PG_layer, IMAGEDYN_PG_baked_image, IMAGEDYN_PG_shown,
            IMAGEDYN_PG_settings)


_register_classes, _unregister_classes = bpy.utils.register_classes_factory(_classes)


def register():
    _register_classes()
    bpy.types.Object.image_dynamics = PointerProperty(type=IMAGEDYN_PG_settings)


def unregister():
    del bpy.types.Object.image_dynamics
    _unregister_classes()
