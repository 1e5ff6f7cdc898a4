"""Blender side of the extension: properties, preferences, panels, the backend client and the bake writers."""

import time

import bpy

from . import preferences
from .carriers import clocks
from .service import client as backend_client
from .service.worker import active_job
from .settings import properties
from .ui import overlay, panels

_modules = (preferences, properties, panels, clocks)
IDLE_CHECK_S = 30.0


def _stop_idle_backend():
    """Timer: free the backend's memory once it has had no job for the idle time set in the preferences."""
    client, prefs = backend_client.current_client(), preferences.get_preferences()
    if client is not None and prefs is not None and prefs.idle_timeout > 0 and active_job() is None:
        if client.alive and time.monotonic() - client.last_activity > prefs.idle_timeout * 60:
            backend_client.stop_shared_client()
    return IDLE_CHECK_S


def register():
    for module in _modules:
        module.register()
    bpy.app.timers.register(_stop_idle_backend, first_interval=IDLE_CHECK_S, persistent=True)


def unregister():
    if bpy.app.timers.is_registered(_stop_idle_backend):
        bpy.app.timers.unregister(_stop_idle_backend)
    backend_client.stop_shared_client()
    overlay.remove()
    for module in reversed(_modules):
        module.unregister()
