"""Reference clips: read a video or an image sequence, measure its dense optical flow, and extract the motion
statistics that transfer to a still image (the two-stream idea: dynamics from the clip, appearance from the
still). Everything here is classical OpenCV and numpy; the learned part is predictor.py.

Units inside this module: the clip as read (its longer side reduced to the working resolution), pixels per frame,
x right, y down. The engine (backend/engines/clip.py) converts to the job's conventions.
"""

import glob
import os

import cv2
import numpy as np

from .errors import InputError
from .files import opencv_path, shown
from .limits import check_image_size

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".bmp", ".webp")
MIN_FRAMES = 3
MARGIN = 4              # px at the border left out: content enters and leaves there, the flow is unreliable
NOISE_PX = 0.15         # mean speed (px/frame) below which DIS reads texture noise, not motion
REGION_SHARE = 0.25     # the moving region: where the mean speed exceeds this share of the fastest (99th pct.)
CAMERA_SHARE = 0.6      # a moving camera moves at least this share of the frame alike
EDGE_PX = 6             # px along a region's edge where the flow mixes moving and still parts


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
    """Frames as (N, H, W, 3) uint8 RGB, scaled so the longer side is at most max_side; and the clip's own size.
    Grey, 16-bit and alpha frames are read as 8-bit RGB (alpha dropped)."""
    check_clip_path(path)
    if os.path.isdir(path) or any(c in path for c in "*?["):
        pattern = os.path.join(path, "*") if os.path.isdir(path) else path
        files = sorted(f for f in glob.glob(pattern) if f.lower().endswith(IMAGE_EXTENSIONS))[:max_frames]
        raw = (_read_frame(f) for f in files)
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


def _read_frame(path):
    """One image file as 8-bit BGR, read as bytes (any file name works) and decoded by OpenCV."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


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


def to_rgb8(image):
    """Any image array (H, W) or (H, W, 1-4), uint8, uint16 or float 0..1, as (H, W, 3) uint8 RGB: grey is
    repeated, grey + alpha and RGBA lose their alpha."""
    image = np.asarray(image)
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = (np.clip(np.nan_to_num(image.astype(np.float32)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    channels = image.shape[-1]
    return np.ascontiguousarray(image[..., :3] if channels >= 3 else np.repeat(image[..., :1], 3, axis=-1))


def frames_from_array(array, max_side, what, max_frames=300):
    """A clip sent as an array: (N, H, W) or (N, H, W, 1-4), uint8, uint16 or float 0..1 -> (N, h, w, 3) uint8 RGB
    reduced like a read clip (and, like it, its first `max_frames` frames)."""
    array = np.asarray(array)
    if array.ndim not in (3, 4) or (array.ndim == 4 and not 1 <= array.shape[-1] <= 4) or len(array) < MIN_FRAMES \
            or min(array.shape[1:3]) < 1 or not (array.dtype in (np.uint8, np.uint16) or array.dtype.kind == "f"):
        raise InputError(f"{what} must be (frames >= {MIN_FRAMES}, height, width[, 1-4 channels]) of 8-bit, "
                         f"16-bit or float pixels, got {array.shape} {array.dtype}")
    return np.stack([_fit(to_rgb8(frame), max_side) for frame in array[:max_frames]])


def optical_flow(frames, progress=None):
    """Dense flow between consecutive frames, (N-1, H, W, 2) in pixels per frame (x right, y down), with
    OpenCV's DIS estimator."""
    estimator = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    if max(frames.shape[1:3]) <= 512:  # up to 512 px, refine to full resolution: the preset's half reads ~4% slow
        estimator.setFinestScale(0)
    gray = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
    flows = []
    for index in range(len(gray) - 1):
        flows.append(estimator.calc(gray[index], gray[index + 1], None))
        if progress:
            progress("measuring the clip's optical flow", (index + 1) / (len(gray) - 1))
    return np.stack(flows).astype(np.float32)


def _inner(height, width):
    """Pixels away from the border (all of them when the frame is too small to leave a margin)."""
    inner = np.zeros((height, width), bool)
    if min(height, width) > 4 * MARGIN:
        inner[MARGIN:-MARGIN, MARGIN:-MARGIN] = True
    else:
        inner[:] = True
    return inner


# --- What can go wrong with a clip: cuts, a moving camera --------------------------------------------------------

