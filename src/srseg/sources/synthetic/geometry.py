"""The draw context and the shapes objects are built from: 2-D outlines, world rectangles and extruded
profiles."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from srseg.sources.synthetic.camera import Z_NEAR, Camera
from srseg.sources.synthetic.canvas import Canvas
from srseg.sources.synthetic.colours import Rgb
from srseg.sources.synthetic.light import Lighting
from srseg.sources.synthetic.street import Street, in_shadow


@dataclass
class Ctx:
    """Everything a draw function needs."""

    cv: Canvas
    cam: Camera
    light: Lighting
    street: Street
    rng: np.random.Generator

    def proj(self, pts: npt.ArrayLike) -> np.ndarray:
        """Project world points, subdividing long edges along z so that they follow the road's bend."""
        pts = np.asarray(pts, np.float64)
        if self.cam.bend and len(pts) > 1:
            nxt = np.roll(pts, -1, axis=0)
            steps = np.minimum(16, np.abs(nxt[:, 2] - pts[:, 2]) // 4).astype(int)
            if steps.any():
                pts = np.concatenate([a + (b - a) * (np.arange(n + 1)[:, None] / (n + 1))
                                      for a, b, n in zip(pts, nxt, steps, strict=False)])
        return self.cam.project(pts)

    def on_screen(self, s: float, z: float, half_width: float, height: float) -> bool:
        """Whether an upright object of that size standing at ``(s, z)`` can overlap the image."""
        if z < Z_NEAR:
            return False
        (u0, v0), (u1, v1) = self.cam.project(np.array([[s - half_width, height, z], [s + half_width, 0.0, z]]))
        return u1 >= -1 and u0 <= self.cam.width and v1 >= -1 and v0 <= self.cam.height

    def shade(self, normal: np.ndarray, s: float, z: float) -> Rgb:
        return self.light.shade(normal, bool(in_shadow(self.street, self.light, s, z)))

    def contact_shadow(self, s0: float, s1: float, z0: float, z1: float, factor: float = 0.5) -> None:
        if self.light.sun_rgb.max() < 0.3:
            factor = 1 - (1 - factor) * 0.6
        quad = np.array([[s0, 0, z0], [s1, 0, z0], [s1, 0, z1], [s0, 0, z1]])
        self.cv.darken_ground(self.proj(quad), factor)


def flat(local: np.ndarray, s: float, z: float, yaw: float = 0.0) -> np.ndarray:
    """Local points ``(x, y[, w])`` of a figure standing at ``(s, z)`` → world; x along ``yaw``, w across."""
    local = np.asarray(local, np.float64)
    x, y = local[:, 0], local[:, 1]
    w = local[:, 2] if local.shape[1] > 2 else 0.0
    c, sn = math.cos(yaw), math.sin(yaw)
    return np.column_stack([s + x * c - w * sn, y, z + x * sn + w * c])


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 20, jag: np.ndarray | None = None,
            start: float = 0.0, stop: float = 2 * math.pi) -> np.ndarray:
    """Points of an ellipse (or arc) in a 2-D local frame; ``jag`` scales the radius per point."""
    t = np.linspace(start, stop, n, endpoint=(stop - start) < 2 * math.pi - 1e-6)
    r = 1.0 if jag is None else jag
    return np.column_stack([cx + rx * r * np.cos(t), cy + ry * r * np.sin(t)])


def smooth_ring(x: np.ndarray) -> np.ndarray:
    """Light circular smoothing of per-vertex radius noise."""
    ext = np.concatenate([x[-1:], x, x[:1]])
    return 0.25 * ext[:-2] + 0.5 * x + 0.25 * ext[2:]


def limb(p: tuple[float, float], q: tuple[float, float], w0: float, w1: float) -> np.ndarray:
    """A tapered quad from ``p`` (width ``w0``) to ``q`` (width ``w1``) in a 2-D frame."""
    p_, q_ = np.asarray(p, float), np.asarray(q, float)
    d = q_ - p_
    n = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9)
    return np.array([p_ + n * w0 / 2, q_ + n * w1 / 2, q_ - n * w1 / 2, p_ - n * w0 / 2])


def rect(s0: float, s1: float, y0: float, y1: float, z: float) -> np.ndarray:
    """A rectangle facing the camera at depth ``z`` (world points)."""
    return np.array([[s0, y0, z], [s1, y0, z], [s1, y1, z], [s0, y1, z]], np.float64)


def inset(poly: np.ndarray, frac: float) -> np.ndarray:
    """``poly`` shrunk toward its centroid."""
    c = poly.mean(axis=0)
    return c + (poly - c) * frac


def prism_faces(s0: float, s1: float, profile: np.ndarray, eye: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Visible faces (world polygon, outward normal) of a CCW ``(z, y)`` profile extruded over ``s0..s1``."""
    faces = []
    k = len(profile)
    for i in range(k):
        (za, ya), (zb, yb) = profile[i], profile[(i + 1) % k]
        n = np.array([0.0, -(zb - za), yb - ya])
        n /= np.linalg.norm(n) + 1e-12
        if (eye - ya) * n[1] - za * n[2] > 1e-9:
            faces.append((np.array([[s0, ya, za], [s1, ya, za], [s1, yb, zb], [s0, yb, zb]]), n))
    for s_cap, normal, visible in ((s0, (-1.0, 0, 0), s0 > 0), (s1, (1.0, 0, 0), s1 < 0)):
        if visible:
            faces.append((on_side(s_cap, profile), np.array(normal)))
    return faces


def on_side(s_cap: float, zy: np.ndarray) -> np.ndarray:
    """Points ``(z, y)`` of a side profile placed in the vertical plane ``s = s_cap`` (world points)."""
    return np.column_stack([np.full(len(zy), s_cap), zy[:, 1], zy[:, 0]])


def box_profile(z0: float, z1: float, y0: float, y1: float, chamfer: float = 0.0) -> np.ndarray:
    """CCW ``(z, y)`` profile of a box, optionally with chamfered top edges."""
    if chamfer <= 0:
        return np.array([[z0, y0], [z1, y0], [z1, y1], [z0, y1]], np.float64)
    c = chamfer
    return np.array([[z0, y0], [z1, y0], [z1, y1 - c], [z1 - c, y1], [z0 + c, y1], [z0, y1 - c]], np.float64)
