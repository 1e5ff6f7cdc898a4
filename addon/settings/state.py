"""Whether a plane's bake still matches its settings: a cheap fingerprint of everything that shapes the motion."""

import hashlib

IGNORED = {"rna_type", "name", "uid"}


def motion_signature(obj, scene):
    """A short hash of the layers, their guides' placements, the loop and the resolutions."""
    settings = obj.image_dynamics
    parts = [settings.loop_frames or (scene.frame_start, scene.frame_end), settings.working_resolution,
             settings.grid_resolution]
    for layer in settings.layers:
        parts.append(_group_values(layer))
    return hashlib.sha1(repr(parts).encode("utf-8")).hexdigest()[:16]


def _group_values(group):
    values = []
    for prop in group.bl_rna.properties:
        if prop.identifier in IGNORED:
            continue
        value = getattr(group, prop.identifier)
        if prop.type == "COLLECTION":
            values.append([_group_values(item) for item in value])
        elif prop.type == "POINTER":
            values.append(_pointer_value(value))
        elif hasattr(value, "__len__") and not isinstance(value, str):
            values.append(tuple(round(v, 6) if isinstance(v, float) else v for v in value))
        else:
            values.append(round(value, 6) if isinstance(value, float) else value)
    return values


def _pointer_value(value):
    if value is None:
        return None
    if hasattr(value, "matrix_world"):  # a guide: where it is and how it is turned and scaled
        return (value.name, tuple(round(c, 6) for row in value.matrix_world for c in row),
                getattr(value, "empty_display_size", None))
    return value.name
