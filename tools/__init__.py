"""Developer tools: the headless main job, the demo, loading the extension into the bpy module."""
