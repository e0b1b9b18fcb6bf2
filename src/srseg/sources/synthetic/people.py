"""People, bicycles and cyclists (a rider on a bicycle: two objects)."""

from __future__ import annotations

import math

import numpy as np

from srseg.sources.synthetic.canvas import BICYCLE, PERSON, RIDER, Stroke
from srseg.sources.synthetic.colours import CAR_PAINTS, HAIR, HELMETS, METALS, Rgb, clothes, pick, rgb, skin_tone, vary
from srseg.sources.synthetic.geometry import Ctx, ellipse, flat, limb
from srseg.sources.synthetic.light import FACING


def person_parts(rng: np.random.Generator, height: float) -> list[tuple[np.ndarray, str]]:
    """A standing or walking person as 2-D polygons ``(x, y)`` in metres, with part names for colours."""
    H = height
    stride = rng.uniform(0.0, 0.16) * H if rng.random() < 0.6 else rng.uniform(0.0, 0.03) * H
    swing = stride * 0.6 * rng.choice([-1, 1])
    hip_y, sh_y = 0.53 * H, 0.82 * H
    sw, hw = rng.uniform(0.11, 0.135) * H, rng.uniform(0.085, 0.1) * H
    parts: list[tuple[np.ndarray, str]] = []
    for side in (-1, 1):
        foot_x = side * (0.04 * H + stride / 2)
        parts.append((limb((side * 0.045 * H, hip_y), (foot_x, 0.03 * H), 0.085 * H, 0.05 * H), "bottom"))
        shoe = limb((foot_x - 0.03 * H, 0.015 * H), (foot_x + 0.04 * H, 0.015 * H), 0.035 * H, 0.035 * H)
        parts.append((shoe, "shoes"))
    coat = rng.random() < 0.3
    torso = np.array([[-hw, hip_y - (0.22 * H if coat else 0.02 * H)], [hw, hip_y - (0.22 * H if coat else 0.02 * H)],
                      [sw, sh_y], [sw * 0.6, sh_y + 0.03 * H], [-sw * 0.6, sh_y + 0.03 * H], [-sw, sh_y]])
    if coat:
        torso[:2, 0] *= 1.25
    parts.append((torso, "top"))
    for side in (-1, 1):
        hand = (side * (sw + 0.02 * H) + side * swing * 0.3, 0.47 * H)
        parts.append((limb((side * sw * 0.92, sh_y - 0.01 * H), hand, 0.06 * H, 0.045 * H), "top"))
        parts.append((ellipse(hand[0], hand[1] - 0.01 * H, 0.022 * H, 0.03 * H, 8), "skin"))
    parts.append((limb((0, sh_y), (0, 0.88 * H), 0.045 * H, 0.04 * H), "skin"))
    parts.append((ellipse(0, 0.93 * H, 0.052 * H, 0.065 * H, 16), "skin"))
    parts.append((ellipse(0, 0.945 * H, 0.056 * H, 0.058 * H, 12, start=-0.25, stop=math.pi + 0.25), "hair"))
    if rng.random() < 0.25:  # bag
        bx = rng.choice([-1, 1]) * (sw + 0.03 * H)
        parts.append((np.array([[bx - 0.05 * H, 0.45 * H], [bx + 0.05 * H, 0.45 * H], [bx + 0.05 * H, 0.58 * H],
                                [bx - 0.05 * H, 0.58 * H]]), "bag"))
    return parts


def draw_person(ctx: Ctx, s: float, z: float, height: float) -> None:
    """A person facing or walking across the camera's view at ``(s, z)``."""
    rng = ctx.rng
    if not ctx.on_screen(s, z, 0.4, height):
        return
    lit = ctx.shade(FACING, s, z)
    ctx.contact_shadow(s - 0.25, s + 0.25, z - 0.15, z + 0.25, 0.6)
    colours = {"top": clothes(rng), "bottom": clothes(rng) * 0.8,
               "shoes": rgb(0.08, 0.07, 0.07) * rng.uniform(0.5, 3), "skin": skin_tone(rng),
               "hair": vary(rng, pick(rng, HAIR)), "bag": clothes(rng)}
    stroke = Stroke()
    for pts, part in person_parts(rng, height):
        stroke.poly(ctx.cam.project(flat(pts, s, z)), colours[part] * lit)
    ctx.cv.paint(stroke, PERSON, (0.04, 0.04, 0.02), depth=z)


BIKE_R, BIKE_WB = 0.34, 1.05


