"""Framed messages between Blender and the backend: a JSON header and raw array bytes, never pickle.

A frame on the wire:
    b"IDYN" | uint32 little-endian header length | UTF-8 JSON header | raw bytes of each array, in order
The header is a JSON object with a "type" and, when arrays follow, "arrays": [{"name", "dtype", "shape"}].
Arrays are C-ordered and little-endian; only the dtypes in DTYPES travel.
Both sides import this module, so it needs nothing but the standard library and numpy.
"""

import json
import re
import struct

import numpy as np

from .errors import ProtocolError

PROTOCOL_VERSION = 1
MAGIC = b"IDYN"
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_ARRAY_BYTES = 8 * 1024 ** 3
MAX_HEADER_DEPTH = 32  # a job is about 6 deep
MAX_DIMS = 8
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string, escapes included
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
DTYPES = {"float32": "<f4", "float16": "<f2", "float64": "<f8", "uint8": "|u1", "uint16": "<u2", "int32": "<i4"}


class TruncatedFrame(ProtocolError):
    """The stream ended inside a frame: the other side (or the connection to it) went away mid-message."""


def write_message(stream, header, arrays=None):
    """Write one frame. `arrays` maps names to numpy arrays; they are sent in insertion order."""
    arrays = arrays or {}
    specs, blobs = [], []
    for name, array in arrays.items():
        array = np.asarray(array)
        dtype_name = array.dtype.name
        if dtype_name not in DTYPES:
            raise ProtocolError(f"array {name!r} has dtype {dtype_name}, which the protocol does not carry")
        array = np.ascontiguousarray(array, dtype=DTYPES[dtype_name])
        specs.append({"name": name, "dtype": dtype_name, "shape": list(array.shape)})
        blobs.append(array)
    body = dict(header)
    if specs:
        body["arrays"] = specs
    encoded = json.dumps(body, separators=(",", ":")).encode("utf-8")
    stream.write(MAGIC + struct.pack("<I", len(encoded)) + encoded)
    for blob in blobs:
        if blob.size:
            stream.write(blob.reshape(-1).view(np.uint8).data)
    stream.flush()


def read_message(stream):
    """Read one frame; returns (header, arrays), or None at a clean end of stream."""
    read = read_header(stream)
    if read is None:
        return None
    header, specs, _ = read
    return header, read_arrays(stream, specs)


def read_header(stream):
    """Read a frame's header; returns (header, array specs, header length in bytes) with the specs checked, or
    None at a clean end of stream. The arrays' bytes follow: read them with read_arrays or pass them with
    skip_arrays."""
    prefix = _read_exactly(stream, 8, allow_eof=True)
    if prefix is None:
        return None
    if prefix[:4] != MAGIC:
        raise ProtocolError(f"malformed frame: expected magic {MAGIC!r}, got {prefix[:4]!r}")
    (length,) = struct.unpack("<I", prefix[4:])
    if length > MAX_HEADER_BYTES:
        raise ProtocolError(f"malformed frame: header of {length} bytes exceeds {MAX_HEADER_BYTES}")
    raw = _read_exactly(stream, length)
    _check_depth(raw)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: also ints of 4300+ digits
        raise ProtocolError(f"malformed frame: header is not JSON ({exc})") from None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("malformed frame: header must be a JSON object with a string 'type'")
    return header, _array_specs(header.pop("arrays", [])), length


def payload_bytes(specs):
    return sum(spec["bytes"] for spec in specs)


def read_arrays(stream, specs):
    arrays = {}
    for spec in specs:
        data = bytearray(spec["bytes"])  # one buffer per array, filled in place: no second copy while reading
        _read_into(stream, memoryview(data))
        arrays[spec["name"]] = np.frombuffer(data, dtype=np.dtype(DTYPES[spec["dtype"]])).reshape(spec["shape"])
    return arrays


def skip_arrays(stream, specs, chunk=1 << 20):
    """Pass over the arrays' bytes without keeping them, so that the next frame can be read."""
    buffer = memoryview(bytearray(min(chunk, max(1, payload_bytes(specs)))))
    remaining = payload_bytes(specs)
    while remaining:
        step = min(remaining, len(buffer))
        _read_into(stream, buffer[:step])
        remaining -= step


def _check_depth(raw):
    """Refuse deep nesting before json parses it: the parser recurses, and a reader thread's stack is small."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return
    brackets = np.frombuffer(brackets, np.uint8)
    opening = (brackets == ord("[")) | (brackets == ord("{"))
    depth = np.cumsum(opening.astype(np.int8) * 2 - 1, dtype=np.int32)
    if depth.max() > MAX_HEADER_DEPTH:
        raise ProtocolError(f"malformed frame: header nested deeper than {MAX_HEADER_DEPTH} levels")


def _array_specs(specs):
    """Typed checks of the header's array list, and their sizes in exact integers (a product of int64 would wrap)."""
    if not isinstance(specs, list):
        raise ProtocolError("malformed frame: 'arrays' must be a list")
    checked, total, names = [], 0, set()
    for spec in specs:
        if not isinstance(spec, dict) or set(spec) != {"name", "dtype", "shape"}:
            raise ProtocolError("malformed frame: each array needs exactly 'name', 'dtype' and 'shape'")
        name, dtype, shape = spec["name"], spec["dtype"], spec["shape"]
        if not isinstance(name, str) or not name or name in names:
            raise ProtocolError(f"malformed frame: array names must be distinct non-empty strings, got {name!r:.80}")
        names.add(name)
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise ProtocolError(f"malformed frame: dtype {dtype!r:.80} is not one of {sorted(DTYPES)}")
        if not (isinstance(shape, list) and len(shape) <= MAX_DIMS
                and all(type(n) is int and 0 <= n <= MAX_ARRAY_BYTES for n in shape)):  # type(): not bool
            raise ProtocolError(f"malformed frame: shape {shape!r:.80} of array {name!r} is invalid")
        size = np.dtype(DTYPES[dtype]).itemsize
        for n in shape:
            size *= n
        total += size
        if total > MAX_ARRAY_BYTES:
            raise ProtocolError(f"malformed frame: arrays exceed the size limit of {MAX_ARRAY_BYTES} bytes")
        checked.append({"name": name, "dtype": dtype, "shape": list(shape), "bytes": size})
    return checked


def _read_into(stream, view):
    filled = 0
    while filled < len(view):
        count = stream.readinto(view[filled:])
        if not count:
            raise TruncatedFrame(f"truncated frame: stream ended {len(view) - filled} bytes early")
        filled += count


def _read_exactly(stream, count, allow_eof=False):
    chunks, remaining = [], count
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            if allow_eof and remaining == count:
                return None
            raise TruncatedFrame(f"truncated frame: stream ended {remaining} bytes early")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
