"""Sun, sky light, sky colours and distance haze of a scene."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import overload

import numpy as np

from srseg.sources.synthetic.colours import Rgb, hsv, rgb, vary


@dataclass(frozen=True)
class Lighting:
    """Sun and sky light, sky colours and distance haze of one scene."""

    sun: np.ndarray  # unit vector toward the sun
    sun_rgb: Rgb  # direct light (zero when overcast)
    ambient: Rgb  # sky light
    zenith: Rgb
    horizon: Rgb
    visibility: float  # haze distance (m)
    clouds: float  # cloud cover 0..1

    def shade(self, normal: np.ndarray, shadowed: bool = False) -> Rgb:
        """Lambert shading multiplier of a face with outward ``normal``."""
        d = 0.0 if shadowed else max(0.0, float(np.dot(normal, self.sun)))
        return (self.ambient + self.sun_rgb * d).astype(np.float32)

    @overload
    def haze(self, depth: float) -> np.floating: ...
    @overload
    def haze(self, depth: np.ndarray) -> np.ndarray: ...

    def haze(self, depth: np.ndarray | float) -> np.ndarray | np.floating:
        """Fraction of the haze colour mixed into a surface at ``depth`` metres (a numpy scalar for a scalar depth)."""
        return 1.0 - np.exp(-np.asarray(depth, np.float32) / self.visibility)


FACING = np.array([0.0, 0.0, -1.0])  # normal of a surface facing the camera
UP = np.array([0.0, 1.0, 0.0])


def make_lighting(rng: np.random.Generator) -> Lighting:
    """Sunny, cloudy or overcast light and the matching sky."""
    weather = rng.choice(["sunny", "cloudy", "overcast"], p=[0.45, 0.3, 0.25])
    el, az = math.radians(rng.uniform(15, 60)), rng.uniform(0, 2 * math.pi)
    sun = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
    warm = rgb(1.05, 1.0, 0.9)
    if weather == "overcast":
        grey = rng.uniform(0.62, 0.85)
        zenith = vary(rng, rgb(grey, grey * 1.01, grey * 1.06), 0.05, 0.02)
        horizon = np.clip(zenith * rng.uniform(1.05, 1.18), 0, 1)
        return Lighting(sun, warm * 0.0, rgb(0.95, 0.97, 1.0) * rng.uniform(0.8, 1.0), zenith, horizon,
                        rng.uniform(180, 600), rng.uniform(0.0, 0.3))
    zenith = hsv(rng.uniform(0.55, 0.62), rng.uniform(0.35, 0.65), rng.uniform(0.72, 0.92))
    horizon = np.clip(zenith * 0.4 + rgb(0.9, 0.92, 0.94) * 0.6, 0, 1)
    sunny = weather == "sunny"
    sun_rgb = warm * (rng.uniform(0.5, 0.7) if sunny else rng.uniform(0.15, 0.3))
    ambient = rgb(0.92, 0.97, 1.07) * (rng.uniform(0.42, 0.55) if sunny else rng.uniform(0.6, 0.75))
    clouds = rng.uniform(0.0, 0.5) if sunny else rng.uniform(0.4, 0.9)
    return Lighting(sun, sun_rgb, ambient, zenith, horizon, rng.uniform(300, 1500), clouds)
