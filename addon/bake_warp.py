"""Texture warp: a node group between the UV and the image texture offsets the lookup by the baked motion.

Each layer has its own float atlas image. A flowing layer: one tile per frame, RG holding the forward lookup and
BA the backward one; Value nodes driven by the frame pick the tile and the cross-fade weight. A swaying layer:
one tile per Fourier term, RG = -Re S_k and BA = Im S_k, summed with weights cos and sin of the frame's phase, so
its lookup is -D(t). Attribute nodes read each layer's strength and the object's motion_strength. The images are
packed into the .blend and every driver is a simple expression: it renders in Cycles and Eevee without Python.
"""

import math

import bpy
import numpy as np

from .animation import add_driver, remove_animation
from .plane import PlaneError
from .rig import STRENGTH, frame_atlas_expressions, pluck_variables, sway_expression

MAX_ATLAS_SIDE = 16384
NODE_NAME = "ImageDynamics Warp"
UV_NODE_NAME = "ImageDynamics UV"


def atlas_layout(tiles, width, height):
    """Columns and rows of tiles, chosen so that the atlas is roughly square."""
    columns = max(1, math.ceil(math.sqrt(tiles * height / width)))
    return columns, math.ceil(tiles / columns)


def atlas_pixels(tiles, columns, rows):
    """(N, H, W, 4) tiles in image row order -> (rows*H, columns*W, 4) in Blender's pixel order (bottom row
    first), tile k at column k % columns and row k // columns counted from the bottom."""
    count, height, width, _ = tiles.shape
    padded = np.zeros((rows * columns, height, width, 4), np.float32)
    padded[:count] = tiles[:, ::-1]  # image rows run top to bottom, Blender's bottom to top
    return padded.reshape(rows, columns, height, width, 4).transpose(0, 2, 1, 3, 4).reshape(
        rows * height, columns * width, 4)


def build_warp(obj, motion, loop_start, loop_frames):
    """(images, node group) for a bake: per layer, an atlas of frames or of spectrum terms; nothing in the scene
    uses them yet. `images` are (image, kind, terms) for the settings' record."""
    width, height = motion.working_size
    images = []
    try:
        for part in motion.parts:
            if part.lookup is not None:
                tiles = np.concatenate([part.lookup[0], part.lookup[1]], axis=-1)
                image = _atlas_image(f"ImageDynamics Motion ({obj.name}, {part.label})", tiles, width, height)
                images.append((image, "FRAMES", 0))
            else:
                tiles = np.concatenate([-part.spectrum[..., :2], part.spectrum[..., 2:]], axis=-1)
                image = _atlas_image(f"ImageDynamics Sway ({obj.name}, {part.label})", tiles, width, height)
                images.append((image, "SPECTRUM", len(part.spectrum)))
        group = _lookup_group(obj, motion, [image for image, _, _ in images], width, height, loop_start,
                              loop_frames)
    except BaseException:
        for image, _, _ in images:
            bpy.data.images.remove(image)
        raise
    return images, group


def install_warp(plane, settings, images, group):
    _insert_group(plane.material, plane.image_node, group)
    settings.warp_material, settings.warp_group = plane.material, group
    settings.warp_images.clear()
    for image, kind, terms in images:
        entry = settings.warp_images.add()
        entry.image, entry.kind, entry.terms = image, kind, terms


def remove_warp_data(images, group):
    if group is not None:
        remove_animation(group)
        bpy.data.node_groups.remove(group)
    for image, _, _ in images:
        if image is not None:
            bpy.data.images.remove(image)


def clear_warp(settings):
    material = settings.warp_material
    if material is not None and material.node_tree is not None:
        _remove_group_node(material.node_tree)
    images = [(entry.image, entry.kind, entry.terms) for entry in settings.warp_images]
    group = settings.warp_group
    settings.warp_images.clear()
    settings.warp_material = settings.warp_group = None
    remove_warp_data(images, group)


def _atlas_image(name, tiles, width, height):
    columns, rows = atlas_layout(len(tiles), width, height)
    if columns * width > MAX_ATLAS_SIDE or rows * height > MAX_ATLAS_SIDE:
        raise PlaneError(f"{len(tiles)} frames at {width}x{height} do not fit in one texture: lower the working "
                         f"resolution or the loop length")
    pixels = atlas_pixels(tiles, columns, rows)
    image = bpy.data.images.new(name, pixels.shape[1], pixels.shape[0], alpha=True, float_buffer=True,
                                is_data=True)
    image.alpha_mode = "CHANNEL_PACKED"  # alpha is data here, never premultiplied into RGB
    image.pixels.foreach_set(pixels.ravel())
    image.file_format = "OPEN_EXR"
    image.pack()
    return image


