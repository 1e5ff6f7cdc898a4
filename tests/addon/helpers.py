"""Read-back helpers for the add-on tests: the state of the scene that a bake must restore."""

import bpy
import numpy as np

LOOP = 12  # frames in the loops the add-on tests bake


def datablock_counts():
    return {name: len(getattr(bpy.data, name)) for name in (
        "objects", "meshes", "materials", "node_groups", "images", "actions", "shape_keys", "cameras")}


def node_tree_state(material):
    tree = material.node_tree
    return (sorted((node.name, node.bl_idname) for node in tree.nodes),
            sorted((link.from_node.name, link.from_socket.identifier, link.to_node.name, link.to_socket.identifier)
                   for link in tree.links))


def vertex_coords(mesh):
    coords = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", coords)
    return coords.reshape(-1, 3)


def evaluated_coords(obj):
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    return vertex_coords(evaluated.data)
