"""The headless command line of Image Dynamics: `python -m imgdyn animate IMAGE ...` with the Blender
environment's Python (the bpy module). It loads this working copy as an extension and drives it like a user."""
