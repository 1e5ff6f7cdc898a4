"""One place per idea: each layer type and each of its parameters is declared once (layertypes/), every other
part is built from the declarations, and the docs and engines keep up with them."""

import glob
import json
import os
import re

from backend.engines import ENGINES
from backend.jobspec import parse_job
from layertypes import LAYER_TYPES

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CODE = ("addon", "operators", "backend", "imgdyn", "layertypes")
# The hint list is also an editable collection of the add-on (drawn in the panel, added and removed by its own
# operators), so it is named there by what it is; every other parameter follows the bound.
EDITED_IN_BLENDER = {"hints"}


def code_files():
    for folder in CODE:
        yield from glob.glob(os.path.join(REPO, folder, "**", "*.py"), recursive=True)


def files_using(key):
    """Code files that use `key` as a layer parameter: `layer.key` / `spec.key`, or the quoted key on a line about
    a layer or a job's layer spec (a dict entry, a property name), plus the declaration itself."""
    attribute = re.compile(rf"\b(layer|spec)\.{key}\b")
    quoted = re.compile(rf"[\"']{key}[\"']")
    declared = re.compile(rf"Param\(\s*[\"']{key}[\"']")
    found = set()
    for path in code_files():
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if declared.search(text) or any(attribute.search(line) or (quoted.search(line) and
                                                                  re.search(r"\b(layer|spec)\b", line))
                                        for line in text.splitlines()):
            found.add(os.path.relpath(path, REPO))
    return found


def test_no_layer_parameter_is_spelled_in_more_than_three_code_files():
    """Three files per declaration: two types may each declare their own parameter of one name (a sway's scale
    and a flicker's are different settings with their own defaults), each in its module with its engine."""
    declarations = {}
    for declared in LAYER_TYPES.values():
        for param in declared.params:
            declarations.setdefault(param.key, set()).add((param.default, param.help))
    for key, distinct in declarations.items():
        if key in EDITED_IN_BLENDER:
            continue
        files = files_using(key)
        assert len(files) <= 3 * len(distinct), f"{key} is spelled in {sorted(files)}"
        assert any(path.startswith("layertypes") for path in files), f"{key} has no declaration"


def test_the_job_spec_documents_every_declared_parameter_with_its_default():
    with open(os.path.join(REPO, "docs", "job-spec.md"), encoding="utf-8") as handle:
        rows = [line for line in handle if line.startswith("|")]
    for declared in LAYER_TYPES.values():
        for param in declared.params:
            matching = [line for line in rows if f"`{param.key}`" in line.split("|")[1]]
            assert matching, f"docs/job-spec.md has no row for {declared.name}.{param.key}"
            if param.default not in (None, ()):
                default = param.default
                shown = (str(default).lower() if isinstance(default, bool) else
                         f"{default:g}" if isinstance(default, float) else
                         ", ".join(f"{c:g}" for c in default) if isinstance(default, tuple) else str(default))
                assert any(re.search(rf"(?<![\w.]){re.escape(shown)}\b", row) for row in matching), \
                    f"docs/job-spec.md: {declared.name}.{param.key} should say its default {shown}: {matching}"


def test_every_layer_type_has_an_engine_and_its_name_dispatches_nowhere_else():
    assert set(ENGINES) == set(LAYER_TYPES)
    for name in LAYER_TYPES:
        compared = re.compile(rf"type\w*\)?\s*(==|!=)\s*[\"']{name}[\"']|[\"']{name.upper()}[\"']")
        dispatching = [path for path in code_files() if compared.search(open(path, encoding="utf-8").read())]
        assert dispatching == [], f"the type {name!r} is compared by name in {dispatching}"


def test_every_shipped_job_file_still_loads():
    jobs = glob.glob(os.path.join(REPO, "samples", "*", "job.json"))
    assert len(jobs) >= 5
    for path in jobs:
        with open(path, encoding="utf-8") as handle:
            assert parse_job(json.load(handle)).layers
