"""The image plane: the mesh, its material's image texture, and the map from UV to object space."""

import bpy
import numpy as np


class PlaneError(Exception):
    """The selected object cannot be animated; the message tells the user what to do."""


class ImagePlane:
    """An object made by "Import Images as Planes": one quad whose UVs span the image."""

    def __init__(self, obj, source_mesh=None):
        if obj is None or obj.type != "MESH":
            raise PlaneError("Select an image plane (a mesh made by File > Import > Images as Planes)")
        self.obj = obj
        self.material, self.image_node = _find_image_node(obj)
        self.image = self.image_node.image
        _check_editable(obj, self.material)
        _check_still_image(self.image)
        self.mesh = source_mesh or obj.data  # after a bake the object shows a grid; the plane is the original
        self.uv_frame()  # fail now, before any work, if this is not an image plane

    def image_pixels(self, max_side):
        """The image as float32 RGBA, rows top to bottom (Blender stores them bottom to top), reduced so that its
        longer side is at most `max_side`: a 16k painting need not cross the pipe at full size."""
        return read_pixels(self.image, max_side, "Image")


    def uv_frame(self):
        """(origin, u axis, v axis) in object space such that position = origin + u * U + v * V."""
        mesh = self.mesh
        if len(mesh.polygons) != 1 or len(mesh.polygons[0].vertices) != 4 or not mesh.uv_layers:
            raise PlaneError(f"'{self.obj.name}' is not a single textured quad: use a plane made by "
                             f"File > Import > Images as Planes")
        uv_layer = mesh.uv_layers.active
        corners = {}
        for loop_index in mesh.polygons[0].loop_indices:
            uv = tuple(round(c, 4) for c in uv_layer.data[loop_index].uv)
            corners[uv] = np.array(mesh.vertices[mesh.loops[loop_index].vertex_index].co, dtype=np.float64)
        if not {(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)} <= set(corners):
            raise PlaneError(f"The UV map of '{self.obj.name}' must span the whole image (0 to 1): "
                             f"re-import the image with Images as Planes")
        origin = corners[(0.0, 0.0)]
        return origin, corners[(1.0, 0.0)] - origin, corners[(0.0, 1.0)] - origin


def _check_editable(obj, material):
    for data in (obj, obj.data, material):
        library = data.library or (data.override_library.reference.library if data.override_library else None)
        if library is not None:
            raise PlaneError(f"'{data.name}' is linked from '{library.filepath}': make it local "
                             f"(Object > Relations > Make Local) to animate it")
    users = [other.name for other in bpy.data.objects
             if other != obj and any(slot.material == material for slot in other.material_slots)]
    if users:
        raise PlaneError(f"Material '{material.name}' is also used by {', '.join(sorted(users)[:3])}: make it "
                         f"single-user (Object > Relations > Make Single User > Materials) so only this plane moves")


def _check_still_image(image):
    if image.source in {"MOVIE", "SEQUENCE"}:
        raise PlaneError(f"Image '{image.name}' is a movie or an image sequence: Image Dynamics animates a still "
                         f"image; use one frame as the plane's image")
    if image.source == "TILED":
        raise PlaneError(f"Image '{image.name}' has UDIM tiles: use a single image for the plane")


def _find_image_node(obj):
    for slot in obj.material_slots:
        material = slot.material
        if material is None or material.node_tree is None:
            continue
        nodes = [n for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage" and n.image]
        if len(nodes) > 1:
            active = material.node_tree.nodes.active
            if active in nodes:
                return material, active
            raise PlaneError(f"Material '{material.name}' has several image textures: make the one to "
                             f"animate the active node")
        if nodes:
            return material, nodes[0]
    raise PlaneError(f"'{obj.name}' has no material with an Image Texture: import the image with "
                     f"File > Import > Images as Planes")


def read_pixels(image, max_side, what):
    width, height = image.size
    if width == 0 or height == 0:
        raise PlaneError(f"{what} '{image.name}' has no pixels: check that its file can be read")
    source = image
    if max(width, height) > max_side:
        scale = max_side / max(width, height)
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        source = image.copy()  # scale() works in place; the user's image stays as it is
        source.scale(width, height)
    try:
        buffer = np.empty(width * height * 4, dtype=np.float32)
        source.pixels.foreach_get(buffer)
    finally:
        if source is not image:
            bpy.data.images.remove(source)
    return buffer.reshape(height, width, 4)[::-1].copy()
