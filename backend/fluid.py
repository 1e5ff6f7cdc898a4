"""Fluid layers: sparse hints -> one static Eulerian velocity field -> a seamless loop of lookup offsets.

Eulerian motion (Holynski et al. 2021): the velocity field M(p) (made by densify.py) is fixed, and positions follow it by Euler steps.
We work in the gather form that a texture lookup needs: the colour at pixel x and frame t comes from the source
position s_t(x), found by following -M back in time for t steps. A loop of T frames cross-fades two layers:
  forward  layer: lookup s_t   (t steps along -M), weight 1 - t/T   -> the still image at t = 0
  backward layer: lookup s'_t  (T - t steps along +M), weight t/T   -> the still image at t = T
so frame T equals frame 0 exactly and no hole opens where content leaves.
Internally positions are in working-grid pixels with y down; the result is in UV units with v up.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

# Largest distance, in working pixels, that one Euler sub-step may move; faster flows take more sub-steps.
MAX_STEP_PX = 1.0


def loop_lookups(velocity, loop_frames, progress):
    """Both cross-faded layers of lookup offsets, (2, T, H, W, 2) in px (y down), and weights (T, 2)."""
    height, width, _ = velocity.shape
    device = velocity.device
    substeps = max(1, math.ceil(float(velocity.abs().max()) / MAX_STEP_PX))
    field = velocity.permute(2, 0, 1)[None]  # (1, 2, H, W) for grid_sample
    ys, xs = torch.meshgrid(torch.arange(height, device=device, dtype=torch.float32),
                            torch.arange(width, device=device, dtype=torch.float32), indexing="ij")
    grid = torch.stack([xs, ys], dim=-1)
    limit = torch.tensor([width - 1, height - 1], device=device, dtype=torch.float32)
    scale = torch.tensor([2.0 / width, 2.0 / height], device=device, dtype=torch.float32)

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

    lookups = torch.empty((2, loop_frames, height, width, 2), dtype=torch.float32, device=device)
    backward_pos = forward_pos = grid
    lookups[0, 0] = 0.0
    for n in range(1, loop_frames + 1):
        if n < loop_frames:
            forward_pos = step(forward_pos, -1.0)
            lookups[0, n] = forward_pos - grid
        backward_pos = step(backward_pos, +1.0)
        lookups[1, loop_frames - n] = backward_pos - grid
        progress(f"integrating {loop_frames} frames", n / loop_frames)
    # A still pixel keeps its own colour. Following the field from it is not enough: bilinear sampling puts a
    # pixel next to the mask edge a rounding error inside the flow, and the flow then pulls it along.
    lookups *= (velocity.abs().sum(dim=-1, keepdim=True) > 0).float()
    t = torch.arange(loop_frames, dtype=torch.float32) / loop_frames
    weights = torch.stack([1.0 - t, t], dim=1)
    return lookups, weights, substeps


def px_to_uv(offsets_px, width, height):
    """Pixel offsets (x right, y down) -> UV offsets (u right, v up), as float32 numpy."""
    result = offsets_px.detach().cpu().numpy().astype(np.float32, copy=True)
    result[..., 0] /= width
    result[..., 1] /= -height
    return result
