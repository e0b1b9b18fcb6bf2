"""Cars, vans, trucks and buses."""

from __future__ import annotations

import numpy as np

from srseg.sources.synthetic.canvas import BUS, CAR, TRUCK, Stroke
from srseg.sources.synthetic.colours import BUS_PAINTS, CARGO_PAINTS, Rgb, pick, rgb, vary
from srseg.sources.synthetic.geometry import Ctx, box_profile, ellipse, inset, on_side, prism_faces, rect
from srseg.sources.synthetic.light import FACING
from srseg.sources.synthetic.street import in_shadow


def draw_vehicle(ctx: Ctx, kind: str, s: float, z: float, facing: int, paint: Rgb) -> tuple[float, float, float, float]:
    """A car, truck or bus at lane position ``s`` with its near end at ``z``; ``facing`` +1 drives away.

    Returns the footprint ``(s0, s1, z0, z1)``.
    """
    cam, rng = ctx.cam, ctx.rng
    width, length = {"car": (rng.uniform(1.7, 1.95), rng.uniform(3.9, 4.9)),
                     "truck": (rng.uniform(2.4, 2.55), rng.uniform(7, 10)),
                     "bus": (2.55, rng.uniform(11, 13))}[kind]
    s0, s1, z0, z1 = s - width / 2, s + width / 2, z, z + length
    shadowed = bool(in_shadow(ctx.street, ctx.light, s, z))
    ctx.contact_shadow(s0 - 0.1, s1 + 0.1, z0 - 0.15, z1, 0.45)
    stroke = Stroke()
    sky = ctx.light.horizon
    glass = rgb(0.08, 0.09, 0.11) * 0.75 + sky * 0.25 * rng.uniform(0.3, 1.0)
    dark, tyre = rgb(0.06, 0.06, 0.06), rgb(0.04, 0.04, 0.045)
    near_is_front = facing < 0

    def faces(profile: np.ndarray, colour: Rgb, glazing: float = 0.0, skip_top: bool = True) -> None:
        for face, normal in prism_faces(s0, s1, profile, cam.eye):
            stroke.poly(ctx.proj(face), colour * ctx.light.shade(normal, shadowed))
            if glazing and not (skip_top and normal[1] > 0.9):
                stroke.poly(ctx.proj(inset(face, glazing)), glass * (0.7 + 0.3 * ctx.light.shade(normal, shadowed)))

    def near(sa: float, sb: float, ya: float, yb: float, colour: Rgb, dz: float = -0.01) -> None:
        stroke.poly(cam.project(rect(sa, sb, ya, yb, z0 + dz)), colour)

    def wheels(zs: list[float], r: float) -> None:
        s_cap = s0 if s0 > 0 else (s1 if s1 < 0 else None)
        for zc in zs:
            # tyres seen under the near end
            near(s0 + 0.05, s0 + 0.05 + r * 0.8, 0, r * 1.1, tyre, dz=min(zc - z0, 1.0))
            near(s1 - 0.05 - r * 0.8, s1 - 0.05, 0, r * 1.1, tyre, dz=min(zc - z0, 1.0))
            if s_cap is not None:
                stroke.poly(cam.project(on_side(s_cap, ellipse(zc, r, r, r, 16))), tyre)
                stroke.poly(cam.project(on_side(s_cap, ellipse(zc, r, r * 0.55, r * 0.55, 12))), rgb(0.45, 0.45, 0.47))

    lit = ctx.light.shade(FACING, shadowed)
    if kind == "car":
        y0 = 0.28
        yb, h = y0 + rng.uniform(0.55, 0.8), rng.uniform(1.4, 1.65) if rng.random() < 0.8 else rng.uniform(1.8, 2.1)
        van = h > 1.75
        wheels([z0 + 0.85, z1 - 0.85], 0.32)
        faces(box_profile(z0, z1, y0, yb, 0.12), paint)
        if van:
            cab = np.array([[z0 + 0.3, yb], [z1 - 0.1, yb], [z1 - 0.1, h], [z0 + 0.4, h]]) if near_is_front else \
                np.array([[z0 + 0.2, yb], [z1 - 1.0, yb], [z1 - 1.2, h], [z0 + 0.2, h]])
        else:  # sloping windscreens: (bottom front, bottom back, top back, top front) as fractions of the length
            fr = (0.32, 0.8, 0.72, 0.47) if near_is_front else (0.22, 0.68, 0.55, 0.33)
            cab = np.array([[z0 + length * fr[0], yb], [z0 + length * fr[1], yb], [z0 + length * fr[2], h],
                            [z0 + length * fr[3], h]])
        cab_s = (s0 + 0.08, s1 - 0.08)
        for face, normal in prism_faces(*cab_s, cab, cam.eye):
            stroke.poly(ctx.proj(face), paint * ctx.light.shade(normal, shadowed))
            if normal[1] < 0.9:
                stroke.poly(ctx.proj(inset(face, 0.84)), glass * (0.7 + 0.3 * ctx.light.shade(normal, shadowed)))
        sm = (s0 + s1) / 2
        near(s0, s1, y0, y0 + 0.16, paint * lit * 0.45)  # bumper
        if near_is_front:
            for a, b in ((s0 + 0.08, s0 + 0.4), (s1 - 0.4, s1 - 0.08)):
                near(a, b, yb - 0.3, yb - 0.12, rgb(0.85, 0.85, 0.8))
            near(sm - 0.35, sm + 0.35, yb - 0.32, yb - 0.14, dark)
        else:
            for a, b in ((s0 + 0.05, s0 + 0.35), (s1 - 0.35, s1 - 0.05)):
                near(a, b, yb - 0.28, yb - 0.08, rgb(0.75, 0.06, 0.05))
        near(sm - 0.26, sm + 0.26, y0 + 0.2, y0 + 0.31, rgb(0.9, 0.9, 0.86))  # plate
        label = CAR
    elif kind == "bus":
        y0, h = 0.35, rng.uniform(3.0, 3.3)
        wheels([z0 + 2.6, z1 - 3.0], 0.5)
        faces(box_profile(z0, z1, y0, h, 0.15), paint)
        s_cap = s0 if s0 > 0 else (s1 if s1 < 0 else None)
        if s_cap is not None:
            win = np.array([[z0 + 0.4, 1.25], [z1 - 0.4, 1.25], [z1 - 0.4, 2.6], [z0 + 0.4, 2.6]])
            side_shade = ctx.light.shade(np.array([-np.sign(s_cap), 0.0, 0.0]), shadowed)
            stroke.poly(ctx.proj(on_side(s_cap, win)), glass * (0.7 + 0.3 * side_shade))
            for zp in np.arange(z0 + 1.6, z1 - 0.5, rng.uniform(1.3, 1.8)):  # window pillars
                pillar = cam.project(np.array([[s_cap, 1.25, zp], [s_cap, 2.6, zp]]))
                stroke.line(pillar, paint * side_shade, cam.px(0.12, zp))
            stripe = np.array([[z0 + 0.1, 0.85], [z1 - 0.1, 0.85], [z1 - 0.1, 1.05], [z0 + 0.1, 1.05]])
            stroke.poly(ctx.proj(on_side(s_cap, stripe)), vary(rng, pick(rng, BUS_PAINTS), 0.1) * side_shade)
        near(s0 + 0.12, s1 - 0.12, 1.1 if near_is_front else 1.7, 2.65, glass * (0.7 + 0.3 * lit))
        if near_is_front:
            near(s0 + 0.25, s1 - 0.25, 2.75, 3.0, rgb(0.05, 0.05, 0.05))
            near(s0 + 0.4, s0 + 1.2, 2.82, 2.93, rgb(1.0, 0.6, 0.1))
        for a, b in ((s0 + 0.1, s0 + 0.4), (s1 - 0.4, s1 - 0.1)):
            near(a, b, 0.5, 0.8, rgb(0.85, 0.85, 0.8) if near_is_front else rgb(0.75, 0.06, 0.05))
        near(s0, s1, y0, y0 + 0.2, dark)
        label = BUS
    else:  # truck: cab and cargo box
        cargo_col = vary(rng, pick(rng, CARGO_PAINTS), 0.08)
        cab_len, h_cargo, h_cab = 2.2, rng.uniform(3.4, 4.0), rng.uniform(2.8, 3.1)
        cab_z = (z0, z0 + cab_len) if near_is_front else (z1 - cab_len, z1)
        cargo_z = (z0 + cab_len + 0.3, z1) if near_is_front else (z0, z1 - cab_len - 0.3)
        parts = [(cab_z, h_cab, paint, 0.6), (cargo_z, h_cargo, cargo_col, 1.0)]
        parts.sort(key=lambda p: -p[0][0])  # far part first
        wheels([z0 + 1.2, z1 - 2.4, z1 - 1.2], 0.5)
        for (za, zb), ht, col, y0 in parts:
            for face, normal in prism_faces(s0, s1, box_profile(za, zb, y0, ht, 0.05), cam.eye):
                stroke.poly(ctx.proj(face), col * ctx.light.shade(normal, shadowed))
        if near_is_front:
            near(s0 + 0.1, s1 - 0.1, 1.8, h_cab - 0.15, glass * (0.7 + 0.3 * lit))
            near(s0 + 0.5, s1 - 0.5, 0.8, 1.4, dark)
            for a, b in ((s0 + 0.1, s0 + 0.4), (s1 - 0.4, s1 - 0.1)):
                near(a, b, 0.75, 0.95, rgb(0.85, 0.85, 0.8))
        else:
            near((s0 + s1) / 2 - 0.02, (s0 + s1) / 2 + 0.02, 1.1, h_cargo - 0.1, cargo_col * lit * 0.6)
            near(s0 + 0.1, s1 - 0.1, 0.45, 0.6, dark)
            for a, b in ((s0 + 0.1, s0 + 0.35), (s1 - 0.35, s1 - 0.1)):
                near(a, b, 0.65, 0.85, rgb(0.75, 0.06, 0.05))
        label = TRUCK
    ctx.cv.paint(stroke, label, (0.02, 0.015, 0.02), depth=z0)
    return s0, s1, z0, z1
