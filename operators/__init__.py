"""Operators: generate and bake, cancel, clear, edit the motion layers and hints, check and install the backend."""

import bpy

from . import backend, generate, layers

_classes = generate.classes + layers.classes + backend.classes


def register():
    for cls in _classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
