"""Texture warp: a node group between the UV and the image texture offsets the lookup by the baked motion.

The lookups of all frames sit in one float atlas image packed into the .blend: RG hold the forward layer, BA the
backward layer, one tile per frame. Value nodes driven by the frame pick the tile and the cross-fade weight, and
an Attribute node reads the object's motion_strength, so the warp renders in Cycles and Eevee without Python.
"""

import math

import bpy
import numpy as np

from .animation import add_driver, loop_frame_expression, remove_animation
from .plane import PlaneError
from .rig import STRENGTH

MAX_ATLAS_SIDE = 16384
NODE_NAME = "ImageDynamics Warp"
UV_NODE_NAME = "ImageDynamics UV"


def atlas_layout(frames, width, height):
    """Columns and rows of tiles, chosen so that the atlas is roughly square."""
    columns = max(1, math.ceil(math.sqrt(frames * height / width)))
    return columns, math.ceil(frames / columns)


def build_atlas(lookup, columns, rows):
    """(rows*H, columns*W, 4) float32 in Blender's pixel order (bottom row first): tile k at column k % C,
    row k // C counted from the bottom, RG = forward lookup, BA = backward lookup."""
    _, frames, height, width, _ = lookup.shape
    tiles = np.zeros((rows * columns, height, width, 4), np.float32)
    tiles[:frames, :, :, 0:2] = lookup[0]
    tiles[:frames, :, :, 2:4] = lookup[1]
    tiles = tiles[:, ::-1]  # image rows run top to bottom, Blender's bottom to top
    return tiles.reshape(rows, columns, height, width, 4).transpose(0, 2, 1, 3, 4).reshape(
        rows * height, columns * width, 4)


def build_warp(object_name, lookup, loop_start, loop_frames):
    """The atlas image and the lookup node group for a bake; nothing in the scene uses them yet."""
    _, frames, height, width, _ = lookup.shape
    columns, rows = atlas_layout(frames, width, height)
    if columns * width > MAX_ATLAS_SIDE or rows * height > MAX_ATLAS_SIDE:
        raise PlaneError(f"{frames} frames at {width}x{height} do not fit in one texture: lower the working "
                         f"resolution or the loop length")
    atlas = _atlas_image(object_name, build_atlas(lookup, columns, rows))
    try:
        group = _lookup_group(object_name, atlas, columns, rows, width, height, loop_start, loop_frames)
    except BaseException:
        bpy.data.images.remove(atlas)
        raise
    return atlas, group


def install_warp(plane, settings, atlas, group):
    _insert_group(plane.material, plane.image_node, group)
    settings.warp_material, settings.warp_group, settings.warp_atlas = plane.material, group, atlas


def remove_warp_data(atlas, group):
    if group is not None:
        remove_animation(group)
        bpy.data.node_groups.remove(group)
    if atlas is not None:
        bpy.data.images.remove(atlas)


def clear_warp(settings):
    material, group, atlas = settings.warp_material, settings.warp_group, settings.warp_atlas
    if material is not None and material.node_tree is not None:
        _remove_group_node(material.node_tree)
    settings.warp_material = settings.warp_group = settings.warp_atlas = None
    remove_warp_data(atlas, group)


def _atlas_image(object_name, pixels):
    height, width = pixels.shape[:2]
    image = bpy.data.images.new(f"ImageDynamics Motion ({object_name})", width, height, alpha=True,
                                float_buffer=True, is_data=True)
    image.alpha_mode = "CHANNEL_PACKED"  # alpha is data here, never premultiplied into RGB
    image.pixels.foreach_set(pixels.ravel())
    image.file_format = "OPEN_EXR"
    image.pack()
    return image


