"""What both bake writers share: the keyframeable strength, the loop timing, sampling the backend's arrays."""

import numpy as np

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


def ensure_rig_properties(obj):
    for name, default, ui in RIG_PROPERTIES:
        if name not in obj.keys():
            obj[name] = default
        obj.id_properties_ui(name).update(default=default, **ui)


def pluck_variables(obj):
    """Driver variables of the pluck: its gain, decay and frame, read from the object."""
    return (("g", "OBJECT", obj, f'["{PLUCK_GAIN}"]'), ("d", "OBJECT", obj, f'["{PLUCK_DECAY}"]'),
            ("f0", "OBJECT", obj, f'["{PLUCK_FRAME}"]'))


def tile_index_expression(loop_start, loop_frames, tiles):
    """Which of the `tiles` baked frames shows at the scene frame: the loop of `loop_frames` frames from
    `loop_start`, repeating before and after it, stretched over the tiles when Re-time changed its length."""
    offset = f"(frame - {loop_start})"
    within = f"({offset} - {loop_frames} * floor({offset} / {loop_frames}))"
    if tiles == loop_frames:
        return f"floor({within})"
    return f"floor({within} * {tiles} / {loop_frames})"


def frame_atlas_expressions(loop_start, loop_frames, tiles, columns):
    """Drivers of the flowing warp: the atlas column and row of the frame's tile, and the cross-fade weight."""
    index = tile_index_expression(loop_start, loop_frames, tiles)
    return {"Column": f"{index} - {columns} * floor({index} / {columns})", "Row": f"floor({index} / {columns})",
            "Weight": f"{index} / {tiles}"}


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


def composite_lookup(result, meta):
    """Sum of the flowing layers' lookups, (2, T, H, W, 2) in UV units, and the cross-fade weights (T, 2);
    (None, None) when no layer flows."""
    flowing = [layer["prefix"] for layer in meta["layers"] if layer["result"] == "lookup"]
    if not flowing:
        return None, None
    lookup = sum(result[f"{prefix}_lookup"] for prefix in flowing)
    return lookup.astype(np.float32), result[f"{flowing[0]}_weights"]


def composite_spectrum(result, meta):
    """Sum of the swaying layers' spectra, (K, H, W, 4): Re u, Re v, Im u, Im v of the displacement of term
    k + 1 (frequency k + 1 cycles per loop), in UV units; None when no layer sways."""
    spectra = [result[f"{layer['prefix']}_spectrum"] for layer in meta["layers"] if layer["result"] == "spectrum"]
    if not spectra:
        return None
    total = np.zeros((max(len(s) for s in spectra),) + spectra[0].shape[1:], np.float32)
    for spectrum in spectra:
        total[: len(spectrum)] += spectrum
    return total


def sample_at_uv(field, uv):
    """Bilinear samples of an image-ordered (H, W, ...) array at UV points (N, 2) -> (N, ...)."""
    height, width = field.shape[:2]
    x = np.clip(uv[:, 0] * width - 0.5, 0, width - 1)
    y = np.clip((1.0 - uv[:, 1]) * height - 0.5, 0, height - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = x - x0, y - y0
    extra = (slice(None),) + (None,) * (field.ndim - 2)
    fx, fy = fx[extra], fy[extra]
    top = field[y0, x0] * (1 - fx) + field[y0, x1] * fx
    bottom = field[y1, x0] * (1 - fx) + field[y1, x1] * fx
    return top * (1 - fy) + bottom * fy
