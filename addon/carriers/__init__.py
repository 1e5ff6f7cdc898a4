"""The carriers: where baked motion plays. Every bake is made for all of them, and each is one module with the
same interface, so a new carrier is a module and a line in CARRIERS:

    build(plane, settings, motion, (loop_start, loop_frames), grid_resolution) -> staged data (None: nothing)
    discard(staged)                          remove what build made (after a failure)
    install(plane, settings, staged)         show it, and record on the settings what it made
    retime(settings, loop_start, loop_frames) play the bake over another frame range, from what it recorded
    show(settings, sway_here)                whether swaying layers play on this carrier
    remove(obj, settings)                    take the bake off again

texture (a node group in place of the image texture: flowing, swaying and flickering layers) and geometry (shape
keys on a grid mesh: swaying layers only, a mesh cannot flow; only for a lone flat plane). The flowing layers'
clocks (clocks.py) run both.
"""

from . import clocks, geometry, texture
from .motion import Motion, MotionPart, check_result  # noqa: F401
from ..rig import ensure_rig_properties

CARRIERS = (texture, geometry)
# Where swaying layers play, by the settings' carrier choice ("Sway On").
SWAY_CARRIER = {"TEXTURE": texture, "GEOMETRY": geometry}


def bake(plane, settings, motion, loop_start, loop_frames, grid_resolution, signature=""):
    """Build the new bake on every carrier completely, then swap it in for the old one: a failure leaves the old
    bake as it was. Returns the number of shape keys made."""
    obj = plane.obj
    staged = []
    try:
        for carrier in CARRIERS:
            staged.append(carrier.build(plane, settings, motion, (loop_start, loop_frames), grid_resolution))
    except BaseException:
        for carrier, made in zip(CARRIERS, staged):
            carrier.discard(made)
        raise
    clear(obj, settings)
    # only now: a failed bake must not leave properties behind
    ensure_rig_properties(obj, [(part.strength, part.label) for part in motion.parts])
    obj.update_tag()  # the drivers read the new properties from the evaluated object: it must get them
    for carrier, made in zip(CARRIERS, staged):
        carrier.install(plane, settings, made)
    settings.baked_loop_start, settings.baked_loop_frames = loop_start, loop_frames
    settings.timing_start, settings.timing_frames = loop_start, loop_frames
    settings.baked_signature = signature
    settings.baked_working_size = motion.working_size
    apply_carrier(obj, settings)
    clocks.bake_clocks(obj)
    shapes = staged[CARRIERS.index(geometry)]
    return shapes[1] if shapes is not None else 0


def clear(obj, settings):
    clocks.remove_clocks(obj, clocks.flowing_strengths(settings))
    for carrier in CARRIERS:
        carrier.remove(obj, settings)
    settings.baked_loop_start = settings.baked_loop_frames = 0
    settings.baked_signature = ""


def retime(settings, loop_start, loop_frames):
    """Play the bake over a new frame range without computing the motion again: flowing layers run their clocks
    at baked frames / loop frames per scene frame (clock F-curves baked anew); swaying terms keep whole cycles
    per loop; both still loop exactly."""
    for carrier in CARRIERS:
        carrier.retime(settings, loop_start, loop_frames)
    settings.timing_start, settings.timing_frames = loop_start, loop_frames
    clocks.bake_clocks(settings.id_data)


def apply_carrier(obj, settings):
    """Swaying layers are baked on every carrier that can carry them; show them on the chosen one (on the texture
    when the geometry made none: a projected matte, a card, a shared painting). Flowing layers always play on the
    texture."""
    chosen = SWAY_CARRIER[settings.carrier]
    if chosen is geometry and settings.shape_mesh is None:
        chosen = texture
    for carrier in CARRIERS:
        carrier.show(settings, chosen is carrier)
