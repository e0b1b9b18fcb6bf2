"""Street furniture: fences, poles and street lamps, traffic signs and traffic lights."""

from __future__ import annotations

import math

import numpy as np

from srseg.sources.synthetic.canvas import FENCE, LIGHT, POLE, SIGN, Stroke
from srseg.sources.synthetic.colours import Rgb, pick, rgb, vary
from srseg.sources.synthetic.geometry import Ctx, ellipse, flat, inset, limb, rect
from srseg.sources.synthetic.light import FACING
from srseg.sources.synthetic.street import Side


def draw_fence(ctx: Ctx, side: Side, e: float, z0: float, z1: float, kind: str, colour: Rgb, height: float) -> None:
    """A fence in the plane ``e`` from ``z0`` to ``z1``: posts, rails and bars, or opaque boards."""
    cam, rng = ctx.cam, ctx.rng
    z0 = max(z0, 1.0)
    if z1 <= z0:
        return
    sg = side.sign
    shade = ctx.light.shade(np.array([-sg, 0.0, 0.0]))
    col = colour * shade
    stroke = Stroke()

    def face(y0: float, y1: float, za: float = z0, zb: float = z1) -> np.ndarray:
        return ctx.proj([[sg * e, y0, za], [sg * e, y0, zb], [sg * e, y1, zb], [sg * e, y1, za]])

    def vbars(zs: np.ndarray, y0: float, y1: float, width: float, c: Rgb) -> None:
        zs = np.asarray(zs, np.float64)
        ends = np.empty((len(zs), 2, 3))
        ends[..., 0], ends[:, 0, 1], ends[:, 1, 1], ends[..., 2] = sg * e, y0, y1, zs[:, None]
        for seg, z in zip(cam.project(ends), zs, strict=False):
            stroke.line(seg, c, cam.px(width, z))

    post_gap = rng.uniform(2.0, 3.0)
    if kind == "boards":
        stroke.poly(face(0, height), col)
        zs = np.arange(z0, z1, 0.15 * rng.uniform(0.8, 1.5))
        vbars(zs[cam.focal * 0.15 / zs > 2.5], 0.02, height, 0.015, col * 0.75)
    else:
        rails = [0.12, height - 0.05] if kind != "mesh" else [0.05, height * 0.5, height - 0.03]
        for y in rails:
            stroke.poly(face(y - 0.03, y + 0.03), col)
        step = {"railing": 0.13, "picket": 0.16, "mesh": 0.25}[kind]
        bar_w = {"railing": 0.025, "picket": 0.08, "mesh": 0.012}[kind]
        vbars(np.arange(z0, z1, step), 0.1, height - 0.02 + (0.08 if kind == "picket" else 0), bar_w, col)
        if kind == "mesh":
            for y in np.arange(0.3, height - 0.1, 0.3):
                stroke.poly(face(y - 0.006, y + 0.006), col)
    vbars(np.arange(z0, z1 + 0.01, post_gap), 0, height + 0.06, 0.08, col * 0.85)
    ctx.cv.paint(stroke, FENCE, (0.05, 0.04, 0.03), depth=max(z0, e))


def draw_pole(ctx: Ctx, s: float, z: float, height: float, width: float, colour: Rgb,
              arm: float = 0.0, lamp: bool = False) -> None:
    """A vertical pole, optionally with a lateral arm of length ``arm`` (a street lamp if ``lamp``)."""
    cam = ctx.cam
    if not ctx.on_screen(s + arm / 2, z, abs(arm) / 2 + 0.6, height + 0.5):
        return
    stroke = Stroke()
    col = colour * ctx.shade(FACING, s, z)
    stroke.poly(cam.project(flat(limb((0, 0), (0, height), width * 1.2, width), s, z)), col)
    if arm:
        rise = 0.35 if lamp else 0.0
        arm_pts = limb((0, height - 0.1), (arm, height + rise), width * 0.7, width * 0.5)
        stroke.poly(cam.project(flat(arm_pts, s, z)), col)
        if lamp:
            head = np.array([[arm - 0.1 * np.sign(arm), height + 0.4], [arm + 0.45 * np.sign(arm), height + 0.35],
                             [arm + 0.4 * np.sign(arm), height + 0.2], [arm - 0.05 * np.sign(arm), height + 0.22]])
            stroke.poly(cam.project(flat(head, s, z)), col * 0.8)
    ctx.cv.paint(stroke, POLE, (0.04, 0.03, 0.02), depth=z)


