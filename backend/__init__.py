"""The motion backend: runs in its own Python (torch, numpy, opencv), never imports bpy.

Start it as a service with `python -m backend`, or run one job with `python -m backend generate ...`.
Only `protocol` and `errors` may be imported by the Blender side: they need nothing but numpy.
"""

__version__ = "0.1.0"
