"""The street's layout in metres: lanes, markings, kerbs, verges, sidewalks and lots, and the shadows of
its buildings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from srseg.sources.synthetic.colours import ROOFS, WALLS, Rgb, pick, rgb, vary
from srseg.sources.synthetic.light import Lighting


@dataclass
class Facade:
    """Appearance of a building front."""

    wall: Rgb
    trim: Rgb
    frame: Rgb
    glass: Rgb
    floor_h: float
    ground_h: float
    win_w: float
    win_h: float
    pitch: float
    shops: bool
    curtain: bool  # glass curtain wall
    roof: Rgb | None  # pitched roof colour (None = flat)
    texture: float


@dataclass
class Lot:
    """A stretch ``z0..z1`` of one street side behind the sidewalk."""

    z0: float
    z1: float
    kind: str  # "building" | "park" | "plaza"
    setback: float = 0.0  # facade distance behind the frontage line (m)
    yard: str = "paved"  # ground in front of the facade: "paved" | "terrain"
    height: float = 0.0
    depth: float = 15.0
    facade: Facade | None = None


@dataclass
class Side:
    """One side of the street; lateral distances ``e`` are measured outward from the road centre line."""

    sign: int  # -1 left, +1 right
    edge: float  # e of the road edge (kerb face)
    kerb: float
    verge: float  # grass strip between kerb and sidewalk
    walk: float
    lots: list[Lot]
    style: str
    _arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @property
    def front(self) -> float:
        """``e`` of the lot frontage line (outer edge of the sidewalk)."""
        return self.edge + self.kerb + self.verge + self.walk

    def lot_index(self, z: np.ndarray) -> np.ndarray:
        ends = self.lot_arrays()[4]
        return np.minimum(np.searchsorted(ends, z), len(self.lots) - 1)

    def lot_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per lot: kind code (0 building, 1 park, 2 plaza), setback, yard is terrain, height, end z.

        Cached: call only once the lots are final.
        """
        if self._arrays is None:
            self._arrays = self._make_arrays()
        return self._arrays

    def _make_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        ends = np.array([lot.z1 for lot in self.lots])
        kinds = np.array([("building", "park", "plaza").index(lot.kind) for lot in self.lots])
        setbacks = np.array([lot.setback for lot in self.lots])
        yards = np.array([lot.yard == "terrain" for lot in self.lots])
        heights = np.array([lot.height if lot.kind == "building" else 0.0 for lot in self.lots])
        return kinds, setbacks, yards, heights, ends


@dataclass(frozen=True)
class Marking:
    """A painted line along the road at ``s``; ``period`` 0 means solid."""

    s: float
    width: float
    period: float = 0.0
    duty: float = 1.0
    phase: float = 0.0


@dataclass
class Street:
    left: Side
    right: Side
    lane_width: float
    divider: float  # s between oncoming and own-direction lanes
    lanes: list[tuple[float, int]]  # (centre s, direction +1 away / -1 oncoming)
    parking: dict[int, tuple[float, float] | None]  # side sign → (s_lo, s_hi)
    markings: list[Marking]
    crosswalk: tuple[float, float] | None  # (z start, length)
    z_far: float
    paint: Rgb = field(default_factory=lambda: rgb(0.85, 0.85, 0.82))

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.left, self.right


def make_facade(rng: np.random.Generator, style: str) -> Facade:
    """A random building front for a street side of ``style`` ("urban", "suburban" or "green")."""
    wall = vary(rng, pick(rng, WALLS), 0.1, 0.03)
    curtain = style == "urban" and rng.random() < 0.18
    if curtain:
        wall = vary(rng, rgb(0.35, 0.40, 0.45), 0.3, 0.05)
    floor_h = rng.uniform(2.8, 3.6)
    return Facade(
        wall=wall,
        trim=np.clip(wall * rng.uniform(0.6, 1.25), 0, 1),
        frame=vary(rng, pick(rng, [(0.9, 0.9, 0.88), (0.25, 0.25, 0.25), (0.5, 0.4, 0.3)]), 0.1),
        glass=vary(rng, rgb(0.16, 0.2, 0.25), 0.3, 0.08),
        floor_h=floor_h,
        ground_h=floor_h * rng.uniform(1.0, 1.35),
        win_w=rng.uniform(0.8, 1.6) if not curtain else rng.uniform(1.3, 1.8),
        win_h=rng.uniform(1.2, 1.9) if not curtain else floor_h - 0.35,
        pitch=rng.uniform(2.0, 3.8) if not curtain else rng.uniform(1.5, 2.0),
        shops=style == "urban" and rng.random() < 0.6,
        curtain=curtain,
        roof=vary(rng, pick(rng, ROOFS)) if (style != "urban" and rng.random() < 0.5) else None,
        texture=rng.uniform(0.02, 0.08),
    )


