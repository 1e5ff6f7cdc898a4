import copy

import pytest

from backend.errors import JobSpecError
from backend.jobspec import parse_job

VALID = {
    "loop_frames": 24,
    "working_resolution": 64,
    "device": "cpu",
    "layers": [{"name": "river", "type": "fluid", "mask": {"rect": [0, 0.2, 1, 0.4]}, "feather": 0.01,
                "hints": [{"uv": [0.5, 0.3], "velocity": [1.5, 0.0]}]}],
}


def test_valid_job_parses():
    job = parse_job(copy.deepcopy(VALID))
    assert job.loop_frames == 24 and job.device == "cpu"
    assert job.layers[0].mask.rect == (0.0, 0.2, 1.0, 0.4)
    assert job.layers[0].hints[0].velocity == (1.5, 0.0)


def mutated(path, value):
    data = copy.deepcopy(VALID)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize("path, value, words", [
    (("speed",), 3, "job: unknown key 'speed'"),
    (("layers", 0, "colour"), "red", r"job.layers\[0\]: unknown key 'colour'"),
    (("layers", 0, "hints", 0, "angle"), 3, r"job.layers\[0\].hints\[0\]: unknown key 'angle'"),
    (("layers", 0, "mask", "circle"), [0, 0, 1], "unknown key 'circle'|exactly one"),
    (("loop_frames",), KeyError, "missing key 'loop_frames'"),
    (("loop_frames",), 0, "loop_frames must be between 2"),
    (("loop_frames",), 2.5, "loop_frames must be a whole number"),
    (("device",), "tpu", "device must be one of"),
    (("layers", 0, "type"), "lava", "type must be one of"),
    (("layers", 0, "hints"), [], "at least one hint"),
    (("layers", 0, "hints", 0, "velocity"), [float("nan"), 0], "finite number"),
    (("layers", 0, "hints", 0, "uv"), [1.5, 0.2], r"uv\[0\] must be between 0.0 and 1.0"),
    (("layers", 0, "mask", "rect"), [0.5, 0.2, 0.1, 0.4], "u0 < u1"),
    (("layers",), [], "non-empty list"),
])
def test_bad_jobs_name_the_bad_key(path, value, words):
    with pytest.raises(JobSpecError, match=words):
        parse_job(mutated(path, value))


def test_layer_names_must_be_unique():
    data = copy.deepcopy(VALID)
    data["layers"].append(copy.deepcopy(data["layers"][0]))
    with pytest.raises(JobSpecError, match="unique"):
        parse_job(data)
