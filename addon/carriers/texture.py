"""Texture warp: a node group takes the place of the plane's image texture and shows the moving picture.

The group reads the painting several times and mixes the COLOURS of those reads (never their offsets: mixing
the offsets of a flowing layer cancels its motion). Per flowing layer, an atlas image holds its lookups by stream
age (tile k: RG the age k - H, BA the age k - H + 1, so one read gives both whole ages around a fractional one);
a driven Clock reads the layer's baked clock (addon/clock.py), math nodes turn it into each stream's age and
weight, and the streams are mixed as backend/loop.py defines (two bands, variance preserving, in gamma 2.2), with
the painting's low band baked as a small image.
Swaying layers: one atlas tile per Fourier term, RG = -Re S_k and BA = Im S_k, summed with weights cos and sin of
the frame's phase, offset every read of the painting. Drivers read each layer's strength and motion_strength from
the object the layers were set on (the owner). Images are packed and every driver is a simple expression: it
renders in Cycles and Eevee without Python and without the extension.

The group reads whatever fed the Image Texture's Vector (any UV map, one a UV Project modifier writes, a Texture
Coordinate's Window output; nothing linked = the render UV map) as the painting's UV and offsets it. The same
group goes into every material that shows the painting (cards cut from one painting, a projected matte), so one
bake moves them all alike and the owner's strengths drive them all: the water on two cards must stay one water.

The group is rendered only where something moves (`_branch`): a copy of the material's shader shows the still
picture, and a Mix Shader picks it by the group's Moving map, so Cycles skips the group wherever the map is 0.
"""

import math

import bpy
import numpy as np

from ...backend import loop, reference
from ..animation import add_driver, remove_animation
from .clocks import clock_name
from ..plane import PlaneError, painting_texels
from ..rig import STRENGTH, pluck_variables, sway_expression, term_expression

MAX_ATLAS_SIDE = 16384
MAX_PACKED_BYTES = (1 << 31) - (1 << 24)  # a packed image over 2 GiB crashes Blender's save (its size overflows)
NODE_NAME = "ImageDynamics Warp"
UV_NODE_NAME = "ImageDynamics UV"
SWAY_SWITCH = "Sway On Texture"
# Below this strength a flowing layer fades to the still picture (above it, strength is only speed).
STILL_BELOW = 0.1
IMAGE_NODE_KEY = "imgdyn_image_node"
TERMS = "imgdyn_terms"  # on the group: the sway terms k whose drivers Re-time updates
LIGHT_TERMS = "imgdyn_light_terms"  # ... and the flicker terms (no pluck in them)
LIGHT_WEIGHTS = "imgdyn_light_weights"
LIGHT = "Light "
MOVING = "Moving"  # the group's output: 1 where anything moves, 0 where the frame is the still (see _branch)
MIX_NAME = "ImageDynamics Still Or Moving"
STILL_KEY = "imgdyn_still_branch"  # on the nodes _branch copied, so Clear finds them


def atlas_layout(tiles, width, height):
    """Columns and rows of tiles, chosen so that the atlas is roughly square."""
    columns = max(1, math.ceil(math.sqrt(tiles * height / width)))
    return columns, math.ceil(tiles / columns)


def atlas_buffer(count, columns, rows, width, height, write_tile):
    """One contiguous float32 (rows*H, columns*W, 4) atlas in Blender's pixel order (bottom row first), filled
    tile by tile, tile k at column k % columns and row k // columns counted from the bottom: `write_tile(k, out)`
    writes tile k, rows top to bottom, into the (H, W, 4) view `out`. No other copy of the atlas is made (a
    bake's atlases are the largest arrays Blender holds)."""
    pixels = np.zeros((rows * height, columns * width, 4), np.float32)
    for k in range(count):
        row, column = divmod(k, columns)
        # Blender's rows run bottom to top: the tile's view, flipped, takes image rows top to bottom
        write_tile(k, pixels[row * height:(row + 1) * height, column * width:(column + 1) * width][::-1])
    return pixels


def write_each_tile(tiles):
    """`write_tile` of an atlas from (N, h, w, 4) tiles, rows top to bottom."""
    def write(k, out):
        out[...] = tiles[k]
    return write


def write_age_tile(lookups):
    """`write_tile` of the age atlas from (2H + 1, h, w, 2) lookups by age: tile k holds the ages k - H and
    k - H + 1 (2H tiles), written straight into the atlas."""
    def write(k, out):
        out[..., :2] = lookups[k]
        out[..., 2:] = lookups[k + 1]
    return write


