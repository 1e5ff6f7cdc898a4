"""Checks before computing: picture sizes from file headers, mask shapes, and the memory estimate held against
what a real job takes."""

import io
import struct
import tracemalloc

import cv2
import numpy as np
import pytest

from backend import limits
from backend.engine import run_job
from backend.errors import InputError, JobSpecError
from backend.files import header_size
from backend.jobspec import parse_job


@pytest.mark.parametrize("extension", [".png", ".jpg", ".bmp", ".webp", ".tif"])
def test_header_size_of_every_parsed_format(extension):
    image = np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8)
    assert header_size(io.BytesIO(cv2.imencode(extension, image)[1].tobytes())) == (53, 37)


def test_header_size_walks_past_large_jpeg_segments_and_reads_exr():
    encoded = cv2.imencode(".jpg", np.zeros((20, 30, 3), np.uint8))[1].tobytes()
    app = b"\xff\xe1" + struct.pack(">H", 60002) + bytes(60000)  # an EXIF-sized segment before the frame header
    assert header_size(io.BytesIO(encoded[:2] + app + encoded[2:])) == (30, 20)
    exr = (b"\x76\x2f\x31\x01" + struct.pack("<I", 2) + b"channels\x00chlist\x00" + struct.pack("<I", 0)
           + b"dataWindow\x00box2i\x00" + struct.pack("<I4i", 16, 0, 0, 29999, 19999) + b"\x00")
    assert header_size(io.BytesIO(exr)) == (30000, 20000)
    assert header_size(io.BytesIO(b"not an image at all, just text")) is None


@pytest.mark.parametrize("image, mask", [((640, 360), (64, 36)), ((1000, 562), (512, 288)),
                                         ((562, 1000), (288, 512)), ((7, 3000), (1, 400)), ((640, 360), (640, 360))])
def test_masks_of_the_images_aspect_pass_with_rounding(image, mask):
    limits.check_mask_shape(np.zeros((mask[1], mask[0])), *image, "the mask")


def test_a_mask_of_another_aspect_is_refused():
    with pytest.raises(InputError, match="the mask is 64x64 but the image is 640x360: a mask of another aspect"):
        limits.check_mask_shape(np.zeros((64, 64)), 640, 360, "the mask")


def sway_job(resolution, terms=16):
    return parse_job({"loop_frames": 48, "working_resolution": resolution, "device": "cpu", "layers": [
        {"name": "s", "type": "oscillation", "mask": {"rect": [0, 0, 1, 1]}, "terms": terms}]})


def test_a_job_larger_than_the_computers_memory_names_the_setting(monkeypatch):
    monkeypatch.setattr(limits, "physical_memory", lambda: 1024 ** 3)
    image = np.zeros((1152, 2048, 3), np.float32)
    with pytest.raises(JobSpecError, match=r"the job needs about \d+\.\d GiB of memory, more than this computer's "
                                           r"1\.0 GiB \(most of it layer 's' at 2048x1152: 16 terms; lower its terms"):
        limits.check_job(sway_job(2048), image, {})
    limits.check_job(sway_job(256), image, {})  # the same picture at the default working size fits


@pytest.mark.parametrize("layer", [
    {"type": "fluid", "hints": [{"uv": [0.5, 0.5], "velocity": [2, 0]}], "phase_frames": 48},
    {"type": "drift", "velocity": [2, 0]},
    {"type": "oscillation", "terms": 16}])
def test_the_memory_estimate_covers_a_real_job_without_doubling_it(layer):
    """The peak of the arrays a job allocates (numpy's and OpenCV's, traced by tracemalloc: unlike the resident
    size, it does not depend on what else the machine is doing) is below the estimate, and not far below."""
    job = parse_job({"loop_frames": 48, "working_resolution": 512, "device": "cpu",
                     "layers": [dict({"name": "l", "mask": {"rect": [0, 0, 1, 0.5]}}, **layer)]})
    image = np.random.default_rng(0).random((288, 512, 3)).astype(np.float32)
    tracemalloc.start()
    try:
        run_job(job, image, {}, lambda stage, fraction: None)
        measured = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimated = limits.estimate(job, image.shape)[1]
    assert measured <= estimated <= 2 * measured, (measured >> 20, estimated >> 20)


def test_a_clip_region_has_the_clips_aspect_not_the_stills():
    """clip_mask is drawn on the clip: a square region for a square clip passes over a 16:9 still; the layer's
    own mask of that shape would be refused."""
    job = parse_job({"loop_frames": 12, "working_resolution": 32, "device": "cpu", "layers": [
        {"name": "c", "type": "clip", "clip_array": "clip", "mask": {"rect": [0, 0, 1, 1]},
         "clip_mask": {"array": "region"}}]})
    square = np.ones((40, 40), np.float32)
    image = np.zeros((36, 64, 3), np.float32)
    limits.check_job(job, image, {"clip": np.zeros((4, 40, 40, 3), np.uint8), "region": square})
    job.layers[0].mask = job.layers[0].clip_mask
    with pytest.raises(InputError, match="would be stretched"):
        limits.check_job(job, image, {"region": square})
