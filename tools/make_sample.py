"""Paint the shipped sample images procedurally, so the project owns every pixel of them.

Run with the backend environment:  .venvs/backend/bin/python tools/make_sample.py river|sky|tree PATH.png
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


PAINTERS = {"river": paint_river, "sky": paint_sky, "tree": paint_tree}


def main(name, path):
    rgb = PAINTERS[name]()
    cv2.imwrite(path, (rgb[..., ::-1] * 255 + 0.5).astype(np.uint8))
    print(f"wrote {path} ({WIDTH}x{HEIGHT})")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