def scene_cuts(frames, flows):
    """Indices t of the frame pairs (t, t+1) that the flow cannot explain: a cut to another shot. The residual is
    the mean grey difference after the flow's compensation; a cut is far above the clip's usual residual.
    Returns (cuts, residuals)."""
    height, width = flows.shape[1:3]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    inner = _inner(height, width)
    residuals = []
    for index, flow in enumerate(flows):
        now = cv2.cvtColor(frames[index], cv2.COLOR_RGB2GRAY).astype(np.float32)
        after = cv2.cvtColor(frames[index + 1], cv2.COLOR_RGB2GRAY).astype(np.float32)
        moved = cv2.remap(after, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
        residuals.append(float(np.abs(moved - now)[inner].mean()))
    residuals = np.asarray(residuals)
    usual = float(np.median(residuals))
    cuts = [int(t) for t in np.flatnonzero(residuals > 3.0 * usual + 12.0)]  # grey levels of 0..255
    return cuts, residuals


def camera_motion(flows):
    """The motion the whole frame shares, per frame pair: the median flow (N-1, 2), and the share of the frame
    that moves with it (within 0.5 px or a quarter of its speed) on average. A moving camera moves (nearly) every
    pixel alike; a river or a tree that fills part of the frame does not."""
    height, width = flows.shape[1:3]
    inner = _inner(height, width)
    shared, along = [], []
    for flow in flows:
        vectors = flow[inner]
        median = np.median(vectors, axis=0)
        shared.append(median)
        tolerance = max(0.5, 0.25 * float(np.hypot(*median)))
        along.append(float((np.hypot(*(vectors - median).T) <= tolerance).mean()))
    return np.asarray(shared, np.float32), float(np.mean(along))


def camera_warnings(flows, clip_px):
    """Warnings for a pan (the whole frame travels) or shake (it jitters). `clip_px` converts to the clip's own
    pixels for the message."""
    shared, share = camera_motion(flows)
    if share < CAMERA_SHARE:
        return []
    limit = max(0.25, 0.002 * max(flows.shape[1:3]))
    pan = np.mean(shared, axis=0)
    shake = float(np.sqrt(((shared - pan) ** 2).sum(axis=1).mean()))
    found = []
    if np.hypot(*pan) > limit:
        found.append(f"camera pan: {share:.0%} of the clip moves alike, by ({pan[0] * clip_px:.2f}, "
                     f"{-pan[1] * clip_px:.2f}) px per frame (clip pixels, y up); it is measured as motion: use a "
                     f"clip from a fixed camera or stabilise it")
    if shake > limit:
        found.append(f"camera shake: {share:.0%} of the clip jitters alike, by {shake * clip_px:.2f} px per frame "
                     f"(RMS, clip pixels); it is measured as motion: use a clip from a fixed camera or stabilise "
                     f"it")
    return found


# --- Where the clip moves ----------------------------------------------------------------------------------------

def moving_region(flows, weights=None):
    """(H, W) float weights of the part of the clip to learn from: where its mean speed is above the noise and a
    share of the fastest, within `weights` (a mask given by the user, 0..1) when given. Returns (region, info);
    info["moving"] is False when nothing moves (then the region is `weights`, or the whole frame)."""
    height, width = flows.shape[1:3]
    speed = np.hypot(flows[..., 0], flows[..., 1]).mean(axis=0)
    allowed = _inner(height, width).astype(np.float32)
    if weights is not None:
        allowed = allowed * weights
    inside = allowed > 0.5
    if not inside.any():
        raise InputError("the clip region (clip_mask) covers no part of the clip: draw it where the clip moves")
    fastest = float(np.percentile(speed[inside], 99))
    threshold = max(NOISE_PX, REGION_SHARE * fastest)
    moving = ((speed >= threshold) & inside).astype(np.uint8)
    moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))  # no specks of noise
    if moving.sum() < max(4, 0.002 * inside.sum()):
        return allowed, {"moving": False, "fastest_px_per_frame": fastest, "share": float(inside.mean())}
    region = moving * allowed
    return region, {"moving": True, "fastest_px_per_frame": fastest, "share": float((region > 0.5).mean())}


