"""Paint the shipped sample images procedurally, so the project owns every pixel of them.

Run with the backend environment:  .venvs/backend/bin/python tools/make_sample.py NAME PATH, NAME one of river,
sky, tree, campfire, campfire-flame-mask
"""
import sys

import cv2
import numpy as np

WIDTH, HEIGHT = 640, 360


def value_noise(rng, shape, cells):
    """Smooth noise: random values on a coarse grid, upsampled with cubic interpolation."""
    coarse = rng.random((cells[1] + 3, cells[0] + 3)).astype(np.float32)
    big = cv2.resize(coarse, (shape[1] + shape[1] * 3 // cells[0], shape[0] + shape[0] * 3 // cells[1]),
                     interpolation=cv2.INTER_CUBIC)
    return big[: shape[0], : shape[1]]


def fractal_noise(rng, shape, base_cells, octaves=4):
    total = np.zeros(shape, np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        cells = (base_cells[0] * 2 ** octave, base_cells[1] * 2 ** octave)
        total += amplitude * value_noise(rng, shape, cells)
        norm += amplitude
        amplitude *= 0.5
    return total / norm


def paint_river(seed=7):
    rng = np.random.default_rng(seed)
    h, w = HEIGHT, WIDTH
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    img = np.zeros((h, w, 3), np.float32)  # RGB, rows top to bottom

    # Sky: gradient with soft clouds.
    sky = np.stack([0.55 + 0.25 * y, 0.70 + 0.15 * y, 0.95 - 0.05 * y], -1) * np.ones((1, w, 1), np.float32)
    clouds = np.clip((fractal_noise(rng, (h, w), (6, 3)) - 0.45) * 2.5, 0, 1)[..., None]
    img[:] = sky * (1 - clouds * 0.8) + clouds * 0.8 * np.array([1.0, 0.98, 0.96], np.float32)

    # Mountains: two ridges.
    for level, colour in ((0.38, (0.42, 0.45, 0.55)), (0.50, (0.30, 0.38, 0.33))):
        profile = level + 0.12 * (fractal_noise(rng, (1, w), (5, 1), octaves=5)[0] - 0.5)
        rock = 0.85 + 0.3 * fractal_noise(rng, (h, w), (40, 20))[..., None]
        below = y > profile[None, :]
        img[below] = (np.array(colour, np.float32) * rock)[below]

    # Meadow banks.
    grass = 0.75 + 0.5 * fractal_noise(rng, (h, w), (80, 40))[..., None]
    meadow = np.broadcast_to(y > 0.58, (h, w))
    img[meadow] = (np.array([0.25, 0.50, 0.20], np.float32) * grass)[meadow]

    # River: a band across the lower middle, with streaks that show the flow.
    river = np.broadcast_to((y > 0.62) & (y < 0.80), (h, w))
    streaks = fractal_noise(rng, (h, w), (12, 60))
    foam = np.clip((streaks - 0.55) * 4, 0, 1)[..., None]
    water = np.array([0.15, 0.35, 0.55], np.float32) * (0.8 + 0.4 * streaks[..., None]) + foam * 0.6
    img[river] = np.clip(water, 0, 1)[river]
    return np.clip(img, 0, 1)


def paint_sky(seed=11):
    """Towering clouds over a low horizon: for drifting cloud layers."""
    rng = np.random.default_rng(seed)
    h, w = HEIGHT, WIDTH
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    sky = np.stack([0.35 + 0.35 * y, 0.55 + 0.25 * y, 0.90 + 0.0 * y], -1) * np.ones((1, w, 1), np.float32)
    density = fractal_noise(rng, (h, w), (5, 3), octaves=5)
    clouds = np.clip((density - 0.42) * 3.0, 0, 1)[..., None] * (y < 0.8)[..., None]
    shade = 0.75 + 0.25 * fractal_noise(rng, (h, w), (20, 10))[..., None]
    img = sky * (1 - clouds) + clouds * shade * np.array([1.0, 0.97, 0.94], np.float32)
    hills = y > 0.82 + 0.04 * (fractal_noise(rng, (1, w), (6, 1))[0] - 0.5)[None, :]
    texture = 0.8 + 0.4 * fractal_noise(rng, (h, w), (60, 30))[..., None]
    img[hills] = (np.array([0.18, 0.30, 0.16], np.float32) * texture)[hills]
    return np.clip(img, 0, 1)


def paint_tree(seed=5):
    """A lone tree on a meadow: for swaying layers (the crown and the grass), pinned at the trunk."""
    rng = np.random.default_rng(seed)
    h, w = HEIGHT, WIDTH
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    img = np.stack([0.60 + 0.25 * y, 0.75 + 0.15 * y, 0.95 + 0.0 * y], -1) * np.ones((1, w, 1), np.float32)
    blades = fractal_noise(rng, (h, w), (160, 8), octaves=3)[..., None]
    meadow = np.broadcast_to(y > 0.72, (h, w))
    img[meadow] = (np.array([0.30, 0.55, 0.18], np.float32) * (0.6 + 0.8 * blades))[meadow]
    trunk = (np.abs(x - 0.45) < 0.018 + 0.01 * (y - 0.5)) & (y > 0.45) & (y < 0.80)
    img[trunk] = np.array([0.35, 0.24, 0.14], np.float32)
    crown_shape = ((x - 0.45) / 0.20) ** 2 + ((y - 0.35) / 0.26) ** 2
    leaves = fractal_noise(rng, (h, w), (30, 17), octaves=4)
    crown = crown_shape + 0.5 * (leaves - 0.5) < 1.0
    img[crown] = (np.array([0.16, 0.42, 0.14], np.float32) * (0.55 + 0.9 * leaves[..., None]))[crown]
    return np.clip(img, 0, 1)


def paint_campfire(seed=3, size=(1280, 720), flame_only=False):
    """A campfire at dusk: a flame over crossed logs, its glow on the ground and on a rock, a darkening sky.
    `flame_only`: the flame's mask instead (white where it burns, with a soft rim), for its flicker layer."""
    rng = np.random.default_rng(seed)
    w, h = size
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    sky = np.stack([0.10 + 0.25 * y, 0.12 + 0.15 * y, 0.30 - 0.05 * y], -1) * np.ones((1, w, 1), np.float32)
    img = sky.copy()
    hills = 0.55 + 0.06 * (fractal_noise(rng, (1, w), (6, 1), octaves=4)[0] - 0.5)
    ground = y > hills[None, :]
    soil = np.array([0.10, 0.08, 0.06], np.float32) * (0.7 + 0.6 * fractal_noise(rng, (h, w), (90, 50))[..., None])
    img[ground] = soil[ground]
    # The glow: warm light falling off from the fire's foot (u 0.5, v 0.25).
    distance = np.hypot((x - 0.5) * w / h, (y - 0.75) * 1.6)
    glow = np.exp(-(distance / 0.22) ** 2)[..., None] * ground[..., None]
    img = img + glow * np.array([0.85, 0.45, 0.15], np.float32) * 0.8
    # A rock to the right, lit on its left side.
    rock = ((x - 0.72) / 0.08) ** 2 + ((y - 0.72) / 0.06) ** 2 < 1.0
    shade = np.clip(1.2 - (x - 0.64) / 0.16, 0.2, 1.0) * (0.8 + 0.4 * fractal_noise(rng, (h, w), (60, 40)))
    img[rock] = (np.array([0.45, 0.30, 0.20], np.float32) * shade[..., None])[rock]
    # Logs: two dark bars crossing under the flame.
    for slope in (0.35, -0.35):
        along = (x - 0.5) * w / h
        bar = np.abs((y - 0.78) - slope * along) < 0.018
        img[bar & (np.abs(along) < 0.12)] = np.array([0.18, 0.10, 0.05], np.float32)
    # The flame: a tapering tongue, white-yellow at its core, orange to red at its edge, ragged at the top.
    height = np.clip((0.78 - y) / 0.38, 0.0, 1.0)
    ragged = 0.75 + 0.5 * fractal_noise(rng, (h, w), (30, 20))
    half_width = 0.13 * np.clip(1 - height, 0, 1) ** 0.8 * np.clip(height * 4, 0.4, 1) * ragged
    inside = np.clip(1.4 * (1 - np.abs(x - 0.5 - 0.01 * np.sin(7 * height)) * w / h / np.maximum(half_width, 1e-3)),
                     0, 1)
    flame = inside * (y < 0.79) * (y > 0.40)
    if flame_only:
        rim = cv2.GaussianBlur(flame.astype(np.float32), (0, 0), 6.0)
        return np.repeat(np.clip(np.maximum(flame, rim) * 1.5, 0, 1)[..., None], 3, axis=-1)
    heat = np.clip(flame * (1.2 - height), 0, 1) ** 0.7
    colour = np.stack([np.ones_like(heat), 0.25 + 0.7 * heat, 0.05 + 0.6 * heat ** 3], -1)
    img = img * (1 - flame[..., None]) + flame[..., None] * colour
    return np.clip(img, 0, 1)


PAINTERS = {"river": paint_river, "sky": paint_sky, "tree": paint_tree, "campfire": paint_campfire,
            "campfire-flame-mask": lambda: paint_campfire(flame_only=True)}


def main(name, path):
    rgb = PAINTERS[name]()
    cv2.imwrite(path, (rgb[..., ::-1] * 255 + 0.5).astype(np.uint8))
    print(f"wrote {path} ({rgb.shape[1]}x{rgb.shape[0]})")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
