"""Operators: generate and bake, cancel, clear, edit the motion layers and hints, export, check and install the
backend. When they can run is said once, in polls.py."""

import bpy

from . import backend, exports, generate, layers

_classes = generate.classes + layers.classes + exports.classes + backend.classes


register, unregister = bpy.utils.register_classes_factory(_classes)
