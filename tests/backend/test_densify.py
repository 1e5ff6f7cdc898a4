"""Hints spread through the region they are in, however textured it is, and stop at its borders."""

import cv2
import numpy as np

from backend.densify import densify, guide_image, sample

WIDTH, HEIGHT = 320, 180


def noise(rng, every):
    """Coloured noise with features about `every` px wide, centred on 0."""
    small = rng.random((HEIGHT // every, WIDTH // every, 3)).astype(np.float32)
    return cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC) - 0.5


def river_between_banks(seed):
    """Rippled water (40% of the height) between a lawn above and sand below, all three textured."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    k = 2 * np.pi / 6.0
    ripples = 0.5 * np.sin(k * xs + 0.7 * np.sin(0.37 * k * ys)) * np.sin(1.3 * k * ys + 0.3 * k * xs)
    water = np.array([0.08, 0.2, 0.32]) + 0.25 * noise(rng, 3) + 0.12 * ripples[..., None]
    lawn = np.array([0.5, 0.7, 0.15]) + 0.3 * noise(rng, 3) + 0.15 * noise(rng, 12)
    sand = np.array([0.8, 0.68, 0.46]) + 0.25 * noise(rng, 2) + 0.1 * noise(rng, 20)
    top, bottom = int(0.3 * HEIGHT), int(0.7 * HEIGHT)
    image = sand.copy()
    image[:top], image[top:bottom] = lawn[:top], water[top:bottom]
    river = np.zeros((HEIGHT, WIDTH), bool)
    river[top:bottom] = True
    return np.clip(image, 0, 1).astype(np.float32), river


def speeds(image, hint, velocity):
    field = densify(np.array([hint]), np.array([velocity]), guide_image(image, WIDTH, HEIGHT))
    return field, np.hypot(field[..., 0], field[..., 1]) / np.hypot(*velocity)


def test_one_hint_fills_a_textured_river_and_stays_off_its_banks():
    for seed in range(3):
        image, river = river_between_banks(seed)
        hint, velocity = (0.3 * WIDTH, 0.5 * HEIGHT), (3.0, 0.5)
        field, speed = speeds(image, hint, velocity)
        assert (speed[river] >= 0.5).mean() >= 0.9
        assert (speed[river] >= 0.8).mean() >= 0.8
        banks = cv2.dilate(river.astype(np.uint8), np.ones((7, 7), np.uint8)) == 0  # more than 3 px away
        assert speed[banks].max() < 0.05
        assert np.allclose(sample(field, np.array([hint]))[0], velocity, rtol=0.05, atol=0.05)


def test_flow_stops_at_a_strong_edge_between_textured_regions():
    rng = np.random.default_rng(7)
    image = np.empty((HEIGHT, WIDTH, 3), np.float32)
    image[:, : WIDTH // 2] = (0.8, 0.3, 0.1)   # a bank
    image[:, WIDTH // 2:] = (0.1, 0.3, 0.8)   # a river, with no hint
    image = np.clip(image + 0.2 * noise(rng, 3), 0, 1)
    _, speed = speeds(image, (0.2 * WIDTH, 0.5 * HEIGHT), (2.0, 0.0))
    assert (speed[:, : WIDTH // 2 - 3] >= 0.8).mean() >= 0.9  # fills its own side
    assert speed[:, WIDTH // 2 + 3:].max() < 0.05             # not past 3 px from the edge
