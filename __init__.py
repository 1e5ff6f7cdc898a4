"""Image Dynamics: make a still image on a plane move in a seamless loop.

The Blender side (addon/, operators/) asks a backend process (backend/, its own Python with torch) for
per-pixel displacement sequences and bakes them into shape keys and a texture warp.
"""


def register():
    # Imported here, not at the top: the backend's Python (no bpy) also sees this folder as a package.
    from . import addon, operators
    addon.register()
    operators.register()


def unregister():
    from . import addon, operators
    operators.unregister()
    addon.unregister()
