"""Fluid: the hints' velocities spread along the picture's structure."""

import numpy as np

from .. import appearance, densify
from .results import Flow, flow_estimate

estimate = flow_estimate


def motion(layer, work):
    grid = work.grid
    work.progress(f"densifying hints of '{layer.name}'", 0.0)
    points = grid.points([hint.uv for hint in layer.hints])
    velocities = grid.velocities([hint.velocity for hint in layer.hints])
    if layer.pins:  # pins are hints of no motion, so that the flow slows down towards them
        points = np.concatenate([points, grid.points([pin.uv for pin in layer.pins])])
        velocities = np.concatenate([velocities, np.zeros((len(layer.pins), 2))])
    flow = Flow(densify.densify(points, velocities, work.guide, work.edge_tolerance))
    if layer.shimmer > 0:
        flow.sparkle = appearance.sparkle(work.image, work.envelope, layer.shimmer, work.seed)
    return flow
