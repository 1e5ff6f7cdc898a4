"""Operators: generate and bake, clear, and editing the motion layers and hints."""

import bpy

from . import generate, layers

_classes = generate.classes + layers.classes


def register():
    for cls in _classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