def light_tiles(flicker):
    """(K, h, w, 2) Re, Im of a flicker's terms -> (ceil(K / 2), h, w, 4) tiles: terms 2j and 2j + 1 as (Re, -Im)
    each, so that a dot product with (cos, sin) gives the term's Re(F exp(i w t))."""
    pairs = np.concatenate([flicker * np.array([1.0, -1.0], np.float32),
                            np.zeros((len(flicker) % 2,) + flicker.shape[1:], np.float32)])
    return pairs.reshape(-1, 2, *flicker.shape[1:]).transpose(0, 2, 3, 1, 4).reshape(
        len(pairs) // 2, *flicker.shape[1:3], 4)


def clock_node_name(layer_index):
    return f"Clock {layer_index}"


def build(plane, settings, motion, timing, grid_resolution):
    """(images, node group) for a bake: per layer an atlas, and the painting's low band when a layer flows;
    nothing in the scene uses them yet. `images` are (image, kind, count, period, strength) for the settings'
    record."""
    obj = plane.obj
    width, height = motion.working_size
    images = []
    low_band = None
    if motion.flowing():  # before the atlases, so that its float copies of a large painting do not add to them
        painting = reference.Painting(*painting_texels(plane.image))
        low_band = reference.low_band(painting.linear(), loop.low_band_sigma(plane.image.size[0]))
        del painting
    try:
        for part in motion.parts:
            if part.lookup is not None:
                image = _atlas_image(f"ImageDynamics Flow ({obj.name}, {part.label})", len(part.lookup) - 1,
                                     width, height, write_age_tile(part.lookup))
                images.append((image, "AGES", len(part.lookup) - 1, part.period, part.strength))
            elif part.flicker is not None:
                image = _atlas_image(f"ImageDynamics Flicker ({obj.name}, {part.label})",
                                     light_tiles(part.flicker), width, height)
                image[LIGHT_TERMS], image[LIGHT_WEIGHTS] = part.terms, part.weights  # for read-back
                images.append((image, "LIGHT", len(part.flicker), 0, ""))
            else:
                tiles = np.concatenate([-part.spectrum[..., :2], part.spectrum[..., 2:]], axis=-1)
                image = _atlas_image(f"ImageDynamics Sway ({obj.name}, {part.label})", tiles, width, height)
                images.append((image, "SPECTRUM", len(part.spectrum), 0, ""))
        sparkles = {}
        for part in motion.flowing():
            if part.sparkle is not None:  # after the layers' own images: images[i] is part i's
                image = _data_image(f"ImageDynamics Shimmer ({obj.name}, {part.label})",
                                    np.concatenate([part.sparkle, np.zeros_like(part.sparkle[..., :1])], axis=-1))
                images.append((image, "SPARKLE", 0, 0, ""))
                sparkles[id(part)] = image
        low = None
        if low_band is not None:
            low = _data_image(f"ImageDynamics Low Band ({obj.name})", low_band)
            images.append((low, "LOW", 0, 0, ""))
        moving = _data_image(f"ImageDynamics Moving ({obj.name})", motion.moving_texels()[..., None])
        images.append((moving, "MOVING", 0, 0, ""))
        group = _warp_group(obj, plane, motion, [entry[0] for entry in images], low, timing, sparkles, moving)
    except BaseException:
        for image, *_ in images:
            bpy.data.images.remove(image)
        raise
    return images, group


def install(plane, settings, staged):
    images, group = staged
    settings.warp_materials.clear()
    for material, image_node in plane.showings:  # the object's own material first
        _insert_group(material, image_node, group)
        settings.warp_materials.add().material = material
    settings.warp_material, settings.warp_group = plane.material, group
    settings.warp_images.clear()
    for image, kind, count, period, strength in images:
        entry = settings.warp_images.add()
        entry.image, entry.kind, entry.terms, entry.period, entry.strength = image, kind, count, period, strength


def discard(staged):
    """Remove what `build` made, before or after it was installed."""
    images, group = staged
    if group is not None:
        remove_animation(group)
        bpy.data.node_groups.remove(group)
    for image, *_ in images:
        if image is not None:
            bpy.data.images.remove(image)


def remove(obj, settings):
    for material in {settings.warp_material} | {entry.material for entry in settings.warp_materials}:
        if material is not None and material.node_tree is not None:
            _remove_group_node(material.node_tree)
    images = [(entry.image,) for entry in settings.warp_images]
    group = settings.warp_group
    settings.warp_images.clear()
    settings.warp_materials.clear()
    settings.warp_material = settings.warp_group = None
    discard((images, group))


def retime(settings, loop_start, loop_frames):
    """Point the sway terms' drivers at a loop of `loop_frames` frames from `loop_start`, by the terms the bake
    recorded on the group; the flowing layers' clocks are F-curves (addon/carriers/clocks.py)."""
    group = settings.warp_group
    if group is None or group.animation_data is None:
        return
    for k in group.get(TERMS, ()):
        for part in ("cos", "sin"):
            path = f'nodes["{term_node_name(part, k)}"].outputs[0].default_value'
            group.animation_data.drivers.find(path).driver.expression = sway_expression(part, k, loop_start,
                                                                                         loop_frames)
    for k in group.get(LIGHT_TERMS, ()):
        for part in ("cos", "sin"):
            path = f'nodes["{term_node_name(part, k, LIGHT)}"].outputs[0].default_value'
            group.animation_data.drivers.find(path).driver.expression = term_expression(part, k, loop_start,
                                                                                         loop_frames)


def show(settings, sway_here):
    """Swaying layers play here when `sway_here`, else on the geometry; flowing layers always play here."""
    switch = settings.warp_group.nodes.get(SWAY_SWITCH) if settings.warp_group is not None else None
    if switch is not None:
        switch.outputs[0].default_value = float(sway_here)


def term_node_name(part, k, of=""):
    return f"{of}{part.capitalize()} {k}"


def atlas_problem(tiles, width, height):
    """Why `tiles` tiles of width x height cannot be one packed float atlas (None when they can): Blender's save
    crashes on a packed image over 2 GiB, and GPUs take textures of at most 16384 on a side."""
    columns, rows = atlas_layout(tiles, width, height)
    if columns * width > MAX_ATLAS_SIDE or rows * height > MAX_ATLAS_SIDE:
        return (f"{tiles} tiles at {width}x{height} would be a {columns * width}x{rows * height} texture, over the "
                f"{MAX_ATLAS_SIDE} a side GPUs take")
    if columns * width * rows * height * 16 > MAX_PACKED_BYTES:  # float RGBA, packed into the .blend
        return (f"{tiles} tiles at {width}x{height} would be a {columns * width * rows * height * 16 / 1024 ** 3:.1f} "
                f"GiB image, and Blender cannot save a packed image over 2 GiB")
    return None


def _atlas_image(name, tiles, width, height, write_tile=None):
    """A packed atlas of `tiles` (an (N, H, W, 4) array, rows top to bottom) or of a count of tiles that
    `write_tile(k, out)` writes."""
    if write_tile is None:
        tiles, write_tile = len(tiles), write_each_tile(tiles)
    problem = atlas_problem(tiles, width, height)
    if problem:
        raise PlaneError(f"{problem}: lower the working resolution or the phase period")
    columns, rows = atlas_layout(tiles, width, height)
    pixels = atlas_buffer(tiles, columns, rows, width, height, write_tile)
    image = _float_image(name, pixels)
    del pixels  # Blender holds its own copy now: gone before packing makes another
    image.pack()
    # The packed EXR (lossless) is the atlas now: Blender reads it back when the atlas is used, as it does in an
    # opened .blend, so a bake does not hold every atlas twice.
    image.buffers_free()
    return image


def _data_image(name, pixels):
    """A packed float image of (H, W, 3 or 4) data, rows top to bottom; never colour managed."""
    height, width = pixels.shape[:2]
    rgba = np.ones((height, width, 4), np.float32)
    rgba[::-1, :, :pixels.shape[2]] = pixels  # Blender's rows run bottom to top
    image = _float_image(name, rgba)
    image.pack()
    return image


def _float_image(name, rgba):
    """A float image (to be packed) of a contiguous float32 (H, W, 4) buffer in Blender's pixel order (bottom row
    first), set in one call without another copy; never colour managed."""
    height, width = rgba.shape[:2]
    image = bpy.data.images.new(name, width, height, alpha=True, float_buffer=True, is_data=True)
    image.alpha_mode = "CHANNEL_PACKED"  # alpha is data here, never premultiplied into RGB
    image.pixels.foreach_set(rgba.reshape(-1))
    image.file_format = "OPEN_EXR"
    return image


class _GroupBuilder:
    """Small helpers to lay out a shader node group."""

    def __init__(self, group, owner=None):
        self.group, self.nodes, self.links = group, group.nodes, group.links
        self.owner = owner  # the object whose properties drive the group

    def node(self, kind, x, y, **settings):
        made = self.nodes.new(kind)
        made.location = (x, y)
        for key, value in settings.items():
            setattr(made, key, value)
        return made

    def _wire(self, made, values):
        for socket, value in zip(made.inputs, values):
            if isinstance(value, (tuple, float, int)):
                socket.default_value = value
            elif value is not None:
                self.links.new(value, socket)
        # The first output this operation uses (a dot product's is "Value": a link from an unused socket is dead)
        return next(output for output in made.outputs if output.enabled)

    def vector_math(self, operation, a, b, x, y):
        return self._wire(self.node("ShaderNodeVectorMath", x, y, operation=operation), (a, b))

    def math(self, operation, a, b, x, y):
        return self._wire(self.node("ShaderNodeMath", x, y, operation=operation), (a, b))

    def scale(self, vector, factor, x, y):
        made = self.node("ShaderNodeVectorMath", x, y, operation="SCALE")
        self.links.new(vector, made.inputs[0])
        if isinstance(factor, float):
            made.inputs["Scale"].default_value = factor
        else:
            self.links.new(factor, made.inputs["Scale"])
        return made.outputs[0]

    def mix(self, a, b, factor, x, y):
        """a + factor * (b - a), for vectors."""
        return self.vector_math("ADD", a, self.scale(self.vector_math("SUBTRACT", b, a, x, y), factor, x + 150, y),
                                x + 300, y)

    def driven_value(self, label, expression, x, y, variables=()):
        made = self.node("ShaderNodeValue", x, y, name=label, label=label)
        add_driver(self.group, f'nodes["{label}"].outputs[0].default_value', expression, variables)
        return made.outputs[0]

    def splat(self, value, x, y):
        """(value, value, value)."""
        made = self.node("ShaderNodeCombineXYZ", x, y)
        for socket in made.inputs:
            self.links.new(value, socket)
        return made.outputs[0]

    def combine(self, a, b, x, y):
        made = self.node("ShaderNodeCombineXYZ", x, y)
        self.links.new(a, made.inputs[0])
        self.links.new(b, made.inputs[1])
        return made.outputs[0]

    def texture(self, image, vector, x, y, like=None):
        """An Image Texture read at `vector`: (Color, Alpha). `like` copies the user's sampling settings."""
        made = self.node("ShaderNodeTexImage", x, y, image=image, interpolation="Linear", extension="EXTEND")
        if like is not None:
            made.interpolation, made.extension = like.interpolation, like.extension
        self.links.new(vector, made.inputs["Vector"])
        return made.outputs["Color"], made.outputs["Alpha"]

    def tile_sample(self, image, clamped_uv, offset, columns, rows, x, y):
        """The atlas texel at the clamped UV of one tile: (RG as a vector, BA as a vector). `offset` is the
        tile's (column, row, 0), a constant tuple or a vector socket."""
        shifted = self.vector_math("ADD", clamped_uv, offset, x + 150, y)
        atlas_uv = self.vector_math("DIVIDE", shifted, (float(columns), float(rows), 1.0), x + 300, y)
        color, alpha = self.texture(image, atlas_uv, x + 450, y)
        rg = self.vector_math("MULTIPLY", color, (1.0, 1.0, 0.0), x + 700, y + 60)
        channels = self.node("ShaderNodeSeparateColor", x + 700, y - 60)
        self.links.new(color, channels.inputs[0])
        ba = self.combine(channels.outputs[2], alpha, x + 850, y - 60)
        return rg, ba

    def gamma(self, color, value, x, y):
        made = self.node("ShaderNodeGamma", x, y)
        self.links.new(color, made.inputs["Color"])
        made.inputs["Gamma"].default_value = value
        return made.outputs[0]


def _warp_group(obj, plane, motion, images, low, timing, sparkles, moving):
    loop_start, loop_frames = timing
    group = bpy.data.node_groups.new(f"ImageDynamics Warp ({obj.name})", "ShaderNodeTree")
    group.interface.new_socket("UV", in_out="INPUT", socket_type="NodeSocketVector")
    group.interface.new_socket("Color", in_out="OUTPUT", socket_type="NodeSocketColor")
    group.interface.new_socket("Alpha", in_out="OUTPUT", socket_type="NodeSocketFloat")
    group.interface.new_socket(MOVING, in_out="OUTPUT", socket_type="NodeSocketFloat")
    build = _GroupBuilder(group, obj)
    width, height = motion.working_size
    group_in = build.node("NodeGroupInput", -2400, 0)
    uv = group_in.outputs["UV"]
    split = build.node("ShaderNodeSeparateXYZ", -2200, 0)
    build.links.new(uv, split.inputs[0])
    # Keep the lookup half a texel inside its tile, so bilinear filtering never reads the neighbouring tile.
    clamped = []
    for axis, size, y in ((0, width, 0), (1, height, -150)):
        clamp = build.node("ShaderNodeClamp", -2000, y)
        build.links.new(split.outputs[axis], clamp.inputs["Value"])
        clamp.inputs["Min"].default_value = 0.5 / size
        clamp.inputs["Max"].default_value = 1.0 - 0.5 / size
        clamped.append(clamp.outputs[0])
    clamped_uv = build.combine(clamped[0], clamped[1], -1850, 0)
    strength = _owner_value(build, STRENGTH, -1850, 600)

    # Swaying layers offset every read of the painting.
    base_uv = uv
    swaying = [(part, image) for part, image in zip(motion.parts, images) if part.spectrum is not None]
    if swaying:
        switch = build.node("ShaderNodeValue", -1850, 800, name=SWAY_SWITCH, label=SWAY_SWITCH).outputs[0]
        waves = {}
        group[TERMS] = list(range(1, max(len(part.spectrum) for part, _ in swaying) + 1))
        for k in group[TERMS]:
            y = 1200 + 200 * k
            waves[k] = (build.driven_value(term_node_name("cos", k), sway_expression("cos", k, loop_start,
                                                                                      loop_frames),
                                           -1850, y, pluck_variables(obj)),
                        build.driven_value(term_node_name("sin", k), sway_expression("sin", k, loop_start,
                                                                                      loop_frames), -1850, y - 100))
        sway = None
        for index, (part, image) in enumerate(swaying):
            columns, rows = atlas_layout(len(part.spectrum), width, height)
            for k in range(1, len(part.spectrum) + 1):
                tile = (float((k - 1) % columns), float((k - 1) // columns), 0.0)
                ty = 1200 + 900 * index + 250 * k
                cos_part, sin_part = build.tile_sample(image, clamped_uv, tile, columns, rows, -1600, ty)
                term = build.vector_math("ADD", build.scale(cos_part, waves[k][0], -650, ty),
                                         build.scale(sin_part, waves[k][1], -650, ty - 100), -500, ty)
                term = build.scale(term, _layer_gain(build, part, strength, -350, ty), -200, ty)
                sway = term if sway is None else build.vector_math("ADD", sway, term, -50, ty)
        base_uv = build.vector_math("ADD", uv, build.scale(sway, switch, 100, 1200), 250, 1200)

    on_picture = _on_picture(build, plane.image)
    # Where the coordinates leave the painting (a projection wider than it), the read keeps that distance from the
    # border, so the Image Texture's own extension (Clip, Repeat...) shows there as it did without the warp.
    outside = build.vector_math("SUBTRACT", uv, on_picture(uv, -2200, -400), -2000, -400)

    def read_at(vector, x, y):
        return build.vector_math("ADD", vector, outside, x, y)
    base_uv = on_picture(base_uv, 250, 1050)  # every read alike, so outside the masks the frames are the still
    base_color, base_alpha = build.texture(plane.image, read_at(base_uv, 300, 1000), 400, 0, like=plane.image_node)
    color = build.gamma(base_color, 1.0 / loop.GAMMA, 650, 0)
    alpha = base_alpha
    flowing = [(part, image) for part, image in zip(motion.parts, images) if part.lookup is not None]
    shimmer = []
    for index, (part, image) in enumerate(flowing):
        y = -700 - 1600 * index
        mixed, mixed_alpha, glints = _stream_mix(build, obj, index, part, image, low, plane, clamped_uv, base_uv,
                                                 (width, height), on_picture, read_at, y, sparkles.get(id(part)))
        # The strength is the flow's speed (its clock); only near 0 does the still picture come back, so that
        # strength 0 is the still and easing in starts from it.
        gain = build.math("MINIMUM", build.math("MULTIPLY", _layer_gain(build, part, strength, 3000, y),
                                                1.0 / STILL_BELOW, 3075, y), 1.0, 3150, y)
        color = build.vector_math("ADD", color, build.scale(
            build.vector_math("SUBTRACT", mixed, build.gamma(base_color, 1.0 / loop.GAMMA, 3150, y - 200),
                              3300, y), gain, 3450, y), 3600, y)
        alpha = build.math("ADD", alpha, build.math("MULTIPLY", build.math("SUBTRACT", mixed_alpha, base_alpha,
                                                                            3300, y - 300), gain, 3450, y - 300),
                           3600, y - 300)
        if glints is not None:
            shimmer.append(build.math("MULTIPLY", glints, gain, 3600, y - 450))
    linear = build.gamma(build.vector_math("MAXIMUM", color, (0.0, 0.0, 0.0), 3800, 0), loop.GAMMA, 3950, 0)
    for index, glints in enumerate(shimmer):  # a flow's highlights brighten and darken where their glints are
        factor = build.math("MAXIMUM", build.math("ADD", glints, 1.0, 3950, -300 - 150 * index), 0.0, 4000,
                            -300 - 150 * index)
        linear = build.scale(linear, factor, 4050, -300 - 150 * index)
    flickering = [(part, image) for part, image in zip(motion.parts, images) if part.flicker is not None]
    if flickering:
        linear = _flicker(build, group, flickering, clamped_uv, strength, linear, (width, height), timing)
    group_out = build.node("NodeGroupOutput", 4150, 0)
    build.links.new(linear, group_out.inputs["Color"])
    build.links.new(alpha, group_out.inputs["Alpha"])
    channels = build.node("ShaderNodeSeparateColor", 4000, -600)  # R exactly: a colour to a float is its luminance
    build.links.new(build.texture(moving, clamped_uv, 3850, -600)[0], channels.inputs[0])
    build.links.new(channels.outputs[0], group_out.inputs[MOVING])
    return group


def _flicker(build, group, flickering, clamped_uv, strength, linear, size, timing):
    """Flickering layers multiply the linear colour by max(0, 1 + gain m(t) w): m read from a term pair per atlas
    tile at the picture's own place (the light does not move), w the channel weights (the tint)."""
    (width, height), (loop_start, loop_frames) = size, timing
    group[LIGHT_TERMS] = sorted({k for part, _ in flickering for k in part.terms})
    waves = {}
    for row, k in enumerate(group[LIGHT_TERMS]):
        y = 2400 + 200 * row
        waves[k] = build.combine(*(build.driven_value(term_node_name(part, k, LIGHT),
                                                      term_expression(part, k, loop_start, loop_frames),
                                                      4100, y - 100 * index)
                                   for index, part in enumerate(("cos", "sin"))), 4250, y)
    for index, (part, image) in enumerate(flickering):
        pairs = (len(part.terms) + 1) // 2
        columns, rows = atlas_layout(pairs, width, height)
        modulation = 0.0
        for pair in range(pairs):
            ty = 2400 + 1200 * index + 250 * pair
            tile = (float(pair % columns), float(pair // columns), 0.0)
            for vector, j in zip(build.tile_sample(image, clamped_uv, tile, columns, rows, 4400, ty),
                                 (2 * pair, 2 * pair + 1)):
                if j < len(part.terms):
                    term = build.vector_math("DOT_PRODUCT", vector, waves[part.terms[j]], 5300, ty - 60 * j)
                    modulation = build.math("ADD", modulation, term, 5450, ty - 60 * j)
        y = 2400 + 1200 * index
        amount = build.math("MULTIPLY", modulation, _layer_gain(build, part, strength, 5450, y + 200), 5600, y)
        spread = build.vector_math("MULTIPLY", tuple(part.weights), build.splat(amount, 5750, y), 5900, y)
        factor = build.vector_math("MAXIMUM", build.vector_math("ADD", spread, (1.0, 1.0, 1.0), 6050, y),
                                   (0.0, 0.0, 0.0), 6200, y)
        linear = build.vector_math("MULTIPLY", linear, factor, 6350, y)
    return linear


def _on_picture(build, image):
    """A function keeping displaced reads on the picture, half a texel inside its border: whatever the image
    node's extension (Images as Planes sets Clip), motion near the border reads the border's colour, never black."""
    width, height = image.size

    def clamp(vector, x, y):
        low = build.vector_math("MAXIMUM", vector, (0.5 / width, 0.5 / height, 0.0), x, y)
        return build.vector_math("MINIMUM", low, (1.0 - 0.5 / width, 1.0 - 0.5 / height, 0.0), x + 100, y)
    return clamp


def _phase(build, clock, index, period, x, y):
    """Stream `index`'s (age, weight) sockets from the layer's clock, as backend/loop.phase computes them."""
    shifted = build.math("ADD", clock, index * period / loop.PHASES, x, y)
    position = build.math("FLOORED_MODULO", shifted, float(period), x + 150, y)
    age = build.math("SUBTRACT", position, period / 2, x + 300, y)
    sine = build.math("SINE", build.math("MULTIPLY", position, math.pi / period, x + 300, y - 150), None, x + 450,
                      y - 150)
    weight = build.math("MULTIPLY", build.math("MULTIPLY", sine, sine, x + 600, y - 150), 2.0 / loop.PHASES,
                        x + 750, y - 150)
    return age, weight


def _owner_value(build, name, x, y):
    """A custom property of the owner, driven into the group once (every object showing the painting reads it)."""
    node = build.nodes.get(name)
    if node is not None:
        return node.outputs[0]
    return build.driven_value(name, "s", x, y, (("s", "OBJECT", build.owner, f'["{name}"]'),))


def _layer_gain(build, part, strength, x, y):
    """The layer's strength times the owner's motion_strength."""
    layer = _owner_value(build, part.strength, x - 150, y + 150)
    return build.math("MULTIPLY", layer, strength, x, y)


def _stream_mix(build, obj, index, part, image, low, plane, clamped_uv, base_uv, working_size, on_picture, read_at,
                y, sparkle=None):
    """One flowing layer's streams read and mixed: (display-space colour, alpha, glints) sockets; glints (the
    shimmer read through the same streams and mixed like the detail) only with a sparkle image, else None."""
    width, height = working_size
    tiles = len(part.lookup) - 1
    half = tiles // 2
    columns, rows = atlas_layout(tiles, width, height)
    sigma = loop.low_band_sigma(plane.image.size[0])
    to_px = (plane.image.size[0] / sigma, plane.image.size[1] / sigma, 0.0)
    offsets, weights, low_mix, high_mix, alpha_mix, glint_mix = [], [], None, None, None, None
    clock = build.driven_value(clock_node_name(index), "c", -2300, y, (
        ("c", "OBJECT", obj, f'["{clock_name(part.strength)}"]'),))
    for phase in range(loop.PHASES):
        py = y - 500 * phase
        age, weight = _phase(build, clock, phase, part.period, -2150, py)
        # Which tile holds the two whole ages around this one, and how far between them.
        position = build.math("ADD", age, float(half), -1450, py)
        tile = build.math("FLOOR", build.math("MINIMUM", position, float(tiles - 1), -1300, py), None, -1150, py)
        share = build.math("SUBTRACT", position, tile, -1000, py - 100)
        column = build.math("FLOORED_MODULO", tile, float(columns), -1000, py)
        row = build.math("FLOOR", build.math("DIVIDE", tile, float(columns), -1000, py + 100), None, -850, py + 100)
        lower, upper = build.tile_sample(image, clamped_uv, build.combine(column, row, -850, py), columns, rows,
                                         -700, py)
        offset = build.mix(lower, upper, share, 300, py)
        where = read_at(on_picture(build.vector_math("ADD", base_uv, offset, 600, py), 650, py), 800, py)
        color, alpha = build.texture(plane.image, where, 900, py, like=plane.image_node)
        low_color, _ = build.texture(low, where, 900, py - 250)
        display = build.gamma(color, 1.0 / loop.GAMMA, 1150, py)
        high = build.vector_math("SUBTRACT", display, low_color, 1300, py)
        weighted_low = build.scale(low_color, weight, 1450, py - 150)
        weighted_high = build.scale(high, weight, 1450, py)
        weighted_alpha = build.math("MULTIPLY", alpha, weight, 1450, py + 150)
        low_mix = weighted_low if low_mix is None else build.vector_math("ADD", low_mix, weighted_low, 1600, py - 150)
        high_mix = weighted_high if high_mix is None else build.vector_math("ADD", high_mix, weighted_high, 1600, py)
        alpha_mix = weighted_alpha if alpha_mix is None else build.math("ADD", alpha_mix, weighted_alpha, 1600,
                                                                        py + 150)
        if sparkle is not None:
            glint, _ = build.texture(sparkle, where, 900, py - 400)
            parts = build.node("ShaderNodeSeparateColor", 1150, py - 400)
            build.links.new(glint, parts.inputs[0])
            weighted = build.math("MULTIPLY", build.math("MULTIPLY", parts.outputs[0], parts.outputs[1], 1300,
                                                         py - 400), weight, 1450, py - 400)
            glint_mix = weighted if glint_mix is None else build.math("ADD", glint_mix, weighted, 1600, py - 400)
        offsets.append(offset)
        weights.append(weight)
    # sum_ij w_i w_j rho(|d_i - d_j|): how much of the high band's variance the mix keeps.
    norm = None
    for i in range(loop.PHASES):
        for j in range(i, loop.PHASES):
            px = 1800 + 150 * (i + j)
            term = build.math("MULTIPLY", weights[i], weights[j], px, y + 300)
            if i != j:
                apart = build.vector_math("MULTIPLY", build.vector_math("SUBTRACT", offsets[i], offsets[j], px,
                                                                        y + 450), to_px, px, y + 600)
                apart = build.vector_math("LENGTH", apart, None, px, y + 750)  # in low-band sigmas
                core = build.math("EXPONENT", build.math("MULTIPLY", build.math("MULTIPLY", apart, apart, px, y + 800),
                                                          -1.0, px, y + 850), None, px, y + 900)
                tail = build.math("EXPONENT", build.math("MULTIPLY", apart, -1.0 / loop.TAIL_SIGMAS, px, y + 950),
                                  None, px, y + 1000)
                rho = build.math("ADD", build.math("MULTIPLY", core, loop.CORE_SHARE, px, y + 1050),
                                 build.math("MULTIPLY", tail, 1.0 - loop.CORE_SHARE, px, y + 1100), px, y + 1150)
                term = build.math("MULTIPLY", term, build.math("MULTIPLY", rho, 2.0, px, y + 1200), px, y + 1350)
            norm = term if norm is None else build.math("ADD", norm, term, px + 75, y + 300)
    keep = build.math("DIVIDE", 1.0, build.math("SQRT", norm, None, 2700, y + 300), 2800, y + 300)
    restored = build.scale(high_mix, keep, 2900, y)
    glints = build.math("MULTIPLY", glint_mix, keep, 2900, y - 400) if glint_mix is not None else None
    return build.vector_math("ADD", low_mix, restored, 3000, y - 100), alpha_mix, glints


def _insert_group(material, image_node, group):
    """Put the group in the image texture's place: it reads the same coordinates and feeds whatever the image's
    Color and Alpha fed. The image node stays (disconnected), so Clear can give the material back as it was."""
    tree = material.node_tree
    _remove_group_node(tree)
    group_node = tree.nodes.new("ShaderNodeGroup")
    group_node.node_tree = group
    group_node.name = group_node.label = NODE_NAME
    group_node[IMAGE_NODE_KEY] = image_node.name  # whose place it took, for Clear
    group_node.location = (image_node.location.x + 300, image_node.location.y - 300)
    vector_input = image_node.inputs["Vector"]
    if vector_input.links:
        source = vector_input.links[0].from_socket
    else:
        uv_node = tree.nodes.new("ShaderNodeTexCoord")
        uv_node.name = uv_node.label = UV_NODE_NAME
        uv_node.location = (image_node.location.x - 250, image_node.location.y - 300)
        source = uv_node.outputs["UV"]
    tree.links.new(source, group_node.inputs["UV"])
    for name in ("Color", "Alpha"):
        for link in list(image_node.outputs[name].links):
            target = link.to_socket
            tree.links.remove(link)
            tree.links.new(group_node.outputs[name], target)
    _branch(tree, group_node, image_node)


def _branch(tree, group_node, image_node):
    """Render the warp only where something moves. The shader between the group and the material's output is
    copied, fed by the image texture as the user had it (the still), and a Mix Shader picks the still or the
    moving copy by the group's Moving output. Cycles skips every node of a Mix Shader's input whose factor is 0
    or 1, so outside the masks a sample costs what the still plane costs. Where the factor is between (the
    map's bilinear edge, two texels outside any motion) both inputs are the still picture."""
    output = tree.get_output_node("CYCLES")
    surface = output.inputs["Surface"] if output is not None else None
    if surface is None or not surface.links:
        return
    upstream, todo = set(), [surface.links[0].from_node]
    while todo:
        node = todo.pop()
        if node.name not in upstream:
            upstream.add(node.name)
            todo += [link.from_node for socket in node.inputs for link in socket.links]
    chain, todo = [], [group_node]
    while todo:
        node = todo.pop()
        for link in (link for socket in node.outputs for link in socket.links):
            if link.to_node.name in upstream and link.to_node not in chain:
                chain.append(link.to_node)
                todo.append(link.to_node)
    if not chain or group_node.name not in upstream:
        return  # the picture does not reach the surface (a displacement, say): nothing to skip
    twins = {node.name: _copy_node(tree, node) for node in chain}
    for node in chain:
        for socket, twin_socket in zip(node.inputs, twins[node.name].inputs):
            for link in socket.links:
                if link.from_node == group_node:
                    source = image_node.outputs[link.from_socket.name]
                elif link.from_node.name in twins:
                    source = twins[link.from_node.name].outputs[link.from_socket.identifier]
                else:
                    source = link.from_socket
                tree.links.new(source, twin_socket)
    moving_closure = surface.links[0].from_socket
    mix = tree.nodes.new("ShaderNodeMixShader")
    mix.name = mix.label = MIX_NAME
    mix.location = (output.location.x - 200, output.location.y + 200)
    tree.links.new(group_node.outputs[MOVING], mix.inputs["Fac"])
    tree.links.new(twins[moving_closure.node.name].outputs[moving_closure.identifier], mix.inputs[1])
    tree.links.new(moving_closure, mix.inputs[2])
    tree.links.new(mix.outputs[0], surface)


def _copy_node(tree, node):
    """A copy of a shader node: its settings and unlinked input values (links are the caller's)."""
    twin = tree.nodes.new(node.bl_idname)
    for prop in node.bl_rna.properties:
        if not prop.is_readonly and prop.identifier not in ("name", "label", "location", "select", "parent"):
            setattr(twin, prop.identifier, getattr(node, prop.identifier))
    for socket, twin_socket in zip(node.inputs, twin.inputs):
        if hasattr(socket, "default_value"):
            value = socket.default_value
            twin_socket.default_value = value if isinstance(value, (float, int, bool, str)) else tuple(value)
    twin.location = (node.location.x, node.location.y - 600)
    twin.label = f"{node.label or node.name} (still)"
    twin[STILL_KEY] = True
    return twin


def _unbranch(tree):
    """Undo _branch: the moving shader feeds the output again, the still copy goes."""
    mix = tree.nodes.get(MIX_NAME)
    if mix is not None:
        moving, surfaces = mix.inputs[2].links, [link.to_socket for link in mix.outputs[0].links]
        if moving:
            for surface in surfaces:
                tree.links.new(moving[0].from_socket, surface)
        tree.nodes.remove(mix)
    for node in [node for node in tree.nodes if node.get(STILL_KEY)]:
        tree.nodes.remove(node)


def _remove_group_node(tree):
    """Undo _insert_group: whatever the group fed is fed by the image texture again."""
    _unbranch(tree)
    group_node = tree.nodes.get(NODE_NAME)
    if group_node is None:
        return
    image_node = tree.nodes.get(group_node.get(IMAGE_NODE_KEY, ""))
    targets = {name: [link.to_socket for link in group_node.outputs[name].links] for name in ("Color", "Alpha")}
    tree.nodes.remove(group_node)
    uv_node = tree.nodes.get(UV_NODE_NAME)
    if uv_node is not None:
        tree.nodes.remove(uv_node)
    if image_node is not None:
        for name, sockets in targets.items():
            for target in sockets:
                tree.links.new(image_node.outputs[name], target)


# --- read back: the baked motion in the backend's array forms (the flow overlay, the command line's contact
# sheet, ST-maps and measurements, with backend/reference.py) ---

def atlas_tiles(image, count, width, height):
    """The first `count` tiles of an atlas image, (count, H, W, 4) in image row order."""
    columns, rows = atlas_layout(count, width, height)
    pixels = np.empty(image.size[0] * image.size[1] * 4, np.float32)
    image.pixels.foreach_get(pixels)
    tiles = pixels.reshape(rows, height, columns, width, 4).transpose(0, 2, 1, 3, 4).reshape(-1, height, width, 4)
    return tiles[:count, ::-1]


def flowing_layers(settings):
    """[(lookups by age (2H + 1, H, W, 2), phase period)] of the flowing layers, in bake order."""
    width, height = settings.baked_working_size
    layers = []
    for entry in settings.warp_images:
        if entry.kind == "AGES":
            tiles = atlas_tiles(entry.image, entry.terms, width, height)
            layers.append((np.concatenate([tiles[..., :2], tiles[-1:, ..., 2:]]), entry.period))
    return layers


def swaying_layers(settings):
    """The spectra (K, H, W, 4) of the swaying layers (Re u, Re v, Im u, Im v), in bake order."""
    width, height = settings.baked_working_size
    return [np.concatenate([-tiles[..., :2], tiles[..., 2:]], axis=-1)
            for tiles in (atlas_tiles(entry.image, entry.terms, width, height)
                          for entry in settings.warp_images if entry.kind == "SPECTRUM")]


def content_motion(settings):
    """How far the content moves in one frame, (h, w, 2) in UV units (v up): the flowing layers' speed (a
    stream one frame older has its lookup one frame further upstream) plus the sway's change at the loop's start.
    (Mixing the streams' offsets would cancel: this is the motion of each stream.)"""
    width, height = settings.baked_working_size
    motion = np.zeros((height, width, 2), np.float32)
    for lookups, _ in flowing_layers(settings):
        half = (len(lookups) - 1) // 2
        motion -= lookups[half + 1] - lookups[half]
    frames = settings.baked_loop_frames
    for spectrum in swaying_layers(settings):
        for k, term in enumerate(spectrum, start=1):
            phase = 2 * np.pi * k / frames
            # the content moves by D(1) - D(0), D(t) = sum Re S cos - Im S sin
            motion += term[..., :2] * (np.cos(phase) - 1) - term[..., 2:] * np.sin(phase)
    return motion


def flickering_layers(settings):
    """[(flicker (K, H, W, 2) Re, Im per term, terms k, channel weights)] of the flickering layers, in bake order."""
    width, height = settings.baked_working_size
    layers = []
    for entry in settings.warp_images:
        if entry.kind == "LIGHT":
            tiles = atlas_tiles(entry.image, (entry.terms + 1) // 2, width, height)
            pairs = tiles.reshape(len(tiles), height, width, 2, 2).transpose(0, 3, 1, 2, 4).reshape(
                -1, height, width, 2)[:entry.terms]
            layers.append((pairs * np.array([1.0, -1.0], np.float32), list(entry.image[LIGHT_TERMS]),
                           list(entry.image[LIGHT_WEIGHTS])))
    return layers
