"""Blender side of the extension: properties, preferences, panels, the backend client and the bake writers."""

from . import backend_client, panels, preferences, properties

_modules = (preferences, properties, panels)


def register():
    for module in _modules:
        module.register()


def unregister():
    backend_client.stop_shared_client()
    for module in reversed(_modules):
        module.unregister()
