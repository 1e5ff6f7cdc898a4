"""The image plane: the mesh, its material's image texture, and the map from UV to object space."""

import bpy
import numpy as np

from ..backend.sizes import fit_longest


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
        """(origin, u axis, v axis) in object space such that position = origin + u * U + v * V: an affine fit
        over every corner of the mesh, so a plane subdivided after the import works as well as the quad."""
        mesh = self.mesh
        if not mesh.polygons or not mesh.uv_layers:
            raise PlaneError(f"'{self.obj.name}' has no faces with a UV map: use a plane made by "
                             f"File > Import > Images as Planes")
        uv = np.empty(len(mesh.loops) * 2, np.float64)
        mesh.uv_layers.active.data.foreach_get("uv", uv)
        uv = uv.reshape(-1, 2)
        positions = self.vertex_positions()[self.loop_vertices()]
        if np.abs(uv.min(axis=0)).max() > 1e-3 or np.abs(uv.max(axis=0) - 1).max() > 1e-3:
            raise PlaneError(f"The UV map of '{self.obj.name}' must span the whole image (0 to 1): "
                             f"re-import the image with Images as Planes")
        basis = np.column_stack([np.ones(len(uv)), uv])
        frame, *_ = np.linalg.lstsq(basis, positions, rcond=None)
        size = np.linalg.norm(frame[1]) + np.linalg.norm(frame[2])
        if size == 0 or np.abs(basis @ frame - positions).max() > 1e-4 * size:
            raise PlaneError(f"'{self.obj.name}' is not a flat plane whose UV map follows its shape: use a plane "
                             f"made by File > Import > Images as Planes (subdividing it is fine)")
        return frame[0], frame[1], frame[2]

    def vertex_positions(self):
        positions = np.empty(len(self.mesh.vertices) * 3, np.float64)
        self.mesh.vertices.foreach_get("co", positions)
        return positions.reshape(-1, 3)

    def loop_vertices(self):
        indices = np.empty(len(self.mesh.loops), np.int64)
        self.mesh.loops.foreach_get("vertex_index", indices)
        return indices

    def vertex_group_mask(self, name, width, height):
        """A vertex group's weights painted into UV space, (height, width) float32, rows top to bottom: the
        weights are interpolated across each triangle of the plane."""
        group = self.obj.vertex_groups.get(name)
        if group is None:
            raise PlaneError(f"'{self.obj.name}' has no vertex group '{name}': choose one in the layer's Mask")
        mesh = self.mesh
        weights = np.zeros(len(mesh.vertices), np.float64)
        for vertex in mesh.vertices:  # vertex groups have no bulk accessor
            for element in vertex.groups:
                if element.group == group.index:
                    weights[vertex.index] = element.weight
        mesh.calc_loop_triangles()
        triangles = np.empty(len(mesh.loop_triangles) * 3, np.int64)
        mesh.loop_triangles.foreach_get("loops", triangles)
        triangles = triangles.reshape(-1, 3)
        uv = np.empty(len(mesh.loops) * 2, np.float64)
        mesh.uv_layers.active.data.foreach_get("uv", uv)
        pixels = uv.reshape(-1, 2) * (width, height)
        pixels[:, 1] = height - pixels[:, 1]  # rows top to bottom
        loop_weights = weights[self.loop_vertices()]
        mask = np.zeros((height, width), np.float32)
        for corners in triangles:
            _fill_triangle(mask, pixels[corners], loop_weights[corners])
        return mask


def _fill_triangle(image, corners, values):
    """Write the barycentric interpolation of `values` at the pixel centres inside a triangle (pixel coords)."""
    low = np.maximum(np.floor(corners.min(axis=0) - 0.5), 0).astype(int)
    high = np.minimum(np.ceil(corners.max(axis=0) + 0.5), (image.shape[1] - 1, image.shape[0] - 1)).astype(int)
    ys, xs = np.mgrid[low[1]:high[1] + 1, low[0]:high[0] + 1]
    points = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
    (x0, y0), (x1, y1), (x2, y2) = corners
    area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    if abs(area) < 1e-12:
        return
    b1 = ((points[:, 0] - x0) * (y2 - y0) - (x2 - x0) * (points[:, 1] - y0)) / area
    b2 = ((x1 - x0) * (points[:, 1] - y0) - (points[:, 0] - x0) * (y1 - y0)) / area
    b0 = 1 - b1 - b2
    inside = (b0 >= -1e-9) & (b1 >= -1e-9) & (b2 >= -1e-9)
    image[ys.ravel()[inside], xs.ravel()[inside]] = (b0 * values[0] + b1 * values[1] + b2 * values[2])[inside]


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
        width, height = fit_longest(width, height, max_side)
        source = image.copy()  # scale() works in place; the user's image stays as it is
        source.scale(width, height)
    try:
        buffer = np.empty(width * height * 4, dtype=np.float32)
        source.pixels.foreach_get(buffer)
    finally:
        if source is not image:
            bpy.data.images.remove(source)
    return buffer.reshape(height, width, 4)[::-1].copy()


def painting_texels(image):
    """The painting as the shader reads it: (texels (H, W, 4) float32 rows top to bottom, whether they are 8-bit
    sRGB). Blender keeps 8-bit pixels in the image's own colour space and float pixels linear."""
    width, height = image.size
    pixels = np.empty(width * height * 4, np.float32)
    image.pixels.foreach_get(pixels)
    srgb = not image.is_float and "srgb" in image.colorspace_settings.name.lower()
    return pixels.reshape(height, width, 4)[::-1].copy(), srgb
