"""The pinhole camera: its random pose, projection to pixels, and its effects on the finished image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

Z_NEAR = 0.6  # metres: geometry nearer than this is clipped


@dataclass(frozen=True)
class Camera:
    """Pinhole camera at ``(0, eye, 0)`` looking along +z; the road bends by ``bend·z²`` laterally."""

    width: int
    height: int
    focal: float  # pixels
    horizon: float  # image row of the horizon
    eye: float  # camera height (m)
    bend: float

    @property
    def cx(self) -> float:
        return (self.width - 1) / 2

    def project(self, pts: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` as ``(s, y, z)`` metres → pixel coordinates ``(..., 2)``."""
        pts = np.asarray(pts, dtype=np.float64)
        z = np.maximum(pts[..., 2], Z_NEAR)
        inv = self.focal / z
        out = np.empty(pts.shape[:-1] + (2,))
        out[..., 0] = self.cx + (pts[..., 0] + self.bend * z * z) * inv
        out[..., 1] = self.horizon + (self.eye - pts[..., 1]) * inv
        return out

    def px(self, metres: float, z: float) -> float:
        """Size in pixels of ``metres`` seen at depth ``z``."""
        return self.focal * metres / max(z, Z_NEAR)


def make_camera(rng: np.random.Generator, width: int, height: int) -> Camera:
    return Camera(
        width=width,
        height=height,
        focal=width * rng.uniform(0.85, 1.15),
        horizon=height * rng.uniform(0.36, 0.48),
        eye=rng.uniform(1.25, 1.7),
        bend=rng.normal(0.0, 0.0008) if rng.random() < 0.6 else 0.0,
    )


def apply_camera(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exposure, white balance, vignetting, mild lens blur and sensor noise; float RGB → uint8."""
    h, w = image.shape[:2]
    img = image * rng.uniform(0.85, 1.12) * (1 + rng.normal(0, 0.025, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (w / 2)) ** 2
    img *= (1 - rng.uniform(0.0, 0.25) * r2 / 2)[..., None]
    img = ndimage.gaussian_filter(img, sigma=(rng.uniform(0.45, 0.85),) * 2 + (0,))
    read, shot = rng.uniform(0.004, 0.012), rng.uniform(0.0, 0.012)
    img = img + rng.standard_normal(img.shape).astype(np.float32) * np.sqrt(read**2 + shot**2 * np.clip(img, 0, 1))
    return np.clip(np.round(np.clip(img, 0, 1) * 255), 0, 255).astype(np.uint8)
