"""A small convolutional network that learns, from the user's own clip, which appearance moves how (few-shot,
patch-based training: minutes on a CPU, no downloaded weights), then predicts the motion field of a still.

Input: RGB in 0..1. Output: the mean flow per pixel in working pixels per frame, scaled by `scale` in training.
Models are saved as plain tensors and lists (torch.save of a state dict) and loaded with weights_only=True, so
loading a model file never runs code.
"""

import math
import os
import time

import numpy as np
import torch
from torch import nn

from .errors import InputError
from .files import shown, write_image

PATCH = 48
BATCH = 16


class FlowNet(nn.Module):
    def __init__(self, width=24):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, width, 5, padding=2), nn.ReLU(),
            nn.Conv2d(width, width, 5, padding=4, dilation=2), nn.ReLU(),
            nn.Conv2d(width, width, 5, padding=4, dilation=2), nn.ReLU(),
            nn.Conv2d(width, 2, 3, padding=1))

    def forward(self, images):
        return self.layers(images)


def train(frames, mean_flow, seconds, progress=None, seed=0, device="cpu", steps=None):
    """Train on random patches of the clip's frames against the same patches of its mean flow.

    frames (N, H, W, 3) uint8, mean_flow (H, W, 2) px/frame. Stops after `seconds` (at least a few steps), or after
    exactly `steps` steps when given (then the result does not depend on how busy the machine is).
    Returns (model, scale, loss_curve).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    height, width = mean_flow.shape[:2]
    patch = min(PATCH, height, width)
    scale = float(max(np.abs(mean_flow).max(), 1e-3))
    images = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(255.0).to(device)
    target = torch.from_numpy(mean_flow / scale).permute(2, 0, 1).float().to(device)
    model = FlowNet().to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    with torch.enable_grad():  # jobs run under no_grad; training needs gradients
        curve = _fit(model, optimiser, images, target, patch, seconds, rng, progress, steps)
    return model.eval(), scale, curve


def _fit(model, optimiser, images, target, patch, seconds, rng, progress, steps=None):
    height, width = target.shape[1:]
    curve, started, step = [], time.perf_counter(), 0

    def more():
        if steps is not None:
            return step < steps
        return step < 20 or time.perf_counter() - started < seconds
    while more():
        picks = rng.integers(0, len(images), BATCH)
        ys, xs = rng.integers(0, height - patch + 1, BATCH), rng.integers(0, width - patch + 1, BATCH)
        batch = torch.stack([images[i, :, y:y + patch, x:x + patch] for i, y, x in zip(picks, ys, xs)])
        goal = torch.stack([target[:, y:y + patch, x:x + patch] for y, x in zip(ys, xs)])
        loss = nn.functional.mse_loss(model(batch), goal)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if step % 10 == 0:
            curve.append(float(loss.detach()))
            if progress:
                progress(f"training on the clip: loss {curve[-1]:.4f}",
                         min(1.0, (time.perf_counter() - started) / max(seconds, 1e-6)))
    return curve


def predict(model, scale, image, device="cpu"):
    """(H, W, 2) predicted flow, px/frame (y down), for an RGB image in 0..1 (H, W, 3)."""
    with torch.no_grad():
        tensor = torch.from_numpy(np.ascontiguousarray(image[..., :3], np.float32)).permute(2, 0, 1)[None]
        return (model(tensor.to(device))[0].permute(1, 2, 0).cpu().numpy() * scale).astype(np.float32)


def save(model, scale, curve, path):
    """Write next to its final place and rename, so a failed save leaves no partial model."""
    temp = f"{path}.part"
    with open(temp, "wb") as handle:
        torch.save({"state_dict": model.state_dict(), "scale": scale, "loss_curve": curve}, handle)
    os.replace(temp, path)


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
    """(model, scale, loss curve) from a file written by save; InputError with one line when it cannot be used.
    torch's own message is not passed on: it advises loading with weights_only=False, which would run code."""
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
        scale, curve = float(data["scale"]), [float(value) for value in data["loss_curve"]]
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError):
        raise InputError(f"{where} it holds no motion model of this backend; {advice}") from None
    weights_finite = all(bool(torch.isfinite(tensor).all()) for tensor in model.state_dict().values())
    if not weights_finite or not math.isfinite(scale) or scale <= 0:
        raise InputError(f"{where} it holds NaN or infinite weights (a damaged file); {advice}")
    return model.to(device).eval(), scale, curve
