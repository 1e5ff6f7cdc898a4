"""Framed messages between Blender and the backend: a JSON header and raw array bytes, never pickle.

A frame on the wire:
    b"IDYN" | uint32 little-endian header length | UTF-8 JSON header | raw bytes of each array, in order
The header is a JSON object with a "type" and, when arrays follow, "arrays": [{"name", "dtype", "shape"}].
Arrays are C-ordered and little-endian; only the dtypes in DTYPES travel.
Both sides import this module, so it needs nothing but the standard library and numpy.
"""

import json
import struct

import numpy as np

from .errors import ProtocolError

PROTOCOL_VERSION = 1
MAGIC = b"IDYN"
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_ARRAY_BYTES = 8 * 1024 ** 3
DTYPES = {"float32": "<f4", "float16": "<f2", "float64": "<f8", "uint8": "|u1", "uint16": "<u2", "int32": "<i4"}


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
    prefix = _read_exactly(stream, 8, allow_eof=True)
    if prefix is None:
        return None
    if prefix[:4] != MAGIC:
        raise ProtocolError(f"malformed frame: expected magic {MAGIC!r}, got {prefix[:4]!r}")
    (length,) = struct.unpack("<I", prefix[4:])
    if length > MAX_HEADER_BYTES:
        raise ProtocolError(f"malformed frame: header of {length} bytes exceeds {MAX_HEADER_BYTES}")
    try:
        header = json.loads(_read_exactly(stream, length).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"malformed frame: header is not JSON ({exc})") from None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("malformed frame: header must be a JSON object with a string 'type'")
    arrays = {}
    for spec in _array_specs(header.pop("arrays", [])):
        dtype = np.dtype(DTYPES[spec["dtype"]])
        count = int(np.prod(spec["shape"], dtype=np.int64))
        data = _read_exactly(stream, count * dtype.itemsize)
        arrays[spec["name"]] = np.frombuffer(data, dtype=dtype).reshape(spec["shape"])
    return header, arrays


def _array_specs(specs):
    if not isinstance(specs, list):
        raise ProtocolError("malformed frame: 'arrays' must be a list")
    checked, total = [], 0
    for spec in specs:
        if not isinstance(spec, dict) or set(spec) != {"name", "dtype", "shape"}:
            raise ProtocolError("malformed frame: each array needs exactly 'name', 'dtype' and 'shape'")
        if spec["dtype"] not in DTYPES:
            raise ProtocolError(f"malformed frame: dtype {spec['dtype']!r} is not one of {sorted(DTYPES)}")
        shape = spec["shape"]
        if not isinstance(shape, list) or not all(isinstance(n, int) and 0 <= n for n in shape):
            raise ProtocolError(f"malformed frame: shape {shape!r} of array {spec['name']!r} is invalid")
        total += int(np.prod(shape, dtype=np.int64)) * np.dtype(DTYPES[spec["dtype"]]).itemsize
        if total > MAX_ARRAY_BYTES:
            raise ProtocolError("malformed frame: arrays exceed the size limit")
        checked.append(spec)
    return checked


def _read_exactly(stream, count, allow_eof=False):
    chunks, remaining = [], count
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            if allow_eof and remaining == count:
                return None
            raise ProtocolError(f"truncated frame: stream ended {remaining} bytes early")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
