"""Buildings: the distant skyline and building fronts with their windows, shops and doors."""

from __future__ import annotations

import math

import numpy as np

from srseg.sources.synthetic.camera import Z_NEAR
from srseg.sources.synthetic.canvas import BUILDING, VEGETATION, Stroke
from srseg.sources.synthetic.colours import WALLS, Rgb, hsv, leaf_green, pick, rgb, vary
from srseg.sources.synthetic.geometry import Ctx, ellipse, flat, rect
from srseg.sources.synthetic.light import FACING
from srseg.sources.synthetic.street import Lot, Side


def draw_skyline(ctx: Ctx) -> None:
    """A distant row of buildings and tree clumps closing the view at ``street.z_far``."""
    cam, rng, z = ctx.cam, ctx.rng, ctx.street.z_far
    shift = cam.bend * z * z
    s = (-cam.cx - 10) * z / cam.focal - shift
    s_end = (cam.width - cam.cx + 10) * z / cam.focal - shift
    while s < s_end:
        width = rng.uniform(8, 45)
        stroke = Stroke()
        if rng.random() < 0.6:
            h = rng.uniform(4, 30)
            wall = vary(rng, pick(rng, WALLS), 0.15) * ctx.light.shade(FACING)
            stroke.poly(cam.project(rect(s, s + width, 0, h, z)), wall)
            ctx.cv.paint(stroke, BUILDING, (0.02, 0.02, 0.02), depth=z)
        else:
            green = leaf_green(rng) * ctx.light.shade(FACING)
            stroke.poly(cam.project(rect(s, s + width, 0, 2.5, z)), green)
            for _ in range(max(1, int(width / 5))):
                cx, r = rng.uniform(s, s + width), rng.uniform(3, 8)
                jag = 1 + 0.12 * rng.standard_normal(18)
                stroke.poly(cam.project(flat(ellipse(0, r * 0.9, r, r * 0.8, 18, jag), cx, z)), vary(rng, green, 0.1))
            ctx.cv.paint(stroke, VEGETATION, (0.08, 0.08, 0.03), depth=z)
        s += width


def _facade_point(side: Side, e_f: float, y: float, z: float) -> list[float]:
    return [side.sign * e_f, y, z]


def draw_building(ctx: Ctx, side: Side, lot: Lot, e_f: float) -> None:
    """A building front (windows, shop floor, trim) from ``lot.z0`` to ``lot.z1`` at lateral ``e_f``."""
    cam, rng, fc = ctx.cam, ctx.rng, lot.facade
    assert fc is not None
    z0, z1, h, sg = max(lot.z0, Z_NEAR), min(lot.z1, ctx.street.z_far), lot.height, side.sign
    if z1 <= z0 + 0.5:
        return
    n_face = np.array([-sg, 0.0, 0.0])
    shade = ctx.light.shade(n_face)
    stroke = Stroke()

    def band(y0: float, y1: float, za: float = z0, zb: float = z1) -> np.ndarray:
        return ctx.proj([_facade_point(side, e_f, y0, za), _facade_point(side, e_f, y0, zb),
                         _facade_point(side, e_f, y1, zb), _facade_point(side, e_f, y1, za)])

    if lot.z0 >= Z_NEAR:  # the end wall facing the camera
        end = rect(0, 0, 0, h, z0)
        end[:, 0] = [sg * e_f, sg * (e_f + lot.depth), sg * (e_f + lot.depth), sg * e_f]
        stroke.poly(cam.project(end), fc.wall * 0.92 * ctx.light.shade(FACING))
    stroke.poly(band(0, h), fc.wall * shade)
    if fc.roof is not None:  # pitched roof seen from below
        rd, rh = rng.uniform(3, 6), rng.uniform(2, 4)
        n_roof = np.array([-sg * rh, rd, 0.0]) / math.hypot(rd, rh)
        if rh * e_f > rd * (h - cam.eye):
            roof = [_facade_point(side, e_f, h, z0), _facade_point(side, e_f, h, z1),
                    _facade_point(side, e_f + rd, h + rh, z1), _facade_point(side, e_f + rd, h + rh, z0)]
            stroke.poly(ctx.proj(roof), fc.roof * ctx.light.shade(n_roof))
    stroke.poly(band(0, 0.5), fc.trim * shade * 0.8)
    stroke.poly(band(h - 0.45, h), fc.trim * shade)
    _windows(ctx, stroke, side, lot, e_f, shade)
    ctx.cv.paint(stroke, BUILDING, (fc.texture, fc.texture * 0.7, 0.03), depth=max(z0, e_f))


