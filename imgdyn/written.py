"""Is a file that Blender wrote complete? On a full disk Blender's writers report success (the .blend says
"Saved", an image saves, a video encodes) and leave files that are empty or cut short; each output is checked
by the end its format must have, and a file written while the drive ran out of space is refused."""

import os
import struct

# Less than this left on the drive right after a write means the write most likely ran out of space.
NEARLY_FULL_BYTES = 1 << 20


class CutShort(RuntimeError):
    """An output was not written to its end."""


def check(path):
    """Raise CutShort unless `path` exists and ends as its format must (PNG, MP4, GIF, .blend); for other
    formats, unless the drive still has room after it."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            complete = size > 0 and _ENDS.get(os.path.splitext(path)[1].lower(), _room_left)(handle, size, path)
    except OSError:
        complete = False
    if not complete:
        raise CutShort(f"'{os.path.basename(path)}' was cut short while being written")


def _tail(handle, size, count):
    handle.seek(max(size - count, 0))
    return handle.read()


def _png(handle, size, path):
    return _tail(handle, size, 8) == b"IEND\xaeB`\x82"  # the closing chunk and its CRC


def _gif(handle, size, path):
    return _tail(handle, size, 1) == b";"  # the trailer


def _blend(handle, size, path):
    tail = _tail(handle, size, 16)
    # Compressed (Blender 5's default): a zstd seek table, whose footer ends with its magic number; else ENDB.
    return tail.endswith(b"\xb1\xea\x92\x8f") or b"ENDB" in tail


def _mp4(handle, size, path):
    """Top-level boxes that tile the file exactly, with the movie header among them (it is written last)."""
    offset, kinds = 0, set()
    while offset < size:
        handle.seek(offset)
        header = handle.read(16)
        if len(header) < 8:
            return False
        length, kind = struct.unpack(">I4s", header[:8])
        if length == 1 and len(header) == 16:
            length = struct.unpack(">Q", header[8:])[0]
        elif length == 0:
            length = size - offset
        if length < 8:
            return False
        kinds.add(kind)
        offset += length
    return offset == size and b"moov" in kinds


def _room_left(handle, size, path):
    free = free_bytes(os.path.dirname(os.path.abspath(path)))
    return free is None or free >= NEARLY_FULL_BYTES


def free_bytes(path):
    """Bytes this process may still write on the drive of `path` (None if unknown)."""
    try:
        stats = os.statvfs(path)
    except OSError:
        return None
    return (stats.f_bfree if os.geteuid() == 0 else stats.f_bavail) * stats.f_frsize  # root: reserved blocks too


_ENDS = {".png": _png, ".gif": _gif, ".blend": _blend, ".mp4": _mp4}
