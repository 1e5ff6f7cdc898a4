import io
import json
import struct

import numpy as np
import pytest

from backend.errors import ProtocolError
from backend.protocol import MAGIC, read_message, write_message


def roundtrip(header, arrays=None):
    stream = io.BytesIO()
    write_message(stream, header, arrays)
    stream.seek(0)
    return read_message(stream), stream


def test_arrays_of_every_dtype_roundtrip_bit_exact():
    rng = np.random.default_rng(1)
    arrays = {
        "f32": rng.standard_normal((3, 4, 2)).astype(np.float32),
        "f16": rng.standard_normal((5,)).astype(np.float16),
        "u8": rng.integers(0, 255, (2, 3, 4), dtype=np.uint8),
        "u16": rng.integers(0, 65535, (7,), dtype=np.uint16),
        "empty": np.zeros((0, 3), np.float32),
    }
    (header, received), _ = roundtrip({"type": "result", "id": 3}, arrays)
    assert header == {"type": "result", "id": 3}
    assert list(received) == list(arrays)
    for name, array in arrays.items():
        assert received[name].dtype == array.dtype and received[name].shape == array.shape
        assert np.array_equal(received[name], array)


def test_two_messages_in_one_stream_and_clean_end():
    stream = io.BytesIO()
    write_message(stream, {"type": "a"}, {"x": np.arange(4, dtype=np.int32)})
    write_message(stream, {"type": "b"})
    stream.seek(0)
    assert read_message(stream)[0]["type"] == "a"
    assert read_message(stream)[0]["type"] == "b"
    assert read_message(stream) is None


@pytest.mark.parametrize("raw, words", [
    (b"XXXX" + struct.pack("<I", 2) + b"{}", "magic"),
    (MAGIC + struct.pack("<I", 5) + b"nope!", "not JSON"),
    (MAGIC + struct.pack("<I", 2) + b"[]", "JSON object"),
    (MAGIC + struct.pack("<I", 40), "truncated"),
    (MAGIC[:3], "truncated"),
])
def test_malformed_frames_raise_protocol_error(raw, words):
    with pytest.raises(ProtocolError, match=words):
        read_message(io.BytesIO(raw))


def test_array_spec_with_unknown_dtype_is_rejected():
    header = json.dumps({"type": "x", "arrays": [{"name": "a", "dtype": "object", "shape": [1]}]}).encode()
    with pytest.raises(ProtocolError, match="dtype"):
        read_message(io.BytesIO(MAGIC + struct.pack("<I", len(header)) + header))


def test_object_arrays_are_never_sent():
    with pytest.raises(ProtocolError, match="dtype object"):
        write_message(io.BytesIO(), {"type": "x"}, {"a": np.array([{}], dtype=object)})


def frame(header_bytes):
    return MAGIC + struct.pack("<I", len(header_bytes)) + header_bytes


def spec_frame(**spec):
    array = dict({"name": "image", "dtype": "float32", "shape": [1]}, **spec)
    return frame(json.dumps({"type": "generate", "id": 1, "arrays": [array]}).encode())


# Headers a hostile or buggy peer may send, and the words of the one-line error each must get.
HOSTILE = {
    "dtype given as a list": (spec_frame(dtype=["float32"]), "dtype"),
    "unhashable array name": (spec_frame(name=["image"]), "array names"),
    "two arrays of one name": (frame(json.dumps({"type": "x", "arrays": [
        {"name": "a", "dtype": "uint8", "shape": [1]}, {"name": "a", "dtype": "uint8", "shape": [1]}]}).encode()),
        "array names"),
    "shape whose int64 product wraps to 0": (spec_frame(shape=[2 ** 32, 2 ** 32]), "size limit"),
    "shape of 2**63": (spec_frame(shape=[2 ** 63]), "invalid"),
    "shape of 10**30": (spec_frame(shape=[10 ** 30]), "invalid"),
    "shape of booleans": (spec_frame(shape=[True, True, 3]), "invalid"),  # [true, true, 3] on the wire
    "shape of 99 dimensions": (spec_frame(shape=[1] * 99), "invalid"),
    "header nested 10,000 deep": (frame(b'{"type": "x", "a": ' + b"[" * 10000 + b"]" * 10000 + b"}"), "nested"),
    "integer of 5000 digits": (frame(b'{"type": "x", "a": ' + b"7" * 5000 + b"}"), "not JSON"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_headers_raise_protocol_error_before_any_allocation(case):
    raw, words = HOSTILE[case]
    with pytest.raises(ProtocolError, match=words) as caught:
        read_message(io.BytesIO(raw))
    assert "\n" not in caught.value.message and len(caught.value.message) < 300


def test_a_skipped_payload_leaves_the_stream_at_the_next_frame():
    from backend.protocol import read_header, skip_arrays
    stream = io.BytesIO()
    write_message(stream, {"type": "a"}, {"x": np.arange(3 << 20, dtype=np.uint8)})
    write_message(stream, {"type": "b"}, {"y": np.arange(5, dtype=np.int32)})
    stream.seek(0)
    header, specs, _ = read_header(stream)
    assert header["type"] == "a" and specs[0]["bytes"] == 3 << 20
    skip_arrays(stream, specs)
    header, arrays = read_message(stream)
    assert header["type"] == "b" and arrays["y"].tolist() == [0, 1, 2, 3, 4]
