"""Drift: one velocity for the whole mask."""

import numpy as np

from .results import Flow, flow_estimate

estimate = flow_estimate


def motion(layer, work):
    grid = work.grid
    return Flow(np.broadcast_to(grid.velocities(layer.velocity)[0], (grid.height, grid.width, 2)).copy())
