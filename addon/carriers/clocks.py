"""Flowing layers take their strength as speed: each one's streams run on a clock that advances, frame by frame,
by the strength of that frame (the object's motion_strength times the layer's own). Scaling a flow's lookups
instead would slide the picture back upstream whenever the strength falls.

The clock is baked data: an F-curve of the running sum on a custom property of the object
(`motion_clock_layerN`), read by the warp's driver. It plays and renders without the extension and without
Python; the extension keeps it up to date whenever the strength's keyframes or values change (a depsgraph
handler), and Generate and Re-time bake it anew. At a constant strength of 1 the clock is the frame count since
the loop's start, so the loop repeats every T frames; at a constant strength s, every T / s frames.
"""

import bpy

from ..animation import ensure_fcurve, fcurves_of, remove_fcurve, set_linear_keys
from ..rig import STRENGTH

CLOCK_DESCRIPTION = ("The flowing layer's clock: the running sum of its strength, baked by Image Dynamics whenever "
                     "the strength changes (edit the strength, not this)")
# Keys beyond the frame range on each side, so that a little before and after it still plays from real keys.
MARGIN_FRAMES = 2

_fingerprints = {}


def clock_name(strength_name):
    """The clock property that goes with a flowing layer's strength property."""
    return strength_name.replace(STRENGTH, "motion_clock", 1)


def strength_values(obj, name, frames):
    """The property's value at each frame: its F-curve where it is keyframed, else its value now."""
    fcurve = next((curve for curve in fcurves_of(obj) if curve.data_path == f'["{name}"]'), None)
    if fcurve is None:
        return [float(obj.get(name, 1.0))] * len(frames)
    return [fcurve.evaluate(frame) for frame in frames]


def clock_values(obj, layer_strength, frames, loop_start, ratio):
    """The clock at each of `frames` (consecutive whole frames): 0 at `loop_start`, growing by the mean strength
    of each pair of neighbouring frames (a continuous clock), times `ratio` (Re-time's baked / played frames)."""
    strengths = [max(a * b, 0.0) for a, b in zip(strength_values(obj, STRENGTH, frames),
                                                   strength_values(obj, layer_strength, frames))]
    running = [0.0]
    for before, after in zip(strengths, strengths[1:]):
        running.append(running[-1] + 0.5 * (before + after))
    origin = running[frames.index(loop_start)] if loop_start in frames else 0.0
    return [ratio * (value - origin) for value in running]


def flowing_strengths(settings):
    return [entry.strength for entry in settings.warp_images if entry.kind == "AGES"]


def strength_paths(settings):
    """The data paths of the properties the clocks are made of."""
    return [f'["{STRENGTH}"]'] + [f'["{strength}"]' for strength in flowing_strengths(settings)]


def bake_clocks(obj, scene=None):
    """Write every flowing layer's clock F-curve of the object for the scene's frame range (and its loop)."""
    settings = obj.image_dynamics
    strengths = flowing_strengths(settings)
    if not strengths or settings.timing_frames <= 0:
        return
    scene = scene or bpy.context.scene
    # The scene's range, the loop, and every strength key: past the last key the strength holds, so the clock's
    # straight extrapolation is exact there.
    keyed = [frame for fcurve in fcurves_of(obj) if fcurve.data_path in strength_paths(settings)
             for frame in fcurve.range()]
    first = int(min([scene.frame_start, settings.timing_start] + keyed)) - MARGIN_FRAMES
    last = int(max([scene.frame_end, settings.timing_start + settings.timing_frames] + keyed)) + 1 + MARGIN_FRAMES
    frames = list(range(first, last + 1))
    ratio = settings.baked_loop_frames / settings.timing_frames
    for strength in strengths:
        name = clock_name(strength)
        if name not in obj.keys():
            obj[name] = 0.0
            obj.id_properties_ui(name).update(description=CLOCK_DESCRIPTION)
        values = clock_values(obj, strength, frames, settings.timing_start, ratio)
        fcurve = ensure_fcurve(obj, f'["{name}"]', 0, f"{obj.name} Motion")
        set_linear_keys(fcurve, frames, values)  # past the ends the clock runs on
    _fingerprints[obj.as_pointer()] = fingerprint(obj, scene)


def remove_clocks(obj, strengths):
    names = [clock_name(strength) for strength in strengths]
    for fcurve in [curve for curve in fcurves_of(obj) if curve.data_path in {f'["{name}"]' for name in names}]:
        remove_fcurve(obj, fcurve)
    anim = obj.animation_data
    if anim is not None and anim.action is not None and not len(fcurves_of(obj)):
        action, anim.action = anim.action, None  # it held only the clocks: it was ours (the drivers stay)
        if action.users == 0:
            bpy.data.actions.remove(action)
    for name in names:
        if name in obj.keys():
            del obj[name]
    _fingerprints.pop(obj.as_pointer(), None)


def fingerprint(obj, scene):
    """What the clocks depend on: the strengths' keys and values, the timing and the scene's frame range."""
    settings = obj.image_dynamics
    names = strength_paths(settings)
    keys = []
    for fcurve in fcurves_of(obj):
        if fcurve.data_path in names:
            keys.append((fcurve.data_path, tuple((tuple(point.co), tuple(point.handle_left), tuple(point.handle_right),
                                                  point.interpolation) for point in fcurve.keyframe_points),
                         tuple(modifier.type for modifier in fcurve.modifiers), fcurve.mute))
    values = tuple(round(float(obj.get(name[2:-2], 1.0)), 6) for name in names)
    return (tuple(sorted(keys)), values, settings.timing_start, settings.timing_frames, settings.baked_loop_frames,
            scene.frame_start, scene.frame_end)


@bpy.app.handlers.persistent
def keep_clocks_current(scene, depsgraph=None):
    """After any change: re-bake the clocks of planes whose strength (or timing) changed since their last bake."""
    for obj in scene.objects:
        settings = getattr(obj, "image_dynamics", None)
        if settings is None or not settings.is_baked or not flowing_strengths(settings):
            continue
        if _fingerprints.get(obj.as_pointer()) != fingerprint(obj, scene):
            bake_clocks(obj, scene)


def register():
    bpy.app.handlers.depsgraph_update_post.append(keep_clocks_current)


def unregister():
    if keep_clocks_current in bpy.app.handlers.depsgraph_update_post:
        bpy.app.handlers.depsgraph_update_post.remove(keep_clocks_current)
