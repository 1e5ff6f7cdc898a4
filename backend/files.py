"""Image files read and written as bytes, decoded and encoded in memory.

OpenCV's file functions take a path as UTF-8 text and crash the process (a segfault, not an exception) on a name
that is not valid UTF-8, which Python holds with surrogate escapes. So every image goes through Python's own file
functions, which take any name the system does, and cv2.imdecode / cv2.imencode. A picture's size is read from
its header before it is decoded, so that a small file of huge dimensions (a "decompression bomb") is refused
before it takes gigabytes.
"""

import os
import struct

import cv2
import numpy as np

from .errors import InputError
from .limits import MAX_IMAGE_PIXELS, check_image_size


def read_image(path, flags, what):
    """The decoded image (OpenCV's channel order), or InputError with one line saying what is wrong."""
    try:
        with open(path, "rb") as handle:
            size = header_size(handle)
            if size is not None:
                check_image_size(*size, what=f"{what} '{shown(path)}'")
            handle.seek(0)
            data = np.frombuffer(handle.read(), np.uint8)
    except OSError as exc:
        raise InputError(f"cannot read {what} '{shown(path)}': {exc.strerror or exc}") from None
    try:
        image = cv2.imdecode(data, flags) if data.size else None
    except cv2.error as exc:  # OPENCV_IO_MAX_IMAGE_PIXELS (set by __main__) for a format without a parsed header
        if "CV_IO_MAX_IMAGE_PIXELS" in str(exc):
            raise InputError(f"{what} '{shown(path)}' has more than {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels; "
                             f"reduce it first") from None
        image = None
    if image is None:
        raise InputError(f"cannot read {what} '{shown(path)}': it is not an image OpenCV can decode")
    return image


def write_image(path, image):
    """Encode by the file's extension and write; False when OpenCV cannot encode it so."""
    ok, encoded = cv2.imencode(os.path.splitext(path)[1] or ".png", image)
    if not ok:
        return False
    with open(path, "wb") as handle:
        handle.write(encoded.tobytes())
    return True


def opencv_path(path, what):
    """A path OpenCV may be given (video files): refused with one line when its name is not valid UTF-8."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"the name of {what} '{shown(path)}' is not valid UTF-8, which OpenCV cannot open: "
                         f"rename it") from None
    return path


def shown(path):
    """A path as text that can always be printed and sent: undecodable bytes appear as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace") if isinstance(path, str) else repr(path)


def header_size(handle):
    """(width, height) from a PNG, JPEG, BMP, WebP, TIFF or OpenEXR header, or None when the format is not one of
    these or the header is damaged (decoding then decides)."""
    start = handle.read(32)
    try:
        if start.startswith(b"\x89PNG\r\n\x1a\n") and start[12:16] == b"IHDR":
            return struct.unpack(">II", start[16:24])
        if start.startswith(b"\xff\xd8"):
            return _jpeg_size(handle)
        if start.startswith(b"BM"):
            width, height = struct.unpack("<ii", start[18:26])
            return abs(width), abs(height)
        if start.startswith(b"RIFF") and start[8:12] == b"WEBP":
            return _webp_size(start)
        if start[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_size(handle, "<" if start[:2] == b"II" else ">")
        if start.startswith(b"\x76\x2f\x31\x01"):
            return _exr_size(handle)
    except (struct.error, ValueError, OverflowError):
        return None
    return None


def _jpeg_size(handle):
    handle.seek(2)
    while True:
        marker = handle.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        if marker[1] in (0xD8, 0x01) or 0xD0 <= marker[1] <= 0xD7:  # markers without a length
            continue
        (length,) = struct.unpack(">H", handle.read(2))
        if 0xC0 <= marker[1] <= 0xCF and marker[1] not in (0xC4, 0xC8, 0xCC):  # a start of frame
            height, width = struct.unpack(">xHH", handle.read(5))
            return width, height
        handle.seek(length - 2, os.SEEK_CUR)


def _webp_size(start):
    chunk = start[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", start[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(start[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(start[24:27], "little") + 1, int.from_bytes(start[27:30], "little") + 1
    return None


def _tiff_size(handle, order):
    handle.seek(4)
    (offset,) = struct.unpack(order + "I", handle.read(4))
    handle.seek(offset)
    (count,) = struct.unpack(order + "H", handle.read(2))
    size = {}
    for _ in range(min(count, 4096)):
        tag, kind, _, value = struct.unpack(order + "HHI4s", handle.read(12))
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT or LONG
            size[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), value[:2 if kind == 3 else 4])[0]
    return (size[256], size[257]) if len(size) == 2 else None


def _exr_size(handle):
    handle.seek(8)
    header = handle.read(1 << 16)
    at = header.find(b"dataWindow\x00box2i\x00")
    if at < 0:
        return None
    x0, y0, x1, y1 = struct.unpack("<4i", header[at + 21:at + 37])  # after the name, type and a 4-byte size
    return x1 - x0 + 1, y1 - y0 + 1
