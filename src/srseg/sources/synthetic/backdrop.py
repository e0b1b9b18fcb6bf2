"""The sky (gradient and clouds) and the ground: every pixel below the horizon inverse-projected to the ground
plane, classified there (road, kerb, verge, sidewalk, lot) and textured in world coordinates."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from srseg.sources.synthetic.camera import Camera
from srseg.sources.synthetic.canvas import ROAD, SIDEWALK, TERRAIN, Canvas, normalise, value_noise
from srseg.sources.synthetic.colours import PAVINGS, Rgb, hsv, pick, rgb, vary
from srseg.sources.synthetic.light import UP
from srseg.sources.synthetic.street import Street, in_shadow


def _square_wave_integral(x: np.ndarray, duty: float) -> np.ndarray:
    fl = np.floor(x)
    return fl * duty + np.minimum(x - fl, duty)


def stripe_coverage(t: np.ndarray, footprint: np.ndarray, duty: float) -> np.ndarray:
    """Fraction of a pixel spanning ``t ± footprint/2`` (in periods) on stripes ``[k, k + duty)``."""
    fp = np.maximum(footprint, 1e-6)
    return (_square_wave_integral(t + fp / 2, duty) - _square_wave_integral(t - fp / 2, duty)) / fp


def band_coverage(x: np.ndarray, footprint: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fraction of a pixel spanning ``x ± footprint/2`` inside ``[lo, hi]``."""
    fp = np.maximum(footprint, 1e-6)
    return (np.clip(x + fp / 2, lo, hi) - np.clip(x - fp / 2, lo, hi)) / fp


class WorldNoise:
    """Smooth periodic noise sampled at ground coordinates (metres), faded where pixels are coarser."""

    def __init__(self, rng: np.random.Generator, scale: float, size: int = 64) -> None:
        self.scale = scale
        self.tile = normalise(ndimage.gaussian_filter(rng.standard_normal((size, size)), 1.2, mode="wrap"))

    def __call__(self, s: np.ndarray, z: np.ndarray, footprint: np.ndarray) -> np.ndarray:
        vals = ndimage.map_coordinates(self.tile, [z / self.scale, s / self.scale], order=1, mode="grid-wrap")
        return vals / (1.0 + (footprint / self.scale) ** 2)


def render_sky(cv: Canvas, cam: Camera, rng: np.random.Generator) -> None:
    """Vertical gradient from horizon to zenith with soft clouds (label stays sky)."""
    light = cv.light
    v = np.arange(cv.h, dtype=np.float32)[:, None, None]
    t = np.clip((cam.horizon - v) / max(cam.horizon, 1.0), 0, 1) ** 0.7
    sky = light.horizon * (1 - t) + light.zenith * t
    sky = np.broadcast_to(sky, (cv.h, cv.w, 3)).copy()
    if light.clouds > 0.02:
        k = cv.w / 384
        n = 0.65 * value_noise(rng, cv.h, cv.w, 40 * k) + 0.35 * value_noise(rng, cv.h, cv.w, 10 * k)
        thresh = 1.2 - 2.0 * light.clouds
        c = np.clip((n - thresh) / 0.8, 0, 1)[..., None] * 0.85
        cloud = np.clip(light.horizon * 1.08, 0, 1) * (0.9 + 0.1 * cv.mid[..., None])
        sky = sky * (1 - c) + cloud * c
    cv.image[:] = sky


