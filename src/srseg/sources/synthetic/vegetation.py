"""Trees, bushes and hedges."""

from __future__ import annotations

import numpy as np

from srseg.sources.synthetic.camera import Z_NEAR
from srseg.sources.synthetic.canvas import VEGETATION, Stroke
from srseg.sources.synthetic.colours import leaf_green, rgb, vary
from srseg.sources.synthetic.geometry import Ctx, box_profile, ellipse, flat, limb, prism_faces, smooth_ring
from srseg.sources.synthetic.light import FACING
from srseg.sources.synthetic.street import Side


def draw_tree(ctx: Ctx, s: float, z: float, size: float = 1.0) -> None:
    """A deciduous tree (trunk and a ragged crown of overlapping blobs) or a conifer."""
    cam, rng = ctx.cam, ctx.rng
    if not ctx.on_screen(s, z, 4.5 * size, 11 * size):
        return
    lit = ctx.shade(FACING, s, z)
    bark = vary(rng, rgb(0.3, 0.24, 0.18), 0.25) * lit
    green = leaf_green(rng)
    trunk_h, r = rng.uniform(1.8, 3.5) * size, rng.uniform(1.3, 2.8) * size
    trunk = Stroke()
    tw = rng.uniform(0.18, 0.4) * size
    trunk.poly(cam.project(flat(limb((0, 0), (0, trunk_h + r * 0.5), tw * 1.2, tw * 0.7), s, z)), bark)
    ctx.cv.paint(trunk, VEGETATION, (0.06, 0.05, 0.02), depth=z)
    crown = Stroke()
    if rng.random() < 0.18:  # conifer
        for i in range(4):
            base, top, half = trunk_h * 0.5 + i * r * 0.7, trunk_h * 0.5 + i * r * 0.7 + r * 1.4, r * (1 - i * 0.2)
            pts = np.array([[-half, base], [half, base], [0, top]])
            crown.poly(cam.project(flat(pts, s, z)), vary(rng, green * 0.7, 0.1) * lit)
    else:
        cy = trunk_h + r * 0.8
        for _ in range(int(rng.integers(4, 9))):
            bx, by = rng.normal(0, r * 0.45), cy + rng.normal(0, r * 0.3)
            br = r * rng.uniform(0.45, 0.8)
            jag = 1 + smooth_ring(rng.normal(0, 0.22, 28))
            light_up = 1 + 0.25 * (by - cy) / r
            crown.poly(cam.project(flat(ellipse(bx, by, br, br * rng.uniform(0.8, 1.1), 28, jag), s, z)),
                       vary(rng, green, 0.12) * light_up * lit)
    ctx.cv.paint(crown, VEGETATION, (0.16, 0.16, 0.05), depth=z)


def draw_bush(ctx: Ctx, s: float, z: float) -> None:
    """A low ragged bush on the ground."""
    rng = ctx.rng
    if not ctx.on_screen(s, z, 2.5, 2.0):
        return
    lit = ctx.shade(FACING, s, z)
    green = leaf_green(rng)
    stroke = Stroke()
    r = rng.uniform(0.4, 1.2)
    for _ in range(int(rng.integers(2, 5))):
        bx, br = rng.normal(0, r * 0.6), r * rng.uniform(0.6, 1.0)
        jag = 1 + smooth_ring(rng.normal(0, 0.2, 20))
        pts = ellipse(bx, br * 0.7, br, br * 0.8, 20, jag)
        pts[:, 1] = np.maximum(pts[:, 1], 0)
        stroke.poly(ctx.cam.project(flat(pts, s, z)), vary(rng, green, 0.12) * lit)
    ctx.cv.paint(stroke, VEGETATION, (0.16, 0.16, 0.05), depth=z)


def draw_hedge(ctx: Ctx, side: Side, e0: float, z0: float, z1: float) -> None:
    """A trimmed hedge along the lot front: a leafy box."""
    rng = ctx.rng
    h, thick = rng.uniform(0.7, 1.6), rng.uniform(0.6, 1.0)
    z0 = max(z0, Z_NEAR)
    if z1 <= z0:
        return
    green = leaf_green(rng)
    s_a, s_b = sorted((side.sign * e0, side.sign * (e0 + thick)))
    stroke = Stroke()
    for face, normal in prism_faces(s_a, s_b, box_profile(z0, z1, 0, h), ctx.cam.eye):
        stroke.poly(ctx.proj(face), green * ctx.light.shade(normal))
    ctx.cv.paint(stroke, VEGETATION, (0.18, 0.15, 0.05), depth=max(z0, e0))
