"""What both bake writers share: the keyframeable strength, the loop timing, the backend's layers."""

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


def sway_expression(part, k, loop_start, loop_frames):
    """Weight of the cos or sin part of term k at the frame: the loop, plus (on the cos part) the damped
    oscillation started by the last pluck, which is 0 before it, rises, and dies away."""
    phase = f"2 * pi * ((frame - {loop_start}) / {loop_frames})"
    if part == "sin":
        return f"sin({k} * {phase})"
    pluck = (f"g * exp(-d * {k} * (frame - f0)) * sin(2 * pi * {k} * (frame - f0) / {loop_frames}) "
             f"* (frame >= f0)")
    return f"(cos({k} * {phase}) + {pluck})"


def loop_timing(scene, settings):
    """(first frame, frames per loop): the scene's frame range unless the plane sets its own loop length."""
    frames = settings.loop_frames or (scene.frame_end - scene.frame_start + 1)
    return scene.frame_start, frames


def layer_strength_name(layer):
    """The keyframeable strength of one layer: a custom property of the object, named by the layer's number."""
    return f"motion_strength_layer{layer.uid}"


class MotionPart:
    """One layer's baked motion: flowing lookups by stream age (2H + 1, H, W, 2) with the streams' period in
    frames, or a swaying spectrum (K, H, W, 4) of Re u, Re v, Im u, Im v per term k = 1..K; in UV units."""

    def __init__(self, label, strength, lookup=None, period=0, spectrum=None):
        self.label, self.strength = label, strength
        self.lookup, self.period, self.spectrum = lookup, period, spectrum


def motion_parts(result, meta, strengths):
    """The backend's layers, in job order, each with the name of its strength property."""
    parts = []
    for layer, strength in zip(meta["layers"], strengths, strict=True):
        prefix = layer["prefix"]
        if layer["result"] == "lookup":
            parts.append(MotionPart(layer["name"], strength, lookup=result[f"{prefix}_lookup"],
                                    period=int(layer["phase_frames"])))
        else:
            parts.append(MotionPart(layer["name"], strength, spectrum=result[f"{prefix}_spectrum"]))
    return parts
