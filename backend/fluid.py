"""Flowing layers: one static Eulerian velocity field -> the lookups of the loop's streams, by age.

Eulerian motion (Holynski et al. 2021): the velocity field M(p) (made by densify.py) is fixed, and positions
follow it by Euler steps. We work in the gather form that a texture lookup needs: the colour at pixel x of a
stream of age s comes from the source position found by following -M back s steps (s > 0: the still carried
downstream) or +M forward |s| steps (s < 0: the still before it arrives). backend/loop.py says how streams of
ages -P/2..P/2 are staggered and mixed into a seamless loop; here we only integrate, once per whole age.
Internally positions are in working-grid pixels with y down; the result is in UV units with v up.
"""

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

# Largest distance, in working pixels, that one Euler sub-step may move; faster flows take more sub-steps.
MAX_STEP_PX = 1.0


def age_lookups(velocity, half_span, progress):
    """Lookup offsets for every whole age -H..H, (2H + 1, H, W, 2) float32 numpy in UV units (v up): entry
    s + H is the stream of age s, entry H (age 0) is the still. Each age is written once, straight into the
    result: its size is the cost floor."""
    substeps = max(1, math.ceil(float(velocity.abs().max()) / MAX_STEP_PX))
    integrate = _integrate_cpu if velocity.device.type == "cpu" else _integrate_torch
    return integrate(velocity, half_span, substeps, progress), substeps


def _integrate_cpu(velocity, half_span, substeps, progress):
    """The CPU path: OpenCV's bilinear remap gathers the field about twice as fast as grid_sample."""
    field = np.ascontiguousarray(velocity.numpy())
    height, width, _ = field.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    moving = (np.abs(field).sum(axis=-1) > 0).astype(np.float32)  # see _integrate_torch
    to_uv = (moving / width, moving / -height)
    lookups = np.empty((2 * half_span + 1, height, width, 2), np.float32)
    lookups[half_span] = 0.0
    positions = {-1.0: (xs.copy(), ys.copy()), 1.0: (xs.copy(), ys.copy())}

    def step(sign):
        x, y = positions[sign]
        for _ in range(substeps):
            sampled = cv2.remap(field, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            x += (sign / substeps) * sampled[..., 0]
            y += (sign / substeps) * sampled[..., 1]
            np.clip(x, 0.0, width - 1, out=x)  # lookups stay on the picture
            np.clip(y, 0.0, height - 1, out=y)
        return x, y

    def store(target, x, y):
        np.multiply(x - xs, to_uv[0], out=target[..., 0])
        np.multiply(y - ys, to_uv[1], out=target[..., 1])

    for n in range(1, half_span + 1):
        store(lookups[half_span + n], *step(-1.0))  # age +n: where the content came from, n frames upstream
        store(lookups[half_span - n], *step(1.0))   # age -n: where it will come from, n frames downstream
        progress(f"integrating {2 * half_span} ages of the flow", n / half_span)
    return lookups


def _integrate_torch(velocity, half_span, substeps, progress):
    """The GPU path (CUDA, MPS): grid_sample on the device, each finished age copied to the host result."""
    height, width, _ = velocity.shape
    device = velocity.device
    field = velocity.permute(2, 0, 1)[None]  # (1, 2, H, W) for grid_sample
    ys, xs = torch.meshgrid(torch.arange(height, device=device, dtype=torch.float32),
                            torch.arange(width, device=device, dtype=torch.float32), indexing="ij")
    grid = torch.stack([xs, ys], dim=-1)
    limit = torch.tensor([width - 1, height - 1], device=device, dtype=torch.float32)
    scale = torch.tensor([2.0 / width, 2.0 / height], device=device, dtype=torch.float32)
    # A still pixel keeps its own colour. Following the field from it is not enough: bilinear sampling puts a
    # pixel next to the mask edge a rounding error inside the flow, and the flow then pulls it along. The same
    # factor turns pixels (y down) into UV units (v up).
    moving = (velocity.abs().sum(dim=-1, keepdim=True) > 0).float()
    to_uv = moving * torch.tensor([1.0 / width, -1.0 / height], device=device, dtype=torch.float32)

    def sample(positions):
        normalised = (positions + 0.5) * scale - 1.0
        return F.grid_sample(field, normalised[None], mode="bilinear", padding_mode="border",
                             align_corners=False)[0].permute(1, 2, 0)

    def step(positions, sign):
        for _ in range(substeps):
            positions = positions + sign * sample(positions) / substeps
            # Lookups stay on the picture, whatever the texture's extension mode is.
            positions = torch.minimum(torch.clamp(positions, min=0.0), limit)
        return positions

    lookups = np.empty((2 * half_span + 1, height, width, 2), np.float32)
    lookups[half_span] = 0.0
    upstream = downstream = grid
    for n in range(1, half_span + 1):
        upstream = step(upstream, -1.0)
        lookups[half_span + n] = ((upstream - grid) * to_uv).cpu().numpy()
        downstream = step(downstream, +1.0)
        lookups[half_span - n] = ((downstream - grid) * to_uv).cpu().numpy()
        progress(f"integrating {2 * half_span} ages of the flow", n / half_span)
    return lookups
