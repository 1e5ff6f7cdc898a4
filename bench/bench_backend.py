"""Backend stages against the cost floor of their output, in one run: densify, integrate, spectral synthesis
and protocol transfer. Run with the backend environment from the repository root:

    .venvs/backend/bin/python bench/bench_backend.py out/bench/backend.json
"""

import io
import json
import os
import platform
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from backend import densify, fluid, loop, oscillation  # noqa: E402
from backend.device import pick_device  # noqa: E402
from backend.protocol import read_message, write_message  # noqa: E402

RESOLUTIONS = ((480, 270), (960, 540), (1920, 1080))
LOOPS = (48, 120, 240)


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def measure_write_bandwidth():
    """Bytes per second of writing into memory already mapped: the best of five fills of 256 MB."""
    buffer = np.ones(64 * 1024 * 1024, np.float32)
    best = min(timed(buffer.fill, 2.0)[0] for _ in range(5))
    return buffer.nbytes / best


def write_floor(shape):
    """The time to write a float32 array of this shape once at full memory bandwidth: no stage that produces
    it can beat it."""
    return float(np.prod(shape)) * 4 / WRITE_BANDWIDTH


def picture(width, height, seed=0):
    rng = np.random.default_rng(seed)
    import cv2
    coarse = rng.random((max(2, height // 40), max(2, width // 40), 3)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def sway_spectrum(guide, envelope):
    """The spectrum of a 16-term sway of amplitude 4 over a 48-frame loop, with the sway's default settings."""
    return oscillation.spectral_volume(guide, envelope, 4.0, 48, terms=16, seed=0, scale=0.1, wind=0.0, across=0.3,
                                       edge_tolerance=0.25, powers=oscillation.term_powers(16, 2.0))


def protocol_transfer(size_bytes):
    """Seconds to frame, pipe and unframe one array of this size between two threads."""
    array = np.ones(size_bytes // 4, np.float32)
    read_fd, write_fd = os.pipe()
    reader, writer = io.open(read_fd, "rb"), io.open(write_fd, "wb")
    received = {}

    def read():
        received["message"] = read_message(reader)

    thread = threading.Thread(target=read)
    started = time.perf_counter()
    thread.start()
    write_message(writer, {"type": "result"}, {"a": array})
    writer.close()
    thread.join()
    seconds = time.perf_counter() - started
    reader.close()
    assert received["message"][1]["a"].nbytes == array.nbytes
    return seconds


WRITE_BANDWIDTH = None


def main(out_path):
    global WRITE_BANDWIDTH
    WRITE_BANDWIDTH = measure_write_bandwidth()
    device = pick_device("auto")
    torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    for width, height in RESOLUTIONS:
        guide = densify.guide_image(picture(width, height), width, height)
        points = np.array([[0.3 * width, 0.5 * height], [0.7 * width, 0.4 * height], [0.5 * width, 0.8 * height]])
        velocities = np.array([[2.0, 0.0], [1.5, 0.5], [0.0, 0.0]])
        seconds, field = timed(densify.densify, points, velocities, guide)
        rows.append({"stage": "densify", "width": width, "height": height, "frames": None, "seconds": seconds,
                     "floor_seconds": write_floor((height, width, 2)), "output_bytes": field.nbytes})
        velocity = torch.from_numpy(field).to(device)
        for frames in LOOPS:  # the streams need one phase period of ages, whatever the loop's length
            ages = loop.half_span(loop.phase_period(frames))
            seconds, (lookups, _) = timed(fluid.age_lookups, velocity, ages, lambda *a: None)
            nbytes = lookups.nbytes
            del lookups
            rows.append({"stage": "integrate", "width": width, "height": height, "frames": frames,
                         "seconds": seconds, "floor_seconds": write_floor((2 * ages + 1, height, width, 2)),
                         "output_bytes": nbytes})
            print(f"integrate {width}x{height} x {frames}: {seconds:.2f} s", file=sys.stderr, flush=True)
        envelope = np.ones((height, width), np.float32)
        seconds, coefficients = timed(sway_spectrum, guide, envelope)
        rows.append({"stage": "spectral", "width": width, "height": height, "frames": None, "seconds": seconds,
                     "floor_seconds": write_floor(coefficients.shape + (2,)), "output_bytes": coefficients.nbytes})
    for size in (10 ** 7, 10 ** 8, 10 ** 9):
        rows.append({"stage": "protocol", "width": None, "height": None, "frames": None,
                     "seconds": protocol_transfer(size), "floor_seconds": write_floor((size // 4,)),
                     "output_bytes": size})
    for row in rows:
        row["times_floor"] = row["seconds"] / row["floor_seconds"]
    report = {"device": str(device), "torch": torch.__version__, "cpu_count": os.cpu_count(),
              "write_bandwidth_gb_s": WRITE_BANDWIDTH / 1e9,
              "machine": platform.machine(), "processor": platform.processor(), "rows": rows}
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
