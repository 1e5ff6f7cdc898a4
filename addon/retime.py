"""Re-time: play a bake over a new frame range without computing the motion again.

The flowing warp stretches its baked frames over the new length; swaying terms keep whole cycles per loop, so
both still loop exactly. Only driver expressions and the basis keyframes' frames change.
"""

import numpy as np

from .animation import fcurves_of
from .bake_shapekeys import COEFFICIENTS
from .bake_warp import atlas_layout
from .rig import frame_atlas_expressions, sway_expression


def retime(settings, loop_start, loop_frames):
    tiles = settings.baked_loop_frames
    group = settings.warp_group
    if group is not None and group.animation_data is not None:
        columns = atlas_layout(tiles, *settings.baked_working_size)[0]
        atlas = frame_atlas_expressions(loop_start, loop_frames, tiles, columns)
        for fcurve in group.animation_data.drivers:
            label = fcurve.data_path.split('"')[1]  # nodes["Label"].outputs[0].default_value
            if label in atlas:
                fcurve.driver.expression = atlas[label]
            else:  # "Cos k" / "Sin k"
                part, k = label.split()
                fcurve.driver.expression = sway_expression(part.lower(), int(k), loop_start, loop_frames)
    key = settings.shape_mesh.shape_keys if settings.shape_mesh is not None else None
    if key is not None and key.animation_data is not None:
        for fcurve in key.animation_data.drivers:
            name = fcurve.data_path.split('"')[1]  # key_blocks["Sway <layer> k cos"].value
            if name.startswith("Sway "):
                k, part = name.split()[-2:]
                fcurve.driver.expression = f"{sway_expression(part, int(k), loop_start, loop_frames)} * s * l"
        frames = loop_start + np.arange(tiles + 1) * loop_frames / tiles
        for fcurve in fcurves_of(key):
            if fcurve.data_path.startswith(f'["{COEFFICIENTS}'):
                coords = np.empty(len(fcurve.keyframe_points) * 2, np.float32)
                fcurve.keyframe_points.foreach_get("co", coords)
                coords[0::2] = frames
                fcurve.keyframe_points.foreach_set("co", coords)
                fcurve.update()
    settings.timing_start, settings.timing_frames = loop_start, loop_frames
