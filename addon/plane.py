"""The painted object: its mesh, the Image Texture that shows the painting, the coordinates it reads, the other
materials that show the same painting, and (for flat planes) the map from UV to object space."""

import contextlib

import bpy
import numpy as np

from ..backend.sizes import fit_longest


class PlaneError(Exception):
    """The selected object cannot be animated; the message tells the user what to do."""


class ImagePlane:
    """An object whose material shows a still painting through an Image Texture: a plane made by "Import Images as
    Planes", a card showing part of the painting, or rough geometry the painting is projected on (a UV Project
    modifier, Project from View, or a Texture Coordinate node's Window output). Whatever feeds the Image Texture's
    Vector is taken as the painting's UV. Every other material that shows the same painting shares its motion."""

    def __init__(self, obj, source_mesh=None):
        if obj is None or obj.type != "MESH":
            raise PlaneError("Select an object that shows a painting (a mesh whose material has an Image "
                             "Texture, e.g. one made by File > Import > Images as Planes)")
        self.obj = obj
        self.material, self.image_node = _find_image_node(obj)
        self.image = self.image_node.image
        _check_editable(obj, self.material)
        _check_still_image(self.image)
        self.mesh = source_mesh or obj.data  # after a bake the object shows a grid; the plane is the original
        self.coordinates = shown_coordinates(self.image_node)
        self.showings = painting_showings(obj, self.material, self.image_node)
        self.check_coordinates()  # fail now, before any work, if the object shows none of the painting

    def image_pixels(self, max_side):
        """The image as float32 RGBA, rows top to bottom (Blender stores them bottom to top), reduced so that its
        longer side is at most `max_side`: a 16k painting need not cross the pipe at full size."""
        return read_pixels(self.image, max_side, "Image")

    @property
    def sharers(self):
        """The other objects that show the painting (and move with it), by name."""
        return sorted({other.name for other in bpy.data.objects if other != self.obj and other.type == "MESH"
                       and any(slot.material == material for slot in other.material_slots
                               for material, _ in self.showings)})

    def check_coordinates(self):
        """The object has faces, and, when it shows the painting through a UV map, that map reaches the painting
        (a card may show only part of it)."""
        if not self.mesh.polygons:
            raise PlaneError(f"'{self.obj.name}' has no faces to show the painting on")
        if self.coordinates[0] != "UV":
            return
        with self.surface() as (uv, _, _):
            low, high = uv.min(axis=0), uv.max(axis=0)
        if (low >= 1).any() or (high <= 0).any():
            raise PlaneError(f"The UV map of '{self.obj.name}' lies outside the painting (UVs "
                             f"{low[0]:.2f}..{high[0]:.2f}, {low[1]:.2f}..{high[1]:.2f}): unwrap it or project the "
                             f"painting onto it (UV Project modifier, or UV > Project from View)")

    def uv_frame(self):
        """(origin, u axis, v axis) in object space such that position = origin + u * U + v * V: an affine fit
        over every corner of the mesh, so a plane subdivided after the import works as well as the quad, and a
        card showing part of the painting too. Only a flat mesh whose UVs follow its shape has one: guides and
        Sway On: Geometry need it."""
        if self.coordinates[0] != "UV":
            raise PlaneError(f"'{self.obj.name}' shows the painting through {self.coordinates[0].title()} "
                             f"coordinates: guides and Sway On: Geometry need a flat plane with a UV map; use hints "
                             f"and masks on the painting, and Sway On: Texture")
        with self.surface() as (uv, positions, _):
            basis = np.column_stack([np.ones(len(uv)), uv])
            frame, *_ = np.linalg.lstsq(basis, positions, rcond=None)
            size = np.linalg.norm(frame[1]) + np.linalg.norm(frame[2])
            if size == 0 or np.abs(basis @ frame - positions).max() > 1e-4 * size:
                raise PlaneError(f"'{self.obj.name}' is not a flat plane whose UV map follows its shape: guides and "
                                 f"Sway On: Geometry need one (an Images as Planes plane, subdivided or not, or a flat "
                                 f"card); on other meshes use hints and masks on the painting, and Sway On: Texture")
        return frame[0], frame[1], frame[2]

    def geometry_problem(self):
        """Why the shape-key grid cannot stand in for this object (None when it can): it replaces the mesh by a
        flat grid over the whole painting, so only a lone flat plane showing all of it qualifies."""
        try:
            self.uv_frame()
        except PlaneError as exc:
            return str(exc)
        with self.surface() as (uv, _, _):
            whole = np.abs(uv.min(axis=0)).max() < 1e-3 and np.abs(uv.max(axis=0) - 1).max() < 1e-3
        if not whole:
            return (f"'{self.obj.name}' shows only part of the painting: Sway On: Geometry needs a plane showing "
                    f"all of it; swaying plays on the texture")
        if len(self.showings) > 1 or self.sharers:
            return ("the painting is shown by several objects: Sway On: Geometry would bend only one of them; "
                    "swaying plays on the texture")
        return None

    @contextlib.contextmanager
    def surface(self):
        """(uv (L, 2), position (L, 3), mesh) per face corner as the shader sees them: the UV map the Image Texture
        reads, after the object's modifiers (a UV Project modifier writes the UVs, a Displace one moves corners).
        After a shape-key bake, the plane kept aside."""
        owned = self.mesh is not self.obj.data or not self.obj.modifiers
        evaluated = None
        if owned:
            mesh = self.mesh
        else:
            evaluated = self.obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
            mesh = evaluated.to_mesh()
        try:
            layer = _shown_uv_layer(mesh, self.coordinates[1])
            if layer is None:
                raise PlaneError(f"'{self.obj.name}' has no UV map '{self.coordinates[1] or 'for rendering'}' to "
                                 f"show the painting through: unwrap it or add a UV Project modifier")
            uv = np.empty(len(mesh.loops) * 2, np.float64)
            layer.data.foreach_get("uv", uv)
            positions = np.empty(len(mesh.vertices) * 3, np.float64)
            mesh.vertices.foreach_get("co", positions)
            corners = np.empty(len(mesh.loops), np.int64)
            mesh.loops.foreach_get("vertex_index", corners)
            yield uv.reshape(-1, 2), positions.reshape(-1, 3)[corners], mesh
        finally:
            if evaluated is not None:
                evaluated.to_mesh_clear()

    def vertex_group_mask(self, name, width, height):
        """A vertex group's weights painted into UV space, (height, width) float32, rows top to bottom: the
        weights are interpolated across each triangle of the object, where its UVs put it on the painting."""
        group = self.obj.vertex_groups.get(name)
        if group is None:
            raise PlaneError(f"'{self.obj.name}' has no vertex group '{name}': choose one in the layer's Mask")
        if self.coordinates[0] != "UV":
            raise PlaneError(f"'{self.obj.name}' shows the painting through {self.coordinates[0].title()} "
                             f"coordinates: a vertex group cannot be placed on the painting; use a mask image or a "
                             f"rectangle")
        with self.surface() as (uv, _, mesh):
            weights = np.zeros(len(mesh.vertices), np.float64)
            for vertex in mesh.vertices:  # vertex groups have no bulk accessor
                for element in vertex.groups:
                    if element.group == group.index:
                        weights[vertex.index] = element.weight
            mesh.calc_loop_triangles()
            triangles = np.empty(len(mesh.loop_triangles) * 3, np.int64)
            mesh.loop_triangles.foreach_get("loops", triangles)
            triangles = triangles.reshape(-1, 3)
            corners = np.empty(len(mesh.loops), np.int64)
            mesh.loops.foreach_get("vertex_index", corners)
            loop_weights = weights[corners]
        pixels = uv * (width, height)
        pixels[:, 1] = height - pixels[:, 1]  # rows top to bottom
        mask = np.zeros((height, width), np.float32)
        for corners in triangles:
            _fill_triangle(mask, pixels[corners], loop_weights[corners])
        return mask