def core(region):
    """The region without a band of EDGE_PX along its edge, where the optical flow blurs moving and still parts
    together (the whole region when too little would be left)."""
    inside = (region > 0.5).astype(np.uint8)
    distance = cv2.distanceTransform(np.pad(inside, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    kept = region * (distance > EDGE_PX)
    return kept if (kept > 0.5).sum() >= max(16, 0.1 * inside.sum()) else region


def fluid_stats(flows, region=None):
    """The mean Eulerian flow field, and the mean velocity and the speed distribution over the core of the
    region (weights, default: away from the border), in pixels per frame, x right, y down."""
    mean_field = flows.mean(axis=0)
    if region is None:
        region = _inner(*mean_field.shape[:2]).astype(np.float32)
    weights = core(region).reshape(-1)
    vectors = mean_field.reshape(-1, 2)
    mean_velocity = (vectors * weights[:, None]).sum(axis=0) / max(weights.sum(), 1e-12)
    speeds = np.hypot(vectors[:, 0], vectors[:, 1])[weights > 0.5]
    if speeds.size == 0:
        speeds = np.zeros(1)
    return {"mean_field": mean_field, "mean_velocity": mean_velocity,
            "speed_percentiles": {str(p): float(np.percentile(speeds, p)) for p in (10, 50, 90)}}


# --- Sway: tracked points --------------------------------------------------------------------------------------------

def track(flows, points):
    """Trajectories of points carried by the flow, (N, M, 2) px (x right, y down), and which stayed in the frame.
    Following the points (not integrating the flow at fixed pixels) keeps a sway bounded where a pattern travels
    across fixed pixels."""
    height, width = flows.shape[1:3]
    position = np.asarray(points, np.float32).reshape(1, -1, 2).copy()
    path, kept = [position[0].copy()], np.ones(position.shape[1], bool)
    for flow in flows:
        step = cv2.remap(flow, position[..., 0], position[..., 1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
        position = position + step
        kept &= ((position[0, :, 0] >= 0) & (position[0, :, 0] <= width - 1)
                 & (position[0, :, 1] >= 0) & (position[0, :, 1] <= height - 1))
        path.append(position[0].copy())
    return np.stack(path), kept


def oscillation_stats(flows, region=None, max_points=3000):
    """A sway measured along tracked points of the region: the amplitude of a sine with the same power as the
    motion along its main axis (all frequencies, not the dominant one alone), that axis (degrees, 0 to the right,
    90 up), the power per frequency bin, the dominant bin and frequency (cycles per frame), the
    falloff exponent, and how much the points travel one way (`travel_px`, `directedness`: a flow, not a sway,
    when they keep going)."""
    height, width = flows.shape[1:3]
    if region is None:
        region = _inner(height, width).astype(np.float32)
    ys, xs = np.nonzero(core(region) > 0.5)
    if len(xs) == 0:
        ys, xs = np.nonzero(_inner(height, width))
    picks = np.linspace(0, len(xs) - 1, min(max_points, len(xs))).round().astype(int)
    paths, kept = track(flows, np.stack([xs[picks], ys[picks]], axis=1))
    if kept.sum() >= max(8, 0.25 * len(kept)):
        paths = paths[:, kept]
    frames = len(paths)
    steps = np.diff(paths, axis=0)  # (N-1, M, 2)
    mean_step = steps.mean(axis=0)
    directedness = np.hypot(*mean_step.T) / np.maximum(np.sqrt((steps ** 2).sum(axis=2).mean(axis=0)), 1e-6)
    travel = np.hypot(*mean_step.T) * (frames - 1)
    motion = paths - paths.mean(axis=0)  # positions around each point's rest
    covariance = np.einsum("tmi,tmj->ij", motion, motion)
    axes = np.linalg.eigh(covariance)[1]
    along_axis = axes[:, -1]
    along, across = motion @ along_axis, motion @ axes[:, 0]
    amplitude = float(np.sqrt(2.0 * (along ** 2).mean()))
    # The spectrum's shape from the trajectories without their linear trend: a clip that ends mid-swing leaks
    # less power across bins, and whole swings keep their single bin (a window would spread them over three).
    spectrum = (np.abs(np.fft.rfft(_detrended(along), axis=0)) ** 2
                + np.abs(np.fft.rfft(_detrended(across), axis=0)) ** 2)
    power = spectrum.sum(axis=1)
    bins = np.arange(len(power))
    dominant = int(bins[1:][np.argmax(power[1:])]) if len(power) > 1 else 1
    angle = float(np.degrees(np.arctan2(-along_axis[1], along_axis[0])))  # y down -> angle counted upwards
    angle = (angle + 90.0) % 180.0 - 90.0  # a sway has an axis, not a sense
    usable = (bins >= 1) & (power > power.max() * 1e-6)
    slope = float(np.polyfit(np.log(bins[usable]), np.log(power[usable]), 1)[0]) if usable.sum() >= 2 else -2.0
    total = max(float(power[1:].sum()), 1e-12)
    return {"frequencies": bins / frames, "power": power / total, "dominant_bin": dominant,
            "dominant_frequency": dominant / frames, "amplitude": amplitude,
            "across_ratio": float(np.sqrt((across ** 2).mean() / max((along ** 2).mean(), 1e-12))),
            "direction": angle, "falloff": max(0.0, -slope), "frames": frames, "points": int(paths.shape[1]),
            "travel_px": float(np.median(travel)), "directedness": float(np.median(directedness))}


def _detrended(values):
    """(N, M) series without their least-squares line."""
    time = np.arange(len(values), dtype=np.float64) - (len(values) - 1) / 2
    slope = (time[:, None] * values).sum(axis=0) / max((time ** 2).sum(), 1e-12)
    return values - values.mean(axis=0) - time[:, None] * slope


def flows_rather_than_sways(stats):
    """True when the tracked points mostly keep going one way (fire, fountains, travelling waves) instead of
    swinging to and fro: then no sway describes the clip."""
    return stats["directedness"] > 0.5 and stats["travel_px"] > max(1.0, stats["amplitude"])


def powers_for_loop(stats, loop_frames, terms):
    """The clip's power spectrum moved onto the loop's frequencies k / T, k = 1..terms: each clip bin's power goes
    to the nearest term (its frequency kept as well as the loop allows); normalised to sum 1."""
    powers = np.zeros(terms)
    for frequency, power in zip(stats["frequencies"][1:], stats["power"][1:]):
        term = max(1, int(round(frequency * loop_frames)))
        if term <= terms:
            powers[term - 1] += power
    if powers.sum() <= 0:
        powers[min(terms, max(1, round(stats["dominant_frequency"] * loop_frames))) - 1] = 1.0
    return powers / powers.sum()


# --- Registration for the `aligned` method ---------------------------------------------------------------------

def register(still, frame):
    """The affine map (2x3) that lays the clip frame over the still (ECC on grey images of the same size), and
    None or the reason it is not to be trusted: ECC did not converge, or its map is far from what a still taken
    from the clip needs (a scale, shear, turn or shift the camera did not make)."""
    still_gray = cv2.cvtColor(still, cv2.COLOR_RGB2GRAY).astype(np.float32)
    frame_gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    warp = np.eye(2, 3, dtype=np.float32)
    try:
        _, warp = cv2.findTransformECC(still_gray, frame_gray, warp, cv2.MOTION_AFFINE,
                                       (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5), None, 5)
    except cv2.error:
        return np.eye(2, 3, dtype=np.float32), "the registration (ECC) did not converge"
    return warp, implausible(warp, still.shape[1], still.shape[0])


def affine_parts(warp):
    """Scale in x and y, shear and turn (degrees) of an affine map's 2x2 part (A = rotation @ [[sx, h], [0, sy]])."""
    rotation, upper = np.linalg.qr(np.asarray(warp, np.float64)[:, :2])
    signs = np.sign(np.diag(upper))
    signs[signs == 0] = 1.0
    rotation, upper = rotation * signs, signs[:, None] * upper
    turn = float(np.degrees(np.arctan2(rotation[1, 0], rotation[0, 0])))
    return float(upper[0, 0]), float(upper[1, 1]), float(upper[0, 1] / upper[1, 1]), turn


def implausible(warp, width, height):
    """Why a registration of a still onto a frame of its own clip is not believable, or None."""
    scale_x, scale_y, shear, turn = affine_parts(warp)
    shift = np.abs(np.asarray(warp)[:, 2]) / np.array([width, height])
    if not (0.87 < scale_x < 1.15 and 0.87 < scale_y < 1.15) or abs(shear) > 0.1 or abs(turn) > 10 \
            or shift.max() > 0.15:
        return (f"the registration (ECC) is implausible for a still taken from the clip (scale {scale_x:.2f} x "
                f"{scale_y:.2f}, shear {shear:.2f}, turn {turn:.1f} degrees, shift {shift.max():.0%} of the "
                f"size)")
    return None