@dataclass
class GroundPixels:
    """Ground-plane coordinates of a set of pixels and the texture values there (1-D arrays)."""

    s: np.ndarray
    z: np.ndarray
    fs: np.ndarray  # metres per pixel across
    fz: np.ndarray  # metres per pixel along the road
    e_out: np.ndarray  # distance outward from the road edge (off the road)
    stain: np.ndarray  # world-space noise, metres-sized blotches
    speck: np.ndarray  # world-space noise, decimetre-sized
    grain: np.ndarray  # screen-space noise
    mid: np.ndarray

    def take(self, idx: np.ndarray) -> GroundPixels:
        return GroundPixels(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


def classify_ground(street: Street, s: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ground code per point (0 road, 1 kerb, 2 verge, 3 sidewalk, 4 paved lot, 5 terrain lot) and ``e_out``."""
    code = np.zeros(z.shape, np.uint8)
    e_out = np.zeros(z.shape)
    for side in street.sides:
        t = side.sign * s - side.edge
        out = np.flatnonzero(t > 0)
        t, zo = t[out], z[out]
        kinds, setbacks, yards, _, _ = side.lot_arrays()
        idx = side.lot_index(zo)
        beyond = t - (side.front - side.edge)
        lot_code = np.where(kinds[idx] == 1, 5, np.where(kinds[idx] == 2, 4,
                            np.where((beyond < setbacks[idx]) & yards[idx], 5, 4)))
        code[out] = np.where(t < side.kerb, 1, np.where(t < side.kerb + side.verge, 2,
                             np.where(t < side.kerb + side.verge + side.walk, 3, lot_code)))
        e_out[out] = t
    return code, e_out


def _road_colours(g: GroundPixels, street: Street, rng: np.random.Generator) -> np.ndarray:
    """Asphalt with stains, tyre tracks and worn paint (lines, dashes, zebra crossing, stop line)."""
    asphalt = vary(rng, rgb(0.33, 0.33, 0.34) * rng.uniform(0.7, 1.3), 0.05, 0.03)
    track_depth, wear0 = rng.uniform(0.0, 0.12), rng.uniform(0.7, 0.95)
    shade = 1 + 0.08 * g.stain + 0.05 * g.speck + 0.05 * g.grain
    track = np.zeros_like(g.s)
    for lane_s, _ in street.lanes:
        for off in (-0.8, 0.8):
            track = np.maximum(track, band_coverage(g.s, g.fs, lane_s + off - 0.3, lane_s + off + 0.3))
    shade *= 1 - track_depth * track
    paint = np.zeros_like(g.s)
    for m in street.markings:
        cov = band_coverage(g.s, g.fs, m.s - m.width / 2, m.s + m.width / 2)
        if m.period:
            cov = cov * stripe_coverage((g.z - m.phase) / m.period, g.fz / m.period, m.duty)
        paint = np.maximum(paint, cov)
    if street.crosswalk is not None:
        z0, length = street.crosswalk
        inside = band_coverage(g.s, g.fs, -street.left.edge + 0.3, street.right.edge - 0.3)
        zebra = stripe_coverage(g.s + 0.25, g.fs, 0.5) * band_coverage(g.z, g.fz, z0, z0 + length) * inside
        stop = band_coverage(g.z, g.fz, z0 - 1.3, z0 - 1.0)
        stop *= band_coverage(g.s, g.fs, street.divider, street.right.edge)
        paint = np.maximum(paint, np.maximum(zebra, stop))
    paint *= np.clip(wear0 + 0.1 * g.speck, 0, 1)
    return asphalt * (shade * (1 - paint))[:, None] + street.paint * paint[:, None]


def _paving_colours(g: GroundPixels, rng: np.random.Generator, base: Rgb, slab: float, joint: float,
                    along_only: bool = False) -> np.ndarray:
    """Concrete or paving slabs whose joints are box-filtered over the pixel footprint."""
    joints = stripe_coverage(g.z / slab, g.fz / slab, 0.04 / slab)
    if not along_only:
        joints = np.maximum(joints, stripe_coverage(g.e_out / slab, g.fs / slab, 0.04 / slab))
    shade = (1 + 0.07 * g.stain + 0.06 * g.speck + 0.05 * g.grain) * (1 - joint * joints)
    return base * shade[:, None]


def _terrain_colours(g: GroundPixels, grass: Rgb, dirt: Rgb, bias: float) -> np.ndarray:
    """Grass mixed with bare earth, strongly textured."""
    mix = np.clip(0.5 + 0.35 * g.stain + bias, 0, 1)[:, None]
    return (grass * (1 - mix) + dirt * mix) * (1 + 0.14 * g.grain + 0.1 * g.mid + 0.1 * g.speck)[:, None]


def render_ground(cv: Canvas, cam: Camera, street: Street, rng: np.random.Generator) -> None:
    """Road, kerbs, verges, sidewalks and lot ground: each pixel below the horizon is inverse-projected
    to the ground plane, classified there and textured in world coordinates."""
    top = max(0, int(math.floor(cam.horizon)) + 1)
    if top >= cv.h:
        return
    light = cv.light
    v, u = np.mgrid[top:cv.h, 0:cv.w]
    z = (cam.focal * cam.eye / np.maximum(v - cam.horizon, 1e-3)).ravel()
    s = (u.ravel() - cam.cx) * z / cam.focal - cam.bend * z * z
    fz = z * z / (cam.focal * cam.eye)
    code, e_out = classify_ground(street, s, z)
    stain = WorldNoise(rng, rng.uniform(2, 5))(s, z, fz)
    speck = WorldNoise(rng, rng.uniform(0.3, 0.6))(s, z, fz)
    g = GroundPixels(s, z, z / cam.focal, fz, e_out, stain, speck, cv.grain[top:].ravel(), cv.mid[top:].ravel())

    kerb = vary(rng, rgb(0.68, 0.68, 0.66), 0.08)
    walk, lot = (vary(rng, pick(rng, PAVINGS), 0.1, 0.03) for _ in range(2))
    walk_slab, lot_slab = rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9)
    walk_joint, lot_joint = rng.uniform(0.15, 0.35), rng.uniform(0.15, 0.35)
    grass = hsv(rng.uniform(0.17, 0.27), rng.uniform(0.35, 0.6), rng.uniform(0.3, 0.5))
    dirt, bias = vary(rng, rgb(0.45, 0.38, 0.28)), rng.uniform(-0.6, 0.3)
    materials: list[tuple[tuple[int, ...], Callable[[GroundPixels], np.ndarray]]] = [
        ((0,), lambda p: _road_colours(p, street, rng)),
        ((1,), lambda p: _paving_colours(p, rng, kerb, 1.0, 0.3, along_only=True)),
        ((3,), lambda p: _paving_colours(p, rng, walk, walk_slab, walk_joint)),
        ((4,), lambda p: _paving_colours(p, rng, lot, lot_slab, lot_joint)),
        ((2, 5), lambda p: _terrain_colours(p, grass, dirt, bias)),
    ]
    img = np.empty((len(z), 3), np.float32)
    for codes, colours in materials:
        idx = np.flatnonzero(np.isin(code, codes))
        img[idx] = colours(g.take(idx))

    shadow = in_shadow(street, light, s, z)
    img *= np.where(shadow[:, None], light.ambient, light.shade(UP))
    f = light.haze(z)[:, None]
    cv.image[top:] = (img * (1 - f) + light.horizon * f).reshape(cv.h - top, cv.w, 3)
    ids = np.array([ROAD, SIDEWALK, TERRAIN, SIDEWALK, SIDEWALK, TERRAIN], np.uint8)
    cv.label[top:] = ids[code].reshape(cv.h - top, cv.w)
    cv.objects[top:] = 0
