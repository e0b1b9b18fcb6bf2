"""Colour helpers, the palettes (walls, paints, pavings, roofs, metals, hair, helmets) and random clothing, skin
and foliage colours."""

from __future__ import annotations

import colorsys

import numpy as np

Rgb = np.ndarray


def rgb(r: float, g: float, b: float) -> Rgb:
    return np.array([r, g, b], dtype=np.float32)


def hsv(h: float, s: float, v: float) -> Rgb:
    return rgb(*colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)))


def vary(rng: np.random.Generator, colour: Rgb, bright: float = 0.12, tint: float = 0.04) -> Rgb:
    """``colour`` with a random brightness change and a small per-channel tint."""
    c = np.asarray(colour, np.float32) * rng.uniform(1 - bright, 1 + bright) * (1 + rng.normal(0, tint, 3))
    return np.clip(c, 0.0, 1.0).astype(np.float32)


def pick(rng: np.random.Generator, palette: list[tuple[float, float, float]]) -> Rgb:
    return rgb(*palette[rng.integers(len(palette))])


WALLS = [
    (0.78, 0.70, 0.56), (0.88, 0.84, 0.72), (0.86, 0.86, 0.83), (0.56, 0.55, 0.54), (0.36, 0.36, 0.38),
    (0.56, 0.28, 0.19), (0.46, 0.33, 0.25), (0.80, 0.62, 0.36), (0.85, 0.68, 0.63), (0.62, 0.71, 0.79),
    (0.68, 0.77, 0.63), (0.65, 0.64, 0.60), (0.72, 0.45, 0.32), (0.92, 0.90, 0.86),
]
CAR_PAINTS = [
    (0.86, 0.87, 0.87), (0.07, 0.07, 0.08), (0.63, 0.65, 0.67), (0.38, 0.39, 0.41), (0.08, 0.12, 0.30),
    (0.62, 0.07, 0.06), (0.16, 0.32, 0.62), (0.12, 0.30, 0.18), (0.66, 0.59, 0.46), (0.86, 0.70, 0.10),
    (0.80, 0.36, 0.08), (0.20, 0.20, 0.22), (0.90, 0.90, 0.92),
]
CARGO_PAINTS = [(0.9, 0.9, 0.88), (0.75, 0.75, 0.75), (0.2, 0.3, 0.6), (0.7, 0.1, 0.1)]
BUS_PAINTS = [(0.90, 0.72, 0.10), (0.75, 0.10, 0.10), (0.15, 0.35, 0.70), (0.90, 0.90, 0.88), (0.20, 0.55, 0.30)]
PAVINGS = [(0.62, 0.61, 0.58), (0.70, 0.66, 0.58), (0.58, 0.42, 0.36), (0.48, 0.48, 0.50), (0.74, 0.72, 0.68)]
ROOFS = [(0.50, 0.20, 0.14), (0.30, 0.28, 0.28), (0.42, 0.30, 0.24), (0.22, 0.24, 0.28)]
METALS = [(0.55, 0.56, 0.57), (0.35, 0.36, 0.37), (0.15, 0.16, 0.16), (0.18, 0.28, 0.20), (0.62, 0.62, 0.60)]


HAIR = [(0.06, 0.05, 0.04), (0.3, 0.2, 0.1), (0.7, 0.6, 0.4), (0.6, 0.6, 0.6)]
HELMETS = [(0.1, 0.1, 0.1), (0.9, 0.9, 0.9), (0.8, 0.2, 0.1), (0.2, 0.4, 0.8)]


def clothes(rng: np.random.Generator) -> Rgb:
    """Mostly dark or muted clothing, sometimes a bright colour."""
    if rng.random() < 0.35:
        return hsv(rng.random(), rng.uniform(0.0, 0.15), rng.uniform(0.05, 0.85))
    return hsv(rng.random(), rng.uniform(0.2, 0.85), rng.uniform(0.12, 0.8))


def skin_tone(rng: np.random.Generator) -> Rgb:
    return np.clip(rgb(0.95, 0.77, 0.64) * (1 - rng.uniform(0, 1) ** 1.5 * 0.65), 0, 1)


def leaf_green(rng: np.random.Generator) -> Rgb:
    if rng.random() < 0.08:  # autumn
        return hsv(rng.uniform(0.06, 0.14), rng.uniform(0.5, 0.8), rng.uniform(0.35, 0.6))
    return hsv(rng.uniform(0.20, 0.36), rng.uniform(0.35, 0.75), rng.uniform(0.18, 0.45))