def _windows(ctx: Ctx, stroke: Stroke, side: Side, lot: Lot, e_f: float, shade: Rgb) -> None:
    """Window grid (frames and glass), and on the ground floor shop windows, signs and doors."""
    cam, rng, fc = ctx.cam, ctx.rng, lot.facade
    assert fc is not None
    z_lo, z_hi = max(lot.z0, Z_NEAR), min(lot.z1, ctx.street.z_far)
    sky = ctx.light.horizon
    glass_shade = 0.55 + 0.45 * shade

    def quads(za: float | np.ndarray, zb: float | np.ndarray, y0: float | np.ndarray,
              y1: float | np.ndarray) -> np.ndarray:
        """Projected facade rectangles, (N, 4, 2); the bounds broadcast against each other."""
        za, zb, y0, y1 = np.broadcast_arrays(*(np.atleast_1d(np.asarray(a, np.float64)) for a in (za, zb, y0, y1)))
        pts = np.empty(za.shape + (4, 3))
        pts[..., 0] = side.sign * e_f
        pts[..., 1] = np.stack([y0, y0, y1, y1], -1)
        pts[..., 2] = np.stack([za, zb, zb, za], -1)
        return cam.project(pts)

    def quad(za: float, zb: float, y0: float, y1: float) -> np.ndarray:
        return quads(za, zb, y0, y1)[0]

    def glass() -> Rgb:
        return (fc.glass * (1 - (r := rng.uniform(0.05, 0.45))) + sky * r * 0.7) * glass_shade * rng.uniform(0.8, 1.2)

    margin = fc.pitch * 0.5
    cols = np.arange(lot.z0 + margin, z_hi - margin, fc.pitch)
    frame_w = 0.08 if not fc.curtain else 0.06
    za: np.ndarray | float  # the window columns' bounds (arrays), then the ground floor's shop or door (floats)
    zb: np.ndarray | float
    za, zb = cols - fc.win_w / 2, cols + fc.win_w / 2
    keep = (za >= z_lo) & (zb <= z_hi) & (cam.focal * fc.win_h / np.maximum(za, Z_NEAR) >= 1.5)
    keep &= cam.focal * fc.win_w * e_f / np.maximum(za, Z_NEAR) ** 2 >= 0.3
    za, zb = za[keep], zb[keep]
    floors = np.arange(fc.ground_h, lot.height - 0.5 - fc.floor_h + 1e-6, fc.floor_h)
    if len(za) and len(floors):
        y0 = floors[:, None] + (fc.floor_h - fc.win_h) * 0.55
        frames = quads(za - frame_w, zb + frame_w, y0 - frame_w, y0 + fc.win_h + frame_w).reshape(-1, 4, 2)
        panes = quads(za, zb, y0, y0 + fc.win_h).reshape(-1, 4, 2)
        for frame, pane in zip(frames, panes, strict=False):
            stroke.poly(frame, fc.frame * shade)
            stroke.poly(pane, glass())
    # ground floor
    za = lot.z0 + rng.uniform(0.3, 1.5)
    while za < z_hi - 1.5:
        if fc.shops:
            w = rng.uniform(2, 5)
            zb = min(za + w, z_hi - 0.5)
            if za >= z_lo and zb <= z_hi and cam.px(2.0, za) >= 1.5:
                sign_colour = hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9))
                stroke.poly(quad(za, zb, fc.ground_h - 0.9, fc.ground_h - 0.3), sign_colour * shade)
                stroke.poly(quad(za, zb, 0.5, fc.ground_h - 1.1), glass())
            za = zb + rng.uniform(0.4, 1.2)
        else:
            zb = za + 1.2
            if za >= z_lo and zb <= z_hi and cam.px(2.0, za) >= 1.5:
                stroke.poly(quad(za, zb, 0.1, 2.2), vary(rng, rgb(0.25, 0.18, 0.12), 0.4) * shade)
            za += rng.uniform(5, 14)
