"""The object's controls that every carrier reads: the keyframeable strengths, the pluck, the sway terms' timing.

They are custom properties of the object, so the baked rig plays and renders without the extension."""

STRENGTH = "motion_strength"
PLUCK_GAIN = "motion_pluck_gain"
PLUCK_FRAME = "motion_pluck_frame"
PLUCK_DECAY = "motion_pluck_decay"

# Custom properties (not add-on properties), so that the rig plays and renders without the extension.
RIG_PROPERTIES = (
    (STRENGTH, 1.0, dict(min=0.0, soft_max=2.0, precision=3, description=(
        "How strongly the baked motion plays: 0 is the still image. Keyframe it to ease motion in"))),
    (PLUCK_GAIN, 0.0, dict(soft_min=-5.0, soft_max=5.0, precision=3, description=(
        "Size of the last pluck or gust of the swaying motion (keyframed by Pluck)"))),
    (PLUCK_FRAME, 0.0, dict(precision=1, description="Frame of the last pluck or gust (keyframed by Pluck)")),
    (PLUCK_DECAY, 0.05, dict(min=0.0, soft_max=1.0, precision=3, description=(
        "How fast a pluck dies away: the slowest term loses this share of its swing per frame, faster terms "
        "proportionally more"))),
)


def ensure_rig_properties(obj, layer_strengths=()):
    """The object's rig properties, and a strength per layer (`layer_strengths`: (property, layer name))."""
    wanted = list(RIG_PROPERTIES) + [
        (name, 1.0, dict(min=0.0, soft_max=2.0, precision=3, description=(
            f"How strongly layer '{label}' moves: 0 keeps it still. Keyframe it to ease this layer in or out")))
        for name, label in layer_strengths]
    for name, default, ui in wanted:
        if name not in obj.keys():
            obj[name] = default
        obj.id_properties_ui(name).update(default=default, **ui)


def pluck_variables(obj):
    """Driver variables of the pluck: its gain, decay and frame, read from the object."""
    return (("g", "OBJECT", obj, f'["{PLUCK_GAIN}"]'), ("d", "OBJECT", obj, f'["{PLUCK_DECAY}"]'),
            ("f0", "OBJECT", obj, f'["{PLUCK_FRAME}"]'))


def term_expression(part, k, loop_start, loop_frames):
    """cos or sin of term k (k whole cycles per loop) at the frame: a driver expression."""
    return f"{part}({k} * 2 * pi * ((frame - {loop_start}) / {loop_frames}))"


def sway_expression(part, k, loop_start, loop_frames):
    """Weight of the cos or sin part of term k at the frame: the loop, plus (on the cos part) the damped
    oscillation started by the last pluck, which is 0 before it, rises, and dies away."""
    if part == "sin":
        return term_expression("sin", k, loop_start, loop_frames)
    pluck = (f"g * exp(-d * {k} * (frame - f0)) * sin(2 * pi * {k} * (frame - f0) / {loop_frames}) "
             f"* (frame >= f0)")
    return f"({term_expression('cos', k, loop_start, loop_frames)} + {pluck})"


def layer_strength_name(layer):
    """The keyframeable strength of one layer: a custom property of the object, named by the layer's number."""
    return f"motion_strength_layer{layer.uid}"
