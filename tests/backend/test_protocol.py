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