def _lots(rng: np.random.Generator, style: str, z_far: float) -> list[Lot]:
    """Consecutive lots from behind the camera to beyond ``z_far``."""
    probs = {"urban": (0.86, 0.04, 0.10), "suburban": (0.6, 0.3, 0.1), "green": (0.25, 0.7, 0.05)}[style]
    lots: list[Lot] = []
    z = rng.uniform(-15.0, 0.0)
    while z < z_far + 20:
        kind = str(rng.choice(["building", "park", "plaza"], p=probs))
        if kind == "building":
            urban = style == "urban"
            length = rng.uniform(9, 32) if urban else rng.uniform(8, 20)
            height = rng.uniform(10, 28) if urban else rng.uniform(5, 12)
            setback = 0.0 if (urban and rng.random() < 0.8) else rng.uniform(1.0, 6.0)
            yard = "terrain" if (setback > 0 and rng.random() < 0.65) else "paved"
            lot = Lot(z, z + length, kind, setback, yard, height, rng.uniform(10, 20), make_facade(rng, style))
        elif kind == "park":
            lot = Lot(z, z + rng.uniform(12, 50), kind, yard="terrain")
        else:
            lot = Lot(z, z + rng.uniform(5, 15), kind)
        lots.append(lot)
        z = lot.z1
    lots[-1].z1 = 1e9
    return lots


def build_street(rng: np.random.Generator) -> Street:
    """Random lanes, markings, kerbs, verges, sidewalks and lots."""
    w = rng.uniform(2.9, 3.6)
    n_right = int(rng.choice([1, 1, 2, 2, 3]))
    n_left = int(rng.choice([0, 1, 1, 2]))
    k = int(rng.integers(n_right))
    divider = -(k + 0.5) * w
    right_edge, left_edge = divider + n_right * w, divider - n_left * w
    lanes = [(divider + (i + 0.5) * w, 1) for i in range(n_right)]
    lanes += [(divider - (i + 0.5) * w, -1) for i in range(n_left)]
    markings: list[Marking] = []
    if n_left:
        kind = rng.choice(["solid", "double", "dashed"])
        if kind == "double":
            markings += [Marking(divider - 0.12, 0.11), Marking(divider + 0.12, 0.11)]
        elif kind == "solid":
            markings.append(Marking(divider, rng.uniform(0.1, 0.15)))
        else:
            markings.append(Marking(divider, 0.12, rng.uniform(8, 14), rng.uniform(0.3, 0.5), rng.uniform(0, 10)))
    dash = (rng.uniform(8, 15), rng.uniform(0.25, 0.45), rng.uniform(0, 10))
    for i in range(1, n_right):
        markings.append(Marking(divider + i * w, 0.12, *dash))
    for i in range(1, n_left):
        markings.append(Marking(divider - i * w, 0.12, *dash))
    parking: dict[int, tuple[float, float] | None] = {-1: None, 1: None}
    for sign in (1, -1):
        if rng.random() < 0.45:
            pw = rng.uniform(2.0, 2.5)
            if sign > 0:
                parking[1] = (right_edge, right_edge + pw)
                right_edge += pw
            else:
                parking[-1] = (left_edge - pw, left_edge)
                left_edge -= pw
        elif rng.random() < 0.5:  # edge line
            edge = right_edge if sign > 0 else left_edge
            markings.append(Marking(edge - sign * 0.35, 0.12))
    crosswalk = (rng.uniform(9, 40), rng.uniform(3, 5)) if rng.random() < 0.45 else None
    z_far = rng.uniform(160, 320)
    sides = []
    for sign, edge in ((-1, -left_edge), (1, right_edge)):
        style = str(rng.choice(["urban", "suburban", "green"], p=[0.5, 0.32, 0.18]))
        verge = rng.uniform(0.8, 2.5) if rng.random() < (0.25 if style == "urban" else 0.55) else 0.0
        sides.append(Side(sign, edge, 0.2, verge, rng.uniform(1.8, 4.5), _lots(rng, style, z_far), style))
    return Street(sides[0], sides[1], w, divider, lanes, parking, markings, crosswalk, z_far,
                  paint=vary(rng, rgb(0.86, 0.86, 0.82), 0.08, 0.02))


def in_shadow(street: Street, light: Lighting, s: float | np.ndarray, z: float | np.ndarray) -> np.ndarray:
    """Whether ground points ``(s, 0, z)`` lie in the shadow of the buildings along the street (a 0-d array for
    scalar ``s`` and ``z``)."""
    s, z = np.asarray(s, np.float64), np.asarray(z, np.float64)
    out = np.zeros(np.broadcast(s, z).shape, bool)
    if light.sun_rgb.max() < 0.3:
        return out
    sx, sy, sz = light.sun
    for side in street.sides:
        if side.sign * sx <= 0.05:
            continue
        kinds, setbacks, _, heights, _ = side.lot_arrays()
        e = side.sign * s
        t = (side.front - e) / abs(sx)  # ray length to the frontage line
        idx = side.lot_index(z + t * sz)
        t = (side.front + setbacks[idx] - e) / abs(sx)  # ... to that lot's facade
        idx = side.lot_index(z + t * sz)
        e_f = side.front + setbacks[idx]
        out |= (e < e_f) & (kinds[idx] == 0) & (t * sy < heights[idx])
    return out
