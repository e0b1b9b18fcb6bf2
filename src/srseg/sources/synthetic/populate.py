"""Where things go: the lots' buildings, vegetation, hedges and fences, and the street's vehicles, people,
cyclists, poles, signs and traffic lights, as draw calls keyed by depth."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from srseg.sources.synthetic.buildings import draw_building
from srseg.sources.synthetic.colours import BUS_PAINTS, CAR_PAINTS, METALS, pick, vary
from srseg.sources.synthetic.furniture import draw_fence, draw_pole, draw_sign, draw_traffic_light
from srseg.sources.synthetic.geometry import Ctx
from srseg.sources.synthetic.people import draw_bicycle, draw_person, draw_rider
from srseg.sources.synthetic.street import Lot, Side, make_facade
from srseg.sources.synthetic.vegetation import draw_bush, draw_hedge, draw_tree
from srseg.sources.synthetic.vehicles import draw_vehicle

Item = tuple[float, Callable[[], object]]  # the draw call; what it returns (a footprint, say) is unused


def _near_z(rng: np.random.Generator, lo: float, hi: float, power: float = 1.6) -> float:
    """A depth in ``lo..hi`` biased toward the near end."""
    return lo + (hi - lo) * rng.random() ** power


def populate_lots(ctx: Ctx) -> tuple[list[Item], list[Item]]:
    """Buildings, park and yard vegetation (back layer); hedges and fences at the lot fronts (middle layer).

    Items carry their distance from the camera as sort key; each layer is painted far to near.
    """
    rng, street = ctx.rng, ctx.street
    back: list[Item] = []
    mid: list[Item] = []
    fence_kind = str(rng.choice(["railing", "picket", "boards", "mesh"], p=[0.3, 0.25, 0.3, 0.15]))
    fence_colour = vary(rng, pick(rng, METALS + [(0.55, 0.42, 0.3), (0.85, 0.85, 0.82)]), 0.1)
    fence_style = (fence_kind, fence_colour, rng.uniform(0.9, 1.8))

    def put(layer: list[Item], e: float, z: float, fn: Callable[..., object], *args: object) -> None:
        layer.append((math.hypot(e, max(z, 0.0)), functools.partial(fn, ctx, *args)))

    def scatter(side: Side, lot: Lot, n: int, e_lo: float, e_hi: float, fn: Callable[..., object],
                size: tuple[float, float] | None = None) -> None:
        """``n`` trees or bushes at random spots of the lot between ``e_lo`` and ``e_hi``."""
        for _ in range(n):
            e, z = rng.uniform(e_lo, e_hi), rng.uniform(lot.z0, min(lot.z1, street.z_far))
            extra = () if size is None else (rng.uniform(*size),)
            if z > 2:
                put(back, e, z, fn, side.sign * e, z, *extra)

    for side in street.sides:
        for lot in side.lots:
            if lot.z1 < 1 or lot.z0 > street.z_far:
                continue
            z1 = min(lot.z1, street.z_far)
            if lot.kind == "building":
                e_f = side.front + lot.setback
                put(back, e_f, lot.z0, draw_building, side, lot, e_f)
                if lot.height < 14 and rng.random() < 0.35:  # trees behind a low building
                    e_back = e_f + lot.depth
                    scatter(side, lot, int(rng.integers(1, 4)), e_back + 1, e_back + 10, draw_tree, (1.2, 2.0))
                if lot.setback > 1.0 and lot.yard == "terrain":  # front garden: bushes, then a hedge or a fence
                    scatter(side, lot, int(rng.integers(0, 3)), side.front + 0.5, e_f, draw_bush)
                    roll = rng.random()
                    if roll < 0.3:
                        put(mid, side.front + 0.3, lot.z0, draw_hedge, side, side.front + 0.3, lot.z0, z1)
                    elif roll < 0.75:
                        put(mid, side.front, lot.z0, draw_fence, side, side.front, lot.z0, z1, *fence_style)
            elif lot.kind == "park":
                n_trees = int((z1 - lot.z0) * rng.uniform(0.05, 0.2)) + 1
                scatter(side, lot, n_trees, side.front + 2.5, side.front + 30, draw_tree, (0.9, 1.8))
                scatter(side, lot, int(rng.integers(0, 5)), side.front + 1, side.front + 15, draw_bush)
                if rng.random() < 0.7:
                    put(mid, side.front, lot.z0, draw_fence, side, side.front, lot.z0, z1, *fence_style)
            if lot.kind != "building" and rng.random() < 0.5:  # a building further back
                e_b = side.front + rng.uniform(15, 40)
                far = Lot(lot.z0 + 1, z1 - 1, "building", height=rng.uniform(6, 25),
                          facade=make_facade(rng, side.style))
                if far.z1 > far.z0 + 3:
                    put(back, e_b, far.z0, draw_building, side, far, e_b)
    return back, mid


def _free(boxes: list[tuple[float, float, float, float]], s0: float, s1: float, z0: float, z1: float) -> bool:
    return all(s1 < a or s0 > b or z1 < c or z0 > d for a, b, c, d in boxes)


def populate_street(ctx: Ctx) -> list[Item]:
    """Vehicles, people, cyclists, poles, signs, traffic lights, kerb trees and railings."""
    rng, street = ctx.rng, ctx.street
    items: list[Item] = []
    taken: list[tuple[float, float, float, float]] = []

    def add(z: float, fn: Callable[..., object], *args: object) -> None:
        items.append((z, functools.partial(fn, ctx, *args)))

    # moving and parked vehicles
    forced = [k for k, p in (("bus", 0.35), ("truck", 0.4)) if rng.random() < p]
    for lane_s, direction in street.lanes:
        if rng.random() < 0.2:
            continue
        z = rng.uniform(7 if abs(lane_s) < 1 else 3, 30)
        while z < 140:
            if forced and z > 10 and rng.random() < 0.5:
                kind = forced.pop()
            else:
                kind = str(rng.choice(["car", "truck", "bus"], p=[0.84, 0.08, 0.08]))
            ln = {"car": 4.9, "truck": 10, "bus": 13}[kind]
            s = lane_s + rng.normal(0, 0.15)
            colour = vary(rng, pick(rng, CAR_PAINTS if kind == "car" else BUS_PAINTS), 0.1)
            add(z, draw_vehicle, kind, s, z, direction, colour)
            taken.append((s - 1.3, s + 1.3, z, z + ln))
            z += ln + rng.uniform(4, 30) * (1 + z / 50)
    for sign, lane in street.parking.items():  # right-hand traffic: parked cars face along their side's lanes
        if lane is None:
            continue
        z = rng.uniform(-2, 6)
        while z < 90:
            s = (lane[0] + lane[1]) / 2 + rng.normal(0, 0.1)
            if z > 1.5:
                add(z, draw_vehicle, "car", s, z, sign, vary(rng, pick(rng, CAR_PAINTS), 0.1))
                taken.append((s - 1.1, s + 1.1, z, z + 5))
            z += 5 + (rng.uniform(0.5, 2.5) if rng.random() < 0.85 else rng.uniform(6, 20))

    # people on the sidewalks and on the crossing
    for _ in range(int(rng.poisson(5.0)) + 1):
        side = street.sides[int(rng.integers(2))]
        z0 = _near_z(rng, 3.5, 60)
        e0 = side.edge + side.kerb + side.verge + rng.uniform(0.3, max(0.35, side.walk - 0.3))
        for k in range(int(rng.choice([1, 1, 1, 2, 2, 3]))):
            z, e = z0 + rng.uniform(-1, 1) * (k > 0), e0 + k * rng.uniform(0.5, 0.8) * rng.choice([-1, 1])
            height = rng.uniform(1.55, 1.95) if rng.random() < 0.88 else rng.uniform(1.0, 1.4)
            add(z, draw_person, side.sign * e, z, height)
    if street.crosswalk is not None:
        zc, length = street.crosswalk
        for _ in range(int(rng.integers(0, 4))):
            s, z = rng.uniform(-street.left.edge, street.right.edge), zc + rng.uniform(0.3, length - 0.3)
            if _free(taken, s - 0.3, s + 0.3, z - 0.3, z + 0.3):
                add(z, draw_person, s, z, rng.uniform(1.55, 1.95))

    # cyclists and parked bicycles
    for _ in range(int(rng.choice([0, 1, 1, 2, 2, 3]))):
        where = rng.choice(["road", "oncoming", "crossing", "walk"])
        for _attempt in range(5):
            if where == "road":
                s = street.right.edge - 0.8 - (street.parking[1] is not None) * 2.2
                yaw = math.radians(rng.normal(90, 12))
            elif where == "oncoming" and any(d < 0 for _, d in street.lanes):
                s = -street.left.edge + 0.8 + (street.parking[-1] is not None) * 2.2
                yaw = math.radians(rng.normal(-90, 12))
            elif where == "crossing" or where == "oncoming":
                s = rng.uniform(-street.left.edge, street.right.edge)
                yaw = math.radians(rng.choice([0, 180]) + rng.normal(0, 20))
            else:
                side = street.sides[int(rng.integers(2))]
                s = side.sign * (side.edge + side.kerb + side.verge + side.walk / 2)
                yaw = math.radians(rng.normal(90, 15) * rng.choice([-1, 1]))
            z = _near_z(rng, 4, 50, 1.3)
            if _free(taken, s - 0.6, s + 0.6, z - 0.6, z + 1.6):
                add(z, draw_rider, s, z, yaw)
                taken.append((s - 0.6, s + 0.6, z - 0.6, z + 1.6))
                break
    if rng.random() < 0.6:
        side = street.sides[int(rng.integers(2))]
        z0, e = _near_z(rng, 4, 40), side.front - rng.uniform(0.4, 0.9)
        yaw = math.radians(rng.choice([0, 180, 90]) + rng.normal(0, 15))
        for k in range(int(rng.integers(1, 5))):
            z = z0 + k * 0.7
            add(z, draw_bicycle, side.sign * e, z, yaw, vary(rng, pick(rng, METALS + CAR_PAINTS)))

    # lamp posts, kerb trees, sign poles, traffic lights
    pole_col = vary(rng, pick(rng, METALS), 0.1)
    for side in street.sides:
        e_pole = side.edge + side.kerb + (side.verge / 2 if side.verge else 0.4)
        if rng.random() < 0.75:
            spacing, h = rng.uniform(18, 35), rng.uniform(6, 9)
            for z in np.arange(rng.uniform(2, 15), 130, spacing):
                arm = -side.sign * rng.uniform(0.8, 2.0)
                add(z, draw_pole, side.sign * e_pole, z, h, rng.uniform(0.14, 0.2), pole_col, arm, True)
        if rng.random() < (0.7 if side.style == "green" else 0.45):
            e_tree = side.edge + side.kerb + (side.verge / 2 if side.verge else rng.uniform(0.6, 1.0))
            size = rng.uniform(0.8, 1.3)
            for z in np.arange(rng.uniform(2, 10), 110, rng.uniform(6, 14)):
                add(z + 0.01, draw_tree, side.sign * e_tree, z + rng.normal(0, 0.3), size * rng.uniform(0.85, 1.15))
        if rng.random() < 0.25:  # railing along the kerb, in chunks so that it interleaves in depth
            style = (str(rng.choice(["railing", "mesh"])), vary(rng, pick(rng, METALS), 0.1), rng.uniform(0.9, 1.2))
            z = rng.uniform(5, 30)
            for za in np.arange(z, z + rng.uniform(6, 25), 2.5):
                add(za, draw_fence, side, side.edge + side.kerb + 0.25, za, za + 2.5, *style)

    def sign_pole(side: Side, z: float) -> None:
        e = side.edge + side.kerb + rng.uniform(0.3, 0.8)
        h = rng.uniform(2.3, 3.2)
        add(z, draw_pole, side.sign * e, z, h, rng.uniform(0.06, 0.1), pole_col)
        n = int(rng.choice([1, 1, 2]))
        for k in range(n):
            add(z - 0.01 - 0.001 * k, draw_sign, side.sign * e, h - 0.3 - k * 0.8, z - 0.02)

    for _ in range(int(rng.poisson(2.0)) + 1):
        sign_pole(street.sides[int(rng.integers(2))], _near_z(rng, 5, 70, 1.3))

    z_j = street.crosswalk[0] - 1.5 if street.crosswalk else rng.uniform(12, 50)
    if street.crosswalk or rng.random() < 0.85:
        for side in street.sides:
            if rng.random() < 0.8:
                e = side.edge + side.kerb + 0.4
                h = rng.uniform(2.6, 3.4)
                add(z_j, draw_pole, side.sign * e, z_j, h + 0.3, rng.uniform(0.1, 0.14), pole_col)
                add(z_j - 0.01, draw_traffic_light, side.sign * e, h - 0.3, z_j - 0.05, 3)
                if rng.random() < 0.4:
                    add(z_j - 0.012, draw_traffic_light, side.sign * e, h - 1.5, z_j - 0.06, 2)
                if rng.random() < 0.4:
                    add(z_j - 0.011, draw_sign, side.sign * e, h + 0.35 + 0.4, z_j - 0.07)
        if rng.random() < 0.4:  # mast arm over the road
            side = street.right
            e, h = side.edge + side.kerb + 0.5, rng.uniform(5.5, 6.5)
            arm = -rng.uniform(3, 6)
            add(z_j + 0.5, draw_pole, e, z_j + 0.5, h, rng.uniform(0.18, 0.25), pole_col, arm)
            for k in range(int(rng.integers(1, 3))):
                add(z_j + 0.49, draw_traffic_light, e + arm * (0.5 + 0.45 * k), h - 0.6, z_j + 0.45, 3)
    return items