def shown_coordinates(image_node):
    """How the Image Texture is placed on the object: ("UV", UV map name or "" for the render UV map), or the
    Texture Coordinate output it reads ("WINDOW", "CAMERA", ...), or ("OTHER", "") for any other node."""
    links = image_node.inputs["Vector"].links
    if not links:
        return "UV", ""
    source = links[0].from_socket
    node = source.node
    if node.bl_idname == "ShaderNodeUVMap":
        return "UV", node.uv_map
    if node.bl_idname == "ShaderNodeTexCoord":
        return source.name.upper(), ""
    return "OTHER", ""


def painting_owner(obj):
    """The object whose bake moves the painting this object shows (itself when it has the bake), or None."""
    materials = {slot.material for slot in obj.material_slots if slot.material is not None}
    for other in [obj] + list(bpy.data.objects):
        settings = getattr(other, "image_dynamics", None)
        if settings is not None and settings.warp_group is not None and materials & {
                entry.material for entry in settings.warp_materials}:
            return other
    return None


def _shown_uv_layer(mesh, name):
    if name:
        return mesh.uv_layers.get(name)
    return next((layer for layer in mesh.uv_layers if layer.active_render), mesh.uv_layers.active)


def painting_showings(obj, material, image_node):
    """[(material, image node)] of every material on some object that shows the painting, the object's own first:
    they all get the same warp. Refused when another object already animates the painting, or a material that shows
    it cannot be edited."""
    image = image_node.image
    showings = [(material, image_node)]
    used = {slot.material for other in bpy.data.objects for slot in other.material_slots if slot.material}
    for other in sorted(used - {material}, key=lambda m: m.name):
        if other.node_tree is None:
            continue
        nodes = [n for n in other.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage" and n.image == image]
        if not nodes:
            continue
        if len(nodes) > 1 and other.node_tree.nodes.active not in nodes:
            raise PlaneError(f"Material '{other.name}' shows '{image.name}' through several Image Textures: make the "
                             f"one that moves with this painting the active node")
        library = other.library or (other.override_library.reference.library if other.override_library else None)
        if library is not None:
            raise PlaneError(f"Material '{other.name}' shows the painting but is linked from '{library.filepath}': "
                             f"make it local (Object > Relations > Make Local) so it can move with the painting")
        showings.append((other, other.node_tree.nodes.active if len(nodes) > 1 else nodes[0]))
    shown = {m for m, _ in showings}
    for other in bpy.data.objects:
        settings = getattr(other, "image_dynamics", None)
        if other == obj or settings is None or settings.warp_group is None:
            continue
        baked = {entry.material for entry in settings.warp_materials} | {settings.warp_material}
        if baked & shown:
            raise PlaneError(f"The painting '{image.name}' already moves through '{other.name}': set the layers there "
                             f"(it drives every object that shows the painting), or Clear its motion first")
    return showings


def _fill_triangle(image, corners, values):
    """Write the barycentric interpolation of `values` at the pixel centres inside a triangle (pixel coords)."""
    low = np.maximum(np.floor(corners.min(axis=0) - 0.5), 0).astype(int)
    high = np.minimum(np.ceil(corners.max(axis=0) + 0.5), (image.shape[1] - 1, image.shape[0] - 1)).astype(int)
    if (high < low).any():
        return  # off the painting (a projection wider than it)
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