def draw_sign(ctx: Ctx, s: float, y: float, z: float) -> None:
    """A traffic sign facing the camera, centred at ``(s, y)``: disc, triangle, diamond, octagon or panel."""
    cam, rng = ctx.cam, ctx.rng
    lit = ctx.shade(FACING, s, z) * 1.1
    red, white, blue, black = rgb(0.78, 0.1, 0.1), rgb(0.92, 0.92, 0.9), rgb(0.1, 0.3, 0.7), rgb(0.08, 0.08, 0.08)
    yellow, green = rgb(0.95, 0.78, 0.1), rgb(0.1, 0.45, 0.25)
    r = rng.uniform(0.3, 0.45)
    kind = rng.choice(["prohibit", "noentry", "mandatory", "warning", "priority", "info", "direction", "stop"])
    stroke = Stroke()

    def add(local: np.ndarray, colour: Rgb) -> None:
        stroke.poly(cam.project(flat(local + np.array([0.0, y]), s, z)), vary(rng, colour, 0.05) * lit)

    if kind in ("prohibit", "noentry", "mandatory"):
        add(ellipse(0, 0, r, r, 24), blue if kind == "mandatory" else red)
        if kind == "prohibit":
            add(ellipse(0, 0, r * 0.75, r * 0.75, 24), white)
            add(np.array([[-0.12, -0.25], [0.12, -0.25], [0.12, 0.25], [-0.12, 0.25]]) * r * 2, black)
        elif kind == "noentry":
            add(np.array([[-0.7, -0.16], [0.7, -0.16], [0.7, 0.16], [-0.7, 0.16]]) * r, white)
        else:
            arrow = np.array([[-0.12, -0.6], [0.12, -0.6], [0.12, 0.1], [0.4, 0.1], [0, 0.6], [-0.4, 0.1],
                              [-0.12, 0.1]])
            add(arrow * r, white)
    elif kind == "warning":
        tri = np.array([[-1, -0.6], [1, -0.6], [0, 1.1]]) * r * 1.2
        add(tri, red)
        add(inset(tri, 0.7), white)
        add(np.array([[-0.08, -0.2], [0.08, -0.2], [0.08, 0.35], [-0.08, 0.35]]) * r * 1.5, black)
    elif kind == "priority":
        dia = np.array([[0, -1], [1, 0], [0, 1], [-1, 0]]) * r
        add(dia, white)
        add(dia * 0.7, yellow)
    elif kind == "stop":
        add(ellipse(0, 0, r, r, 8, start=math.pi / 8, stop=2 * math.pi + math.pi / 8), red)
        add(np.array([[-0.6, -0.15], [0.6, -0.15], [0.6, 0.15], [-0.6, 0.15]]) * r, white)
    else:
        wd, ht = (r * 1.1, r * 1.1) if kind == "info" else (r * rng.uniform(1.6, 2.6), r * rng.uniform(0.8, 1.3))
        panel = np.array([[-wd, -ht], [wd, -ht], [wd, ht], [-wd, ht]])
        add(panel, white)
        add(panel * np.array([0.9, 0.85]), blue if kind == "info" else (green if rng.random() < 0.5 else blue))
        if kind == "info":
            add(np.array([[-0.3, -0.6], [0.0, -0.6], [0.0, 0.6], [-0.3, 0.6]]) * r, white)
        else:
            for k in range(2):  # lines of "text"
                y0 = 0.3 - 0.45 * k
                add(np.array([[-0.7, y0], [0.5, y0], [0.5, y0 + 0.15], [-0.7, y0 + 0.15]]) * np.array([wd, ht]), white)
    ctx.cv.paint(stroke, SIGN, (0.02, 0.02, 0.01), depth=z)


def draw_traffic_light(ctx: Ctx, s: float, y: float, z: float, lamps: int = 3) -> None:
    """A traffic light housing centred at ``(s, y)`` with one lamp lit."""
    cam, rng = ctx.cam, ctx.rng
    lit = ctx.shade(FACING, s, z)
    housing = vary(rng, pick(rng, [(0.08, 0.08, 0.08), (0.15, 0.16, 0.15), (0.12, 0.2, 0.14), (0.8, 0.65, 0.1)]), 0.1)
    w, lh = rng.uniform(0.28, 0.36), rng.uniform(0.26, 0.32)
    h = lh * lamps + 0.08
    stroke = Stroke()
    if rng.random() < 0.4:  # back plate
        stroke.poly(cam.project(rect(s - w, s + w, y - h / 2 - 0.08, y + h / 2 + 0.08, z)), housing * lit * 0.9)
    stroke.poly(cam.project(rect(s - w / 2, s + w / 2, y - h / 2, y + h / 2, z)), housing * lit)
    red, amber, green = rgb(1.0, 0.15, 0.1), rgb(1.0, 0.7, 0.1), rgb(0.2, 1.0, 0.5)
    colours = [red, amber, green] if lamps == 3 else [red, green]
    on = int(rng.integers(lamps))
    for i in range(lamps):
        cy = y + h / 2 - 0.04 - lh * (i + 0.5)
        c = colours[i] if i == on else colours[i] * 0.18 + 0.04
        stroke.poly(cam.project(flat(ellipse(0, cy, lh * 0.36, lh * 0.36, 14), s, z)), c)
    ctx.cv.paint(stroke, LIGHT, (0.02, 0.02, 0.01), depth=z)
