"""Layer masks at the working resolution: from a UV rectangle or an image, with a soft inner edge."""

import cv2
import numpy as np

from .errors import InputError


def to_float_image(array, what):
    """Any 2-D or 3-D image array (uint8, uint16 or float) as float32 in 0..1, rows top to bottom."""
    array = np.asarray(array)
    if array.ndim not in (2, 3) or array.shape[0] < 1 or array.shape[1] < 1 or (
            array.ndim == 3 and not 1 <= array.shape[2] <= 4):
        raise InputError(f"{what} must be an image of shape (height, width) or (height, width, 1-4 channels), "
                         f"got {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if array.dtype.kind == "f":
        result = array.astype(np.float32)
        if not np.isfinite(result).all():
            raise InputError(f"{what} contains NaN or infinite values")
        return result
    raise InputError(f"{what} has pixel type {array.dtype}, expected 8-bit, 16-bit or float")


def rect_mask(rect, width, height):
    """1 where a pixel centre lies inside the UV rectangle (v up), else 0."""
    u0, v0, u1, v1 = rect
    u = (np.arange(width, dtype=np.float32) + 0.5) / width
    v = 1.0 - (np.arange(height, dtype=np.float32) + 0.5) / height
    inside_u = (u >= u0) & (u <= u1)
    inside_v = (v >= v0) & (v <= v1)
    return (inside_v[:, None] & inside_u[None, :]).astype(np.float32)


def mask_grey(image, combine=np.mean):
    """A float mask image (H, W) or (H, W, 1-4) as one value per pixel: its grey level (`combine` of R, G and B),
    times its alpha when it has one, so that a transparent pixel counts as black whatever its colour."""
    if image.ndim == 2:
        return image
    channels = image.shape[2]
    grey = combine(image[..., :3], axis=2) if channels >= 3 else image[..., 0]
    if channels in (2, 4):  # grey + alpha, or RGBA
        grey = grey * image[..., -1]
    return grey


def image_mask(array, width, height, what):
    """Grey level of a mask image (times its alpha), resized to the working grid."""
    image = mask_grey(to_float_image(array, what))
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return np.clip(resized, 0.0, 1.0).astype(np.float32)


def rect_coverage(rect, width, height):
    """Share of each pixel's area inside the UV rectangle (v up): 1 only for pixels wholly inside it."""
    u0, v0, u1, v1 = rect
    u_edges = np.arange(width + 1, dtype=np.float64) / width
    v_edges = 1.0 - np.arange(height + 1, dtype=np.float64) / height
    along_u = np.clip(np.minimum(u_edges[1:], u1) - np.maximum(u_edges[:-1], u0), 0, None) * width
    along_v = np.clip(np.minimum(v_edges[:-1], v1) - np.maximum(v_edges[1:], v0), 0, None) * height
    return (along_v[:, None] * along_u[None, :]).astype(np.float32)


def image_coverage(array, width, height):
    """Share of each working pixel's area where the mask image is not black."""
    image = mask_grey(to_float_image(array, "the mask"), np.max)
    return cv2.resize((image > 0).astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)


def interior(coverage):
    """Pixels that may move when the motion is drawn at any larger size: those whose 3x3 neighbourhood lies
    wholly inside the mask. A renderer interpolates the working grid bilinearly between the four pixel centres
    around a point; if any of them could move, a point just outside the mask would move too. So the motion is
    kept at zero on every pixel within one pixel of the mask's edge, and nothing outside it moves at any size."""
    whole = (coverage >= 1.0 - 1e-4).astype(np.uint8)
    return cv2.erode(whole, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE).astype(np.float32)


def feather_inside(mask, feather_px):
    """Fade the mask to zero over `feather_px` pixels inside its edge; it stays exactly zero outside."""
    if feather_px < 0.5:
        return mask
    inside = (mask > 0).astype(np.uint8)
    distance = cv2.distanceTransform(np.pad(inside, 1, constant_values=0), cv2.DIST_L2, 5)[1:-1, 1:-1]
    return mask * np.clip(distance / feather_px, 0.0, 1.0).astype(np.float32)


def pin_factor(pins, pin_mask, falloff_px, width, height):
    """0 on pinned pixels (disks around pin points, and where the pin mask is over one half), rising to 1 over
    `falloff_px` pixels away from them: the motion fades in smoothly around what must not move."""
    pinned = np.zeros((height, width), np.uint8)
    if pin_mask is not None:
        pinned[pin_mask > 0.5] = 1
    for pin in pins:
        centre = (int(round(pin.uv[0] * width - 0.5)), int(round((1.0 - pin.uv[1]) * height - 0.5)))
        cv2.circle(pinned, centre, int(round(pin.radius * width)), 1, thickness=-1)
    if not pinned.any():
        return np.ones((height, width), np.float32)
    distance = cv2.distanceTransform((1 - pinned).astype(np.uint8), cv2.DIST_L2, 5)
    if falloff_px < 0.5:
        return (distance > 0).astype(np.float32)
    return np.clip(distance / falloff_px, 0.0, 1.0).astype(np.float32)