def _lookup_group(object_name, atlas, columns, rows, width, height, loop_start, loop_frames):
    group = bpy.data.node_groups.new(f"ImageDynamics Lookup ({object_name})", "ShaderNodeTree")
    group.interface.new_socket("UV", in_out="INPUT", socket_type="NodeSocketVector")
    group.interface.new_socket("UV", in_out="OUTPUT", socket_type="NodeSocketVector")
    nodes, links = group.nodes, group.links

    def node(kind, x, y, **settings):
        made = nodes.new(kind)
        made.location = (x, y)
        for key, value in settings.items():
            setattr(made, key, value)
        return made

    def math_node(operation, a, b, x, y):
        made = node("ShaderNodeMath", x, y, operation=operation)
        for socket, value in zip(made.inputs, (a, b)):
            if isinstance(value, (int, float)):
                socket.default_value = value
            else:
                links.new(value, socket)
        return made.outputs[0]

    group_in = node("NodeGroupInput", -1000, 0)
    group_out = node("NodeGroupOutput", 1000, 0)
    split = node("ShaderNodeSeparateXYZ", -800, 0)
    links.new(group_in.outputs["UV"], split.inputs[0])

    # Which tile (frame) and how far through the cross-fade: drivers of the frame, simple expressions only.
    frame_index = loop_frame_expression(loop_start, loop_frames)
    driven = {}
    for label, expression, y in (("Column", f"{frame_index} - {columns} * floor({frame_index} / {columns})", 300),
                                 ("Row", f"floor({frame_index} / {columns})", 200),
                                 ("Weight", f"{frame_index} / {loop_frames}", 100)):
        value_node = node("ShaderNodeValue", -800, y, name=label, label=label)
        add_driver(group, f'nodes["{label}"].outputs[0].default_value', expression)
        driven[label] = value_node.outputs[0]

    # Keep the lookup half a texel inside the tile, so bilinear filtering never reads the neighbouring frame.
    clamped = []
    for axis, size, y in ((0, width, 0), (1, height, -150)):
        clamp = node("ShaderNodeClamp", -600, y)
        links.new(split.outputs[axis], clamp.inputs["Value"])
        clamp.inputs["Min"].default_value = 0.5 / size
        clamp.inputs["Max"].default_value = 1.0 - 0.5 / size
        clamped.append(clamp.outputs[0])
    atlas_u = math_node("DIVIDE", math_node("ADD", driven["Column"], clamped[0], -400, 100), columns, -250, 100)
    atlas_v = math_node("DIVIDE", math_node("ADD", driven["Row"], clamped[1], -400, -100), rows, -250, -100)
    atlas_uv = node("ShaderNodeCombineXYZ", -100, 0)
    links.new(atlas_u, atlas_uv.inputs[0])
    links.new(atlas_v, atlas_uv.inputs[1])
    texture = node("ShaderNodeTexImage", 50, 0, image=atlas, interpolation="Linear", extension="EXTEND")
    links.new(atlas_uv.outputs[0], texture.inputs["Vector"])

    channels = node("ShaderNodeSeparateColor", 300, 100)
    links.new(texture.outputs["Color"], channels.inputs[0])
    forward = node("ShaderNodeCombineXYZ", 450, 150)
    backward = node("ShaderNodeCombineXYZ", 450, 0)
    links.new(channels.outputs[0], forward.inputs[0])
    links.new(channels.outputs[1], forward.inputs[1])
    links.new(channels.outputs[2], backward.inputs[0])
    links.new(texture.outputs["Alpha"], backward.inputs[1])

    # offset = strength * (forward + weight * (backward - forward))
    difference = node("ShaderNodeVectorMath", 600, 0, operation="SUBTRACT")
    links.new(backward.outputs[0], difference.inputs[0])
    links.new(forward.outputs[0], difference.inputs[1])
    faded = node("ShaderNodeVectorMath", 700, 0, operation="SCALE")
    links.new(difference.outputs[0], faded.inputs[0])
    links.new(driven["Weight"], faded.inputs["Scale"])
    blended = node("ShaderNodeVectorMath", 800, 100, operation="ADD")
    links.new(forward.outputs[0], blended.inputs[0])
    links.new(faded.outputs[0], blended.inputs[1])
    strength = node("ShaderNodeAttribute", 600, 300, attribute_type="OBJECT", attribute_name=STRENGTH)
    scaled = node("ShaderNodeVectorMath", 900, 100, operation="SCALE")
    links.new(blended.outputs[0], scaled.inputs[0])
    links.new(strength.outputs["Fac"], scaled.inputs["Scale"])
    warped = node("ShaderNodeVectorMath", 900, -100, operation="ADD")
    links.new(group_in.outputs["UV"], warped.inputs[0])
    links.new(scaled.outputs[0], warped.inputs[1])
    links.new(warped.outputs[0], group_out.inputs["UV"])
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
