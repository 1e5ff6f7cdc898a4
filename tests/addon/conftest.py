"""Fixtures for tests that run inside the bpy module with the extension loaded as Blender loads it."""

import json
import os
import shutil
import sys
import tempfile

import bpy
import pytest

from helpers import LOOP
from imgdyn import animate, extension as dev_extension, measure

REPO = dev_extension.REPO_ROOT
SAMPLE_IMAGE = os.path.join(REPO, "samples", "river", "river.png")


@pytest.fixture(scope="session", autouse=True)
def private_temp_folder(tmp_path_factory):
    """The suite, and every process it starts, use a fresh temp folder that must be empty at the end: whatever
    the extension, the command line, the backend or a test leaves in the temp folder fails the suite."""
    tmp_path_factory.getbasetemp()  # pytest's own folders stay in the usual temp folder
    folder = tempfile.mkdtemp(prefix="imgdyn-test-temp-")
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = folder, folder
    try:
        yield folder
        client = sys.modules.get(f"{dev_extension.MODULE}.addon.service.client")
        if client is not None:
            client.stop_shared_client()
        dev_extension.cleanup()
        # Blender removes its own session folder when this process exits (it moved here with factory settings).
        blender_session = os.path.basename(os.path.normpath(bpy.app.tempdir))
        leftovers = sorted(name for name in os.listdir(folder) if name != blender_session)
    finally:
        if saved[0] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[0]
        tempfile.tempdir = saved[1]
        shutil.rmtree(folder, ignore_errors=True)
    assert not leftovers, f"the test session left these in the temp folder: {leftovers}"


@pytest.fixture
def extension():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    dev_extension.enable(device="cpu")
    yield dev_extension.MODULE


def sample_job(loop_frames=LOOP):
    with open(os.path.join(REPO, "samples", "river", "job.json"), encoding="utf-8") as handle:
        job = json.load(handle)
    job.update(loop_frames=loop_frames, working_resolution=48, device="cpu")
    job["layers"] = job["layers"][:1]  # the river only: the sky stays still, to check stillness against
    for hint in job["layers"][0]["hints"]:  # faster than the sample, so that tiny renders show the flow
        hint["velocity"] = [4 * speed for speed in hint["velocity"]]
    return job


@pytest.fixture
def plane(extension):
    """The sample image as a plane with the sample's river layer, a camera and a tiny Cycles set-up."""
    obj = animate.import_plane(SAMPLE_IMAGE)
    animate.apply_job(obj, sample_job(), os.path.dirname(SAMPLE_IMAGE), grid=16)
    animate.setup_scene(obj, LOOP, width=128, samples=1)
    return obj


@pytest.fixture
def render(tmp_path):
    def render_frame(frame):
        return measure.render_frame(frame, str(tmp_path))
    return render_frame