class _GroupBuilder:
    """Small helpers to lay out a shader node group."""

    def __init__(self, group):
        self.group, self.nodes, self.links = group, group.nodes, group.links

    def node(self, kind, x, y, **settings):
        made = self.nodes.new(kind)
        made.location = (x, y)
        for key, value in settings.items():
            setattr(made, key, value)
        return made

    def vector_math(self, operation, a, b, x, y):
        made = self.node("ShaderNodeVectorMath", x, y, operation=operation)
        for socket, value in zip(made.inputs, (a, b)):
            if isinstance(value, tuple):
                socket.default_value = value
            else:
                self.links.new(value, socket)
        return made.outputs[0]

    def scale(self, vector, factor, x, y):
        made = self.node("ShaderNodeVectorMath", x, y, operation="SCALE")
        self.links.new(vector, made.inputs[0])
        self.links.new(factor, made.inputs["Scale"])
        return made.outputs[0]

    def driven_value(self, label, expression, x, y, variables=()):
        made = self.node("ShaderNodeValue", x, y, name=label, label=label)
        add_driver(self.group, f'nodes["{label}"].outputs[0].default_value', expression, variables)
        return made.outputs[0]

    def combine(self, a, b, x, y):
        made = self.node("ShaderNodeCombineXYZ", x, y)
        self.links.new(a, made.inputs[0])
        self.links.new(b, made.inputs[1])
        return made.outputs[0]

    def tile_sample(self, image, clamped_uv, offset, columns, rows, x, y):
        """The atlas texel at the clamped UV of one tile: (RG as a vector, BA as a vector). `offset` is the
        tile's (column, row, 0), a constant tuple or a vector socket."""
        shifted = self.vector_math("ADD", clamped_uv, offset, x + 150, y)
        atlas_uv = self.vector_math("DIVIDE", shifted, (float(columns), float(rows), 1.0), x + 300, y)
        texture = self.node("ShaderNodeTexImage", x + 450, y, image=image, interpolation="Linear",
                            extension="EXTEND")
        self.links.new(atlas_uv, texture.inputs["Vector"])
        rg = self.vector_math("MULTIPLY", texture.outputs["Color"], (1.0, 1.0, 0.0), x + 700, y + 60)
        channels = self.node("ShaderNodeSeparateColor", x + 700, y - 60)
        self.links.new(texture.outputs["Color"], channels.inputs[0])
        ba = self.combine(channels.outputs[2], texture.outputs["Alpha"], x + 850, y - 60)
        return rg, ba


