"""Reference clips: read a video or an image sequence, measure its dense optical flow, and extract the motion
statistics that transfer to a still image (the two-stream idea: dynamics from the clip, appearance from the
still). Everything here is classical OpenCV and numpy; the learned part is predictor.py.
"""

import glob
import os

import cv2
import numpy as np

from .errors import InputError
from .files import opencv_path, read_image, shown
from .limits import check_image_size

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".bmp", ".webp")
MIN_FRAMES = 3


def check_clip_path(path):
    """A clip path from a job: an existing video file, a folder of images, or a glob pattern of images."""
    if not isinstance(path, str) or not path or "\0" in path:
        raise InputError("the clip path is empty or invalid")
    real = os.path.realpath(path)
    if real.startswith(("/proc/", "/sys/", "/dev/")):
        raise InputError(f"'{shown(path)}' is not a clip: choose a video file or a folder of images")
    if not (os.path.isfile(real) or os.path.isdir(real) or glob.glob(path)):
        raise InputError(f"the clip '{shown(path)}' does not exist")
    return path


def read_clip(path, max_side=256, max_frames=300, progress=None):
    """Frames as (N, H, W, 3) uint8 RGB, scaled so the longer side is at most max_side; and the clip's own size."""
    check_clip_path(path)
    if os.path.isdir(path) or any(c in path for c in "*?["):
        pattern = os.path.join(path, "*") if os.path.isdir(path) else path
        files = sorted(f for f in glob.glob(pattern) if f.lower().endswith(IMAGE_EXTENSIONS))[:max_frames]
        # Read as bytes: any file name works (see files.py).
        raw = (read_image(f, cv2.IMREAD_COLOR, f"frame {i + 1} of the clip") for i, f in enumerate(files))
    else:
        capture = cv2.VideoCapture(opencv_path(path, "the clip"))
        if not capture.isOpened():
            raise InputError(f"cannot open the clip '{shown(path)}': it is not a video OpenCV can decode")
        raw = _video_frames(capture, max_frames)
    frames, size = [], None
    for index, frame in enumerate(raw):
        if frame is None:
            raise InputError(f"frame {index + 1} of the clip '{shown(path)}' cannot be decoded")
        if size is None:
            check_image_size(frame.shape[1], frame.shape[0], f"the clip '{shown(path)}'")
            size = (frame.shape[1], frame.shape[0])
        elif (frame.shape[1], frame.shape[0]) != size:
            raise InputError(f"frame {index + 1} of the clip '{shown(path)}' has another size than the first")
        frames.append(_fit(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), max_side))
        if progress:
            progress("reading the clip", min(1.0, (index + 1) / max_frames))
    if len(frames) < MIN_FRAMES:
        raise InputError(f"the clip '{shown(path)}' has {len(frames)} readable frame(s); at least {MIN_FRAMES} "
                         f"are needed")
    return np.stack(frames), size


def _video_frames(capture, max_frames):
    try:
        for _ in range(max_frames):
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def _fit(frame, max_side):
    height, width = frame.shape[:2]
    scale = min(1.0, max_side / max(width, height))
    if scale == 1.0:
        return frame
    return cv2.resize(frame, (max(1, round(width * scale)), max(1, round(height * scale))),
                      interpolation=cv2.INTER_AREA)


def optical_flow(frames, progress=None):
    """Dense flow between consecutive frames, (N-1, H, W, 2) in pixels per frame (x right, y down), with
    OpenCV's DIS estimator."""
    estimator = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    gray = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
    flows = []
    for index in range(len(gray) - 1):
        flows.append(estimator.calc(gray[index], gray[index + 1], None))
        if progress:
            progress("measuring the clip's optical flow", (index + 1) / (len(gray) - 1))
    return np.stack(flows).astype(np.float32)


def fluid_stats(flows, margin=4):
    """The mean Eulerian flow field, its overall mean velocity and its speed distribution (pixels per frame,
    x right, y down), leaving out a margin where content enters and leaves the frame."""
    mean_field = flows.mean(axis=0)
    inner = mean_field[margin:-margin, margin:-margin] if min(mean_field.shape[:2]) > 4 * margin else mean_field
    speeds = np.hypot(inner[..., 0], inner[..., 1])
    return {"mean_field": mean_field, "mean_velocity": inner.reshape(-1, 2).mean(axis=0),
            "speed_percentiles": {str(p): float(np.percentile(speeds, p)) for p in (10, 50, 90)}}


def oscillation_stats(flows, margin=4):
    """Trajectories (the flow summed over time) analysed per pixel: power per frequency, the dominant
    frequency in cycles per frame, the amplitude of that sine in pixels, the dominant direction (degrees, 0 to
    the right, 90 up) and the falloff exponent of power with frequency."""
    inner = flows[:, margin:-margin, margin:-margin] if min(flows.shape[1:3]) > 4 * margin else flows
    frames = len(inner) + 1
    trajectory = np.concatenate([np.zeros((1,) + inner.shape[1:], np.float32), np.cumsum(inner, axis=0)])
    trajectory -= trajectory.mean(axis=0)
    spectrum = np.fft.rfft(trajectory, axis=0)  # (bins, H, W, 2)
    power = (np.abs(spectrum) ** 2).sum(axis=(1, 2, 3))
    bins = np.arange(len(power))
    dominant = int(bins[1:][np.argmax(power[1:])])
    per_pixel = 2.0 * np.sqrt((np.abs(spectrum[dominant]) ** 2).sum(axis=-1)) / frames
    covariance = np.einsum("thwi,thwj->ij", trajectory, trajectory)
    direction = np.linalg.eigh(covariance)[1][:, -1]
    angle = float(np.degrees(np.arctan2(-direction[1], direction[0])))  # y down -> angle counted upwards
    angle = (angle + 90.0) % 180.0 - 90.0  # a sway has an axis, not a sense
    usable = (bins >= 1) & (power > power.max() * 1e-6)
    slope = float(np.polyfit(np.log(bins[usable]), np.log(power[usable]), 1)[0]) if usable.sum() >= 2 else -2.0
    return {"frequencies": bins / frames, "power": power / power[1:].sum(), "dominant_bin": dominant,
            "dominant_frequency": dominant / frames, "amplitude": float(np.median(per_pixel)),
            "direction": angle, "falloff": max(0.0, -slope), "frames": frames}


def powers_for_loop(stats, loop_frames, terms):
    """The clip's power spectrum resampled at the loop's frequencies k / T, k = 1..terms (normalised)."""
    wanted = np.arange(1, terms + 1) / loop_frames
    powers = np.interp(wanted, stats["frequencies"][1:], stats["power"][1:], left=0.0, right=0.0)
    if powers.sum() <= 0:
        powers = np.zeros(terms)
        powers[min(terms, max(1, round(stats["dominant_frequency"] * loop_frames))) - 1] = 1.0
    return powers / powers.sum()


def register(still, frame):
    """An affine map (2x3) that lays the clip frame over the still (ECC on grey images at the still's size);
    identity when they do not converge."""
    height, width = still.shape[:2]
    still_gray = cv2.cvtColor(still, cv2.COLOR_RGB2GRAY).astype(np.float32)
    frame_gray = cv2.cvtColor(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA),
                              cv2.COLOR_RGB2GRAY).astype(np.float32)
    warp = np.eye(2, 3, dtype=np.float32)
    try:
        _, warp = cv2.findTransformECC(still_gray, frame_gray, warp, cv2.MOTION_AFFINE,
                                       (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5), None, 5)
    except cv2.error:
        return np.eye(2, 3, dtype=np.float32)
    return warp
