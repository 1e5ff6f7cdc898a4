"""Re-time: play a bake over a new frame range without computing the motion again.

Flowing layers run their streams' clock at baked_frames / loop_frames per scene frame (their clock F-curves are
baked anew); swaying terms keep whole cycles per loop; both still loop exactly.
"""

from .bake_shapekeys import TERMS
from .bake_warp import set_timing
from .clock import bake_clocks
from .rig import sway_expression


def retime(settings, loop_start, loop_frames):
    set_timing(settings, loop_start, loop_frames)
    key = settings.shape_mesh.shape_keys if settings.shape_mesh is not None else None
    if key is not None and key.animation_data is not None:
        for block, term in zip(key.key_blocks[1:], key[TERMS]):
            fcurve = key.animation_data.drivers.find(f'key_blocks["{block.name}"].value')
            part = "cos" if term > 0 else "sin"
            fcurve.driver.expression = f"{sway_expression(part, abs(term), loop_start, loop_frames)} * s * l"
    settings.timing_start, settings.timing_frames = loop_start, loop_frames
    bake_clocks(settings.id_data)
