"""What can be checked before a job computes anything: the image's size, the masks' shapes and the memory the
engine's arrays will take. A job that cannot fit stops here with one line naming the setting to change, instead of
a MemoryError (or the system's out-of-memory killer) halfway through.

The per-pixel costs below were measured (peak RSS from getrusage and tracemalloc's peak, CPU path, working
resolutions 512 and 1024); they are estimates with some headroom, not exact counts (test_limits.py holds them to
a real job).
"""

import os

from .errors import InputError, JobSpecError
from .protocol import MAX_ARRAY_BYTES

# Largest image the backend decodes or accepts, in pixels: 134 megapixels (16384 x 8192), above any camera's
# photo; its float copy alone is 2 GiB. Larger pictures are reduced before they are animated.
MAX_IMAGE_PIXELS = 1 << 27


def check_image_size(width, height, what="the image"):
    if width * height > MAX_IMAGE_PIXELS:
        raise InputError(f"{what} is {width}x{height} ({width * height / 1e6:.0f} megapixels); the backend takes at "
                         f"most {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels: reduce it first")


def physical_memory():
    """Bytes of RAM in this computer, or None where the platform does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_job(job, image, arrays):
    """Raise InputError or JobSpecError, with the setting to change, for a job that cannot run as given."""
    shape = getattr(image, "shape", ())
    if len(shape) < 2:
        return  # not an image: the engine says so
    height, width = shape[:2]
    check_image_size(width, height)
    src_w, src_h = job.image_size or (width, height)
    for layer in job.layers:
        for kind, spec in layer.masks(on_still=True):
            if spec.array is not None and spec.array in arrays:
                what = f"the {kind.replace('_', ' ')} of layer '{layer.name}'"
                check_mask_shape(arrays[spec.array], src_w, src_h, what)
    result, peak, biggest = estimate(job, shape)
    if result > MAX_ARRAY_BYTES:
        raise JobSpecError(f"the result would be {_gib(result)}, more than the {_gib(MAX_ARRAY_BYTES)} a result "
                           f"may have (most of it {biggest})")
    memory = physical_memory()
    if memory is not None and peak > memory:
        raise JobSpecError(f"the job needs about {_gib(peak)} of memory, more than this computer's {_gib(memory)} "
                           f"(most of it {biggest})")


def check_mask_shape(array, width, height, what):
    """A mask must have the picture's aspect (at any size): one of another shape would be stretched over it and
    move the wrong places. One pixel of rounding either way is allowed, as a reduced copy has."""
    shape = getattr(array, "shape", ())
    if len(shape) < 2 or not shape[0] or not shape[1]:
        return  # the engine reports a mask that is not an image
    mask_h, mask_w = shape[:2]
    if abs(mask_h - mask_w * height / width) <= 1 or abs(mask_w - mask_h * width / height) <= 1:
        return
    raise InputError(f"{what} is {mask_w}x{mask_h} but the image is {width}x{height}: a mask of another aspect "
                     f"would be stretched; give it the image's aspect (any size)")


def estimate(job, image_shape):
    """(result bytes, peak bytes, what costs most) for a job on an image of this shape; each layer's own part comes
    from its type's engine (backend/engines/)."""
    from .engine import working_size  # imported here, not at the top: __main__ reads MAX_IMAGE_PIXELS before
    from .engines import estimate as layer_estimate  # ... cv2 and torch load
    height, width = image_shape[:2]
    channels = image_shape[2] if len(image_shape) > 2 else 1
    src_w, src_h = job.image_size or (width, height)
    grid_w, grid_h = working_size(src_w, src_h, job.working_resolution)
    pixels = grid_w * grid_h
    result, largest_work, parts = 0, 0, []
    for layer in job.layers:
        layer_result, work, advice = layer_estimate(layer, job, pixels,
                                                    f"layer '{layer.name}' at {grid_w}x{grid_h}")
        result += layer_result
        largest_work = max(largest_work, work)
        parts.append((layer_result + work, advice))
    image = height * width * channels * 4 * 2 + pixels * 32  # its float copy, the guide and the masks
    peak = image + result + largest_work + len(job.layers) * pixels * 16
    biggest = max(parts)[1] if max(parts)[0] >= image else (
        f"the {width}x{height} image; reduce it")
    return result, peak, biggest


def _gib(count):
    return f"{count / 1024 ** 3:.1f} GiB"
