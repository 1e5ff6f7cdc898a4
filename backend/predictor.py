"""A small convolutional network that learns, from the user's own clip, which appearance moves how (few-shot,
patch-based training on a CPU, no downloaded weights), then predicts the motion field of a still.

Input: RGB in 0..1. Output: the mean flow per pixel in the clip's pixels per frame, scaled by `scale` in training.
Training runs a fixed number of steps from a seed, so the same clip, steps and seed give the same model on any
machine however busy it is. Models are saved as plain tensors, numbers and strings (torch.save of a dict) and
loaded with weights_only=True, so loading a model file never runs code; each file holds the hash of what it
learned from (the clip's frames, the region and the training settings), so a model is never reused for
another clip.
"""

import hashlib
import os

import numpy as np

# torch's optimizers import its compiler, which makes a cache folder in the temp folder and leaves it there; keep
# it in the user's cache instead (nothing of this project may be left in the temp folder).
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "image-dynamics",
                                                              "torchinductor"))
import torch  # noqa: E402
from torch import nn  # noqa: E402

from .errors import InputError
from .files import shown, write_image

PATCH = 48
BATCH = 16
FORMAT = 2  # the model file's layout; files of another layout are retrained, not loaded


class FlowNet(nn.Module):
    """Appearance at full resolution, context at a half and a quarter (the flow is smooth, the texture is not):
    about a tenth of the cost of a full-resolution stack, so a step budget trains in seconds on a CPU."""

    def __init__(self, width=32):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, 16, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(16, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.out = nn.Conv2d(width, 2, 1)

    def forward(self, images):
        features = self.layers(images)
        features = nn.functional.interpolate(features, size=images.shape[2:], mode="bilinear", align_corners=False)
        return self.out(features)


def clip_hash(frames, target, steps, seed):
    """What a model learned from, as a hex digest: the clip's frames as trained on, the target (the region is in
    it) and the training settings."""
    digest = hashlib.sha256()
    for array in (np.ascontiguousarray(frames), np.ascontiguousarray(target, np.float32)):
        digest.update(str((array.shape, str(array.dtype))).encode())
        digest.update(array.tobytes())
    digest.update(f"steps={steps};seed={seed};format={FORMAT}".encode())
    return digest.hexdigest()


def train(frames, mean_flow, steps, seed=0, progress=None, device="cpu"):
    """Train for exactly `steps` steps on random patches of the clip's frames against the same patches of its mean
    flow; everything random comes from `seed`. frames (N, H, W, 3) uint8, mean_flow (H, W, 2) px/frame.
    Returns (model, scale, loss_curve, final_loss): the curve has the batch loss every 10 steps, the final loss is
    the mean squared error (in scaled units) over up to 8 whole frames."""
    rng = np.random.default_rng(seed)
    height, width = mean_flow.shape[:2]
    patch = min(PATCH, height, width)
    scale = float(max(np.abs(mean_flow).max(), 1e-3))
    images = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(255.0).to(device)
    target = torch.from_numpy(np.ascontiguousarray(mean_flow / scale, np.float32)).permute(2, 0, 1).to(device)
    with torch.random.fork_rng(devices=[]):  # the seed picks the weights without touching anyone else's RNG
        torch.manual_seed(seed)
        model = FlowNet().to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    curve = []
    threads = torch.get_num_threads()
    # One thread: the sums inside a step then run in one order on every machine (the same seed gives the same
    # model), and these small batches gain little from threads but lose 3x when the cores are shared.
    torch.set_num_threads(1)
    try:
        _steps(model, optimiser, images, target, patch, steps, rng, progress, curve)
    finally:
        torch.set_num_threads(threads)
    model.eval()
    with torch.no_grad():
        picks = np.unique(np.linspace(0, len(images) - 1, min(8, len(images))).round().astype(int))
        final = float(np.mean([float(nn.functional.mse_loss(model(images[i:i + 1])[0], target)) for i in picks]))
    return model, scale, curve, final


def _steps(model, optimiser, images, target, patch, steps, rng, progress, curve):
    height, width = target.shape[1:]
    with torch.enable_grad():  # jobs run under no_grad; training needs gradients
        for step in range(1, steps + 1):
            picks = rng.integers(0, len(images), BATCH)
            ys, xs = rng.integers(0, height - patch + 1, BATCH), rng.integers(0, width - patch + 1, BATCH)
            batch = torch.stack([images[i, :, y:y + patch, x:x + patch] for i, y, x in zip(picks, ys, xs)])
            goal = torch.stack([target[:, y:y + patch, x:x + patch] for y, x in zip(ys, xs)])
            loss = nn.functional.mse_loss(model(batch), goal)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if step % 10 == 0 or step == steps:
                curve.append(float(loss.detach()))
                if progress:
                    progress(f"training on the clip: step {step} of {steps}, loss {curve[-1]:.4f}", step / steps)


def predict(model, scale, image, device="cpu"):
    """(H, W, 2) predicted flow, px/frame (y down), for an RGB image in 0..1 (H, W, 3)."""
    with torch.no_grad():
        tensor = torch.from_numpy(np.ascontiguousarray(image[..., :3], np.float32)).permute(2, 0, 1)[None]
        return (model(tensor.to(device))[0].permute(1, 2, 0).cpu().numpy() * scale).astype(np.float32)


def save(model, scale, curve, path, learned_from="", steps=0, seed=0, final_loss=float("nan")):
    """Write next to its final place and rename, so a failed save leaves no partial model."""
    temp = f"{path}.part"
    try:
        with open(temp, "wb") as handle:  # a file object: any file name works (see files.py)
            torch.save({"format": FORMAT, "state_dict": model.state_dict(), "scale": float(scale),
                        "loss_curve": [float(v) for v in curve], "clip_hash": learned_from, "steps": int(steps),
                        "seed": int(seed), "final_loss": float(final_loss)}, handle)
        os.replace(temp, path)
    except OSError as exc:
        if os.path.exists(temp):
            os.unlink(temp)
        raise InputError(f"cannot write the motion model '{shown(path)}': {exc.strerror}; choose a folder you can "
                         f"write to") from None


def save_loss_curve(curve, path):
    """The training loss as a small PNG plot (log scale), for the user to see how training went."""
    import cv2
    size, margin = (320, 160), 10
    image = np.full((size[1], size[0], 3), 255, np.uint8)
    if len(curve) >= 2:
        values = np.log10(np.maximum(np.asarray(curve), 1e-12))
        span = max(values.max() - values.min(), 1e-6)
        xs = margin + np.arange(len(values)) * (size[0] - 2 * margin) / (len(values) - 1)
        ys = size[1] - margin - (values - values.min()) / span * (size[1] - 2 * margin)
        cv2.polylines(image, [np.stack([xs, ys], axis=1).astype(np.int32)], False, (180, 60, 0), 2)
    cv2.putText(image, f"loss {curve[0]:.4f} -> {curve[-1]:.4f}" if curve else "no steps", (margin, 20),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    write_image(path, image)


def load(path, device="cpu"):
    """(model, scale, loss_curve, info) from a model file; info holds `clip_hash`, `steps`, `seed`, `final_loss`
    (empty hash for files of an older layout). InputError with one line when it cannot be used: torch's own
    message is not passed on (it advises loading with weights_only=False, which would run code)."""
    where = f"cannot load the motion model '{shown(path)}':"
    advice = "delete it (or set another model path) to train a new one"
    try:
        with open(path, "rb") as handle:  # a file object: torch would hand the name to C++ (see files.py)
            if not handle.read(1):
                raise InputError(f"{where} it is an empty file; {advice}")
            handle.seek(0)
            data = torch.load(handle, map_location=device, weights_only=True)
    except OSError as exc:
        raise InputError(f"{where} {exc.strerror}; {advice}") from None
    except InputError:
        raise
    except Exception:  # a damaged or foreign file can fail in the unpickler, the zip reader or torch: all one case
        raise InputError(f"{where} it is damaged or was not saved by this backend; {advice}") from None
    try:
        model = FlowNet()
        model.load_state_dict(data["state_dict"])
        scale, curve = float(data["scale"]), [float(v) for v in data.get("loss_curve", [])]
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError):
        raise InputError(f"{where} it holds no motion model of this backend; {advice}") from None
    if not (np.isfinite(scale) and scale > 0 and all(bool(torch.isfinite(value).all())
                                                     for value in model.state_dict().values())):
        raise InputError(f"{where} it holds NaN or infinite weights (a damaged file); {advice}")
    info = {"clip_hash": str(data.get("clip_hash", "")) if data.get("format") == FORMAT else "",
            "steps": int(data.get("steps", 0)), "seed": int(data.get("seed", 0)),
            "final_loss": float(data.get("final_loss", float("nan")))}
    return model.to(device).eval(), scale, curve, info