def draw_bicycle(ctx: Ctx, s: float, z: float, yaw: float, frame: Rgb) -> None:
    """A bicycle in the vertical plane through ``(s, z)`` heading ``yaw`` (0 crossing right, π/2 away)."""
    cam = ctx.cam
    lit = ctx.shade(FACING, s, z)
    tyre, col = rgb(0.05, 0.05, 0.05) * lit, frame * lit
    R, F = (0.0, BIKE_R), (BIKE_WB, BIKE_R)
    B, S, Ht, Hb = (0.42, 0.3), (0.33, 0.92), (0.9, 0.95), (0.93, 0.8)
    stroke = Stroke()
    zc = z + 0.5 * math.sin(yaw)
    tw, fw = cam.px(0.045, zc), cam.px(0.035, zc)
    for hub in (R, F):
        ring = ellipse(hub[0], hub[1], BIKE_R, BIKE_R, 24)
        pts = cam.project(flat(np.vstack([ring, ring[:1]]), s, z, yaw))
        stroke.line(pts, tyre, tw)
    for a, b in ((R, B), (R, S), (B, S), (S, Ht), (B, Hb), (Hb, F), (Hb, Ht)):
        stroke.line(cam.project(flat(np.array([a, b]), s, z, yaw)), col, fw)
    bar = np.array([[0.86, 1.02, -0.28], [0.86, 1.02, 0.28]])
    stroke.line(cam.project(flat(bar, s, z, yaw)), tyre, fw)
    saddle = np.array([[0.22, 0.95], [0.42, 0.95], [0.4, 0.99], [0.24, 0.99]])
    stroke.poly(cam.project(flat(saddle, s, z, yaw)), tyre)
    ctx.cv.paint(stroke, BICYCLE, (0.02, 0.02, 0.01), depth=z)


def draw_rider(ctx: Ctx, s: float, z: float, yaw: float) -> None:
    """A cyclist: the bicycle, then the rider on it (drawn in the bike plane and across it)."""
    rng = ctx.rng
    reach_s, reach_z = BIKE_WB * abs(math.cos(yaw)), BIKE_WB * abs(math.sin(yaw))
    ctx.contact_shadow(s - 0.3, s + 0.3 + reach_s, z - 0.1, z + 0.2 + reach_z, 0.6)
    draw_bicycle(ctx, s, z, yaw, vary(rng, pick(rng, METALS + CAR_PAINTS), 0.1))
    lit = ctx.shade(FACING, s, z)
    top, bottom, skin = clothes(rng) * lit, clothes(rng) * 0.8 * lit, skin_tone(rng) * lit
    helmet = vary(rng, pick(rng, HELMETS)) * lit if rng.random() < 0.6 else None
    hip, sh, head = (0.33, 1.0), (0.6, 1.5), (0.7, 1.7)
    phase = rng.uniform(0, 2 * math.pi)
    stroke = Stroke()

    def add(local: np.ndarray, colour: Rgb) -> None:
        stroke.poly(ctx.cam.project(flat(local, s, z, yaw)), colour)

    for sgn in (-1, 1):  # legs to the pedals, in the bike plane and spread across it
        crank = phase + (sgn > 0) * math.pi
        pedal = (0.42 + 0.17 * math.cos(crank), 0.3 + 0.17 * math.sin(crank))
        knee = ((hip[0] + pedal[0]) / 2 + 0.2, (hip[1] + pedal[1]) / 2 + 0.05)
        for a, b, wa, wb in ((hip, knee, 0.16, 0.12), (knee, pedal, 0.12, 0.09)):
            q = limb(a, b, wa, wb)
            add(np.column_stack([q, np.full(4, sgn * 0.1)]), bottom)
    torso = limb(hip, sh, 0.3, 0.26)
    add(torso, top)
    add(np.array([[hip[0], hip[1], -0.17], [hip[0], hip[1], 0.17], [sh[0], sh[1], 0.22], [sh[0], sh[1], -0.22]]), top)
    for sgn in (-1, 1):
        arm = limb(sh, (0.86, 1.03), 0.09, 0.07)
        add(np.column_stack([arm, np.full(4, sgn * 0.22)]), top)
    add(ellipse(head[0], head[1], 0.11, 0.13, 14), skin)
    face_on = ellipse(0, head[1], 0.11, 0.13, 14)
    add(np.column_stack([np.full(14, head[0]), face_on[:, 1], face_on[:, 0]]), skin)
    if helmet is not None:
        cap = ellipse(head[0], head[1] + 0.03, 0.13, 0.12, 12, start=0, stop=math.pi)
        add(cap, helmet)
        cap2 = ellipse(0, head[1] + 0.03, 0.13, 0.12, 12, start=0, stop=math.pi)
        add(np.column_stack([np.full(12, head[0]), cap2[:, 1], cap2[:, 0]]), helmet)
    ctx.cv.paint(stroke, RIDER, (0.04, 0.04, 0.02), depth=z)