def _lookup_group(obj, motion, images, width, height, loop_start, loop_frames):
    group = bpy.data.node_groups.new(f"ImageDynamics Lookup ({obj.name})", "ShaderNodeTree")
    group.interface.new_socket("UV", in_out="INPUT", socket_type="NodeSocketVector")
    group.interface.new_socket("UV", in_out="OUTPUT", socket_type="NodeSocketVector")
    build = _GroupBuilder(group)
    group_in = build.node("NodeGroupInput", -1400, 0)
    split = build.node("ShaderNodeSeparateXYZ", -1200, 0)
    build.links.new(group_in.outputs["UV"], split.inputs[0])
    # Keep the lookup half a texel inside its tile, so bilinear filtering never reads the neighbouring tile.
    clamped = []
    for axis, size, y in ((0, width, 0), (1, height, -150)):
        clamp = build.node("ShaderNodeClamp", -1000, y)
        build.links.new(split.outputs[axis], clamp.inputs["Value"])
        clamp.inputs["Min"].default_value = 0.5 / size
        clamp.inputs["Max"].default_value = 1.0 - 0.5 / size
        clamped.append(clamp.outputs[0])
    clamped_uv = build.combine(clamped[0], clamped[1], -850, 0)

    # Drivers of the frame, shared by all layers: the frame tile and cross-fade weight, cos and sin per term.
    frame_tile = None
    if motion.flowing():
        columns, rows = atlas_layout(loop_frames, width, height)
        expressions = frame_atlas_expressions(loop_start, loop_frames, loop_frames, columns)
        column = build.driven_value("Column", expressions["Column"], -850, 400)
        row = build.driven_value("Row", expressions["Row"], -850, 300)
        weight = build.driven_value("Weight", expressions["Weight"], -850, 200)
        frame_tile = (build.combine(column, row, -700, 400), weight, columns, rows)
    waves = {}
    for k in range(1, max([len(part.spectrum) for part in motion.swaying()], default=0) + 1):
        y = -400 - 200 * k
        waves[k] = (build.driven_value(f"Cos {k}", sway_expression("cos", k, loop_start, loop_frames), -850, y,
                                       pluck_variables(obj)),
                    build.driven_value(f"Sin {k}", sway_expression("sin", k, loop_start, loop_frames), -850,
                                       y - 100))

    total = None
    for index, (part, image) in enumerate(zip(motion.parts, images)):
        y = 300 - 900 * index
        if part.lookup is not None:
            offset, weight, columns, rows = frame_tile
            forward, backward = build.tile_sample(image, clamped_uv, offset, columns, rows, -500, y)
            # forward + weight * (backward - forward)
            difference = build.vector_math("SUBTRACT", backward, forward, 450, y)
            vector = build.vector_math("ADD", forward, build.scale(difference, weight, 600, y), 750, y)
        else:
            columns, rows = atlas_layout(len(part.spectrum), width, height)
            vector = None
            for k in range(1, len(part.spectrum) + 1):
                tile = (float((k - 1) % columns), float((k - 1) // columns), 0.0)
                ty = y - 250 * k
                cos_part, sin_part = build.tile_sample(image, clamped_uv, tile, columns, rows, -500, ty)
                term = build.vector_math("ADD", build.scale(cos_part, waves[k][0], 450, ty),
                                         build.scale(sin_part, waves[k][1], 450, ty - 100), 600, ty)
                vector = term if vector is None else build.vector_math("ADD", vector, term, 750, ty)
        layer_strength = build.node("ShaderNodeAttribute", 800, y + 150, attribute_type="OBJECT",
                                    attribute_name=part.strength)
        vector = build.scale(vector, layer_strength.outputs["Fac"], 950, y)
        total = vector if total is None else build.vector_math("ADD", total, vector, 1100, y)
    strength = build.node("ShaderNodeAttribute", 1100, 500, attribute_type="OBJECT", attribute_name=STRENGTH)
    scaled = build.scale(total, strength.outputs["Fac"], 1250, 100)
    warped = build.vector_math("ADD", group_in.outputs["UV"], scaled, 1400, 0)
    group_out = build.node("NodeGroupOutput", 1550, 0)
    build.links.new(warped, group_out.inputs["UV"])
    return group


def _insert_group(material, image_node, group):
    """Put the group in front of the image texture's Vector input, keeping whatever fed it before."""
    tree = material.node_tree
    _remove_group_node(tree)
    group_node = tree.nodes.new("ShaderNodeGroup")
    group_node.node_tree = group
    group_node.name = group_node.label = NODE_NAME
    group_node.location = (image_node.location.x - 250, image_node.location.y)
    vector_input = image_node.inputs["Vector"]
    if vector_input.links:
        source = vector_input.links[0].from_socket
    else:
        uv_node = tree.nodes.new("ShaderNodeTexCoord")
        uv_node.name = uv_node.label = UV_NODE_NAME
        uv_node.location = (group_node.location.x - 250, group_node.location.y)
        source = uv_node.outputs["UV"]
    tree.links.new(source, group_node.inputs["UV"])
    tree.links.new(group_node.outputs["UV"], vector_input)


def _remove_group_node(tree):
    """Undo _insert_group: relink the original source (if any) straight to the image texture."""
    group_node = tree.nodes.get(NODE_NAME)
    if group_node is None:
        return
    in_links, out_links = group_node.inputs["UV"].links, group_node.outputs["UV"].links
    source = in_links[0].from_socket if in_links else None
    targets = [link.to_socket for link in out_links]
    tree.nodes.remove(group_node)
    uv_node = tree.nodes.get(UV_NODE_NAME)
    if uv_node is not None:
        tree.nodes.remove(uv_node)
    elif source is not None:
        for target in targets:
            tree.links.new(source, target)
