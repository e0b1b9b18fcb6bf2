"""Procedurally rendered street scenes: the offline default data source.

How a scene is rendered
-----------------------
1. A random street is laid out in metres: lanes with markings (and sometimes a zebra crossing),
   kerbs, grass verges, sidewalks, then lots along both sides (buildings with window grids, parks,
   plazas), and the things in it: vehicles, people, cyclists, lamp posts, signs, traffic lights,
   trees, bushes, hedges and fences. Coordinates are ``(s, y, z)``: ``s`` lateral from the camera's
   lane (right positive), ``y`` up from the ground, ``z`` depth along the (possibly curving) road.
2. A pinhole camera at driver height (random focal length, horizon row and road curvature) projects
   it, so object size falls with distance and far objects and thin structures are a few pixels wide.
3. Painter's algorithm, far to near: sky, the ground (every pixel below the horizon inverse-projected
   to the ground plane and classified there), a distant skyline, buildings and park vegetation,
   hedges and fences at the lot fronts, then the street objects by depth. Each element is rasterised
   once, one sample at each pixel centre (Pillow polygons and lines; no supersampling), and that one
   mask is written into both the label map and the image. Every pixel's colour therefore comes from
   the element whose labelId it carries; labels are never derived from the image. The same mask writes
   an object map: every element of a class with instances (each person, rider, bicycle, car, truck, bus;
   a cyclist is a rider and a bicycle) gets its own number, so an object keeps its id on the pixels that
   stay visible when nearer ones cover it. The instance ids (Cityscapes ``instanceIds``) are numbered
   from it at the end (:func:`srseg.instances.number_objects`); they draw no random numbers, so image and
   labels are the same with or without them.
4. Shading is flat per face (sun + sky light, building shadows on the ground, contact shadows under
   objects, distance haze); textures are noise fields and world-space patterns (paving joints,
   markings, stains), box-filtered over the pixel footprint where they are periodic.
5. Camera effects touch the image only: exposure and white balance, vignetting, a mild Gaussian lens
   blur and signal-dependent sensor noise.

Every image has its own generator seeded from ``(seed, split, index)``, so image ``i`` is the same
whatever the split sizes. Nothing here knows about super-resolution or the models.
"""

from __future__ import annotations

import colorsys
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from srseg.instances import HAS_INSTANCES, number_objects
from srseg.io import write_png
from srseg.labels import colorize, label_id, to_train_ids
from srseg.parallel import cpu_count, ordered_map
from srseg.params import Params
from srseg.sources import Counted, RawSample

ROAD, SIDEWALK, BUILDING, FENCE, POLE = (label_id(n) for n in ("road", "sidewalk", "building", "fence", "pole"))
LIGHT, SIGN, VEGETATION, TERRAIN, SKY = (
    label_id(n) for n in ("traffic light", "traffic sign", "vegetation", "terrain", "sky")
)
PERSON, RIDER, CAR, TRUCK, BUS, BICYCLE = (
    label_id(n) for n in ("person", "rider", "car", "truck", "bus", "bicycle")
)
GROUND_IDS = (ROAD, SIDEWALK, TERRAIN)

#: Invented city names; train and val use disjoint cities, as in Cityscapes.
CITY_NAMES = {
    "train": ["aldmoor", "brackwick", "corvale", "dunhollow", "elmsgate", "farrowby", "glenmarsh", "hathercombe"],
    "val": ["ivelport", "jarrowden", "kestrelby", "lowenbrook", "marrowfield", "norhaven", "osterlyn", "pellingford"],
}
SPLIT_KEYS = {"train": 0, "val": 1, "test": 2}
FRAME = 19  # Cityscapes' annotated frame number

Z_NEAR = 0.6  # metres: geometry nearer than this is clipped
Rgb = np.ndarray


# ----------------------------------------------------------------------------------------------
# Colour helpers
# ----------------------------------------------------------------------------------------------


def _rgb(r: float, g: float, b: float) -> Rgb:
    return np.array([r, g, b], dtype=np.float32)


def _hsv(h: float, s: float, v: float) -> Rgb:
    return _rgb(*colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)))


def _vary(rng: np.random.Generator, colour: Rgb, bright: float = 0.12, tint: float = 0.04) -> Rgb:
    """``colour`` with a random brightness change and a small per-channel tint."""
    c = np.asarray(colour, np.float32) * rng.uniform(1 - bright, 1 + bright) * (1 + rng.normal(0, tint, 3))
    return np.clip(c, 0.0, 1.0).astype(np.float32)


def _pick(rng: np.random.Generator, palette: list[tuple[float, float, float]]) -> Rgb:
    return _rgb(*palette[rng.integers(len(palette))])


WALLS = [
    (0.78, 0.70, 0.56), (0.88, 0.84, 0.72), (0.86, 0.86, 0.83), (0.56, 0.55, 0.54), (0.36, 0.36, 0.38),
    (0.56, 0.28, 0.19), (0.46, 0.33, 0.25), (0.80, 0.62, 0.36), (0.85, 0.68, 0.63), (0.62, 0.71, 0.79),
    (0.68, 0.77, 0.63), (0.65, 0.64, 0.60), (0.72, 0.45, 0.32), (0.92, 0.90, 0.86),
]
CAR_PAINTS = [
    (0.86, 0.87, 0.87), (0.07, 0.07, 0.08), (0.63, 0.65, 0.67), (0.38, 0.39, 0.41), (0.08, 0.12, 0.30),
    (0.62, 0.07, 0.06), (0.16, 0.32, 0.62), (0.12, 0.30, 0.18), (0.66, 0.59, 0.46), (0.86, 0.70, 0.10),
    (0.80, 0.36, 0.08), (0.20, 0.20, 0.22), (0.90, 0.90, 0.92),
]
CARGO_PAINTS = [(0.9, 0.9, 0.88), (0.75, 0.75, 0.75), (0.2, 0.3, 0.6), (0.7, 0.1, 0.1)]
BUS_PAINTS = [(0.90, 0.72, 0.10), (0.75, 0.10, 0.10), (0.15, 0.35, 0.70), (0.90, 0.90, 0.88), (0.20, 0.55, 0.30)]
PAVINGS = [(0.62, 0.61, 0.58), (0.70, 0.66, 0.58), (0.58, 0.42, 0.36), (0.48, 0.48, 0.50), (0.74, 0.72, 0.68)]
ROOFS = [(0.50, 0.20, 0.14), (0.30, 0.28, 0.28), (0.42, 0.30, 0.24), (0.22, 0.24, 0.28)]
METALS = [(0.55, 0.56, 0.57), (0.35, 0.36, 0.37), (0.15, 0.16, 0.16), (0.18, 0.28, 0.20), (0.62, 0.62, 0.60)]


HAIR = [(0.06, 0.05, 0.04), (0.3, 0.2, 0.1), (0.7, 0.6, 0.4), (0.6, 0.6, 0.6)]
HELMETS = [(0.1, 0.1, 0.1), (0.9, 0.9, 0.9), (0.8, 0.2, 0.1), (0.2, 0.4, 0.8)]


def _clothes(rng: np.random.Generator) -> Rgb:
    """Mostly dark or muted clothing, sometimes a bright colour."""
    if rng.random() < 0.35:
        return _hsv(rng.random(), rng.uniform(0.0, 0.15), rng.uniform(0.05, 0.85))
    return _hsv(rng.random(), rng.uniform(0.2, 0.85), rng.uniform(0.12, 0.8))


def _skin(rng: np.random.Generator) -> Rgb:
    return np.clip(_rgb(0.95, 0.77, 0.64) * (1 - rng.uniform(0, 1) ** 1.5 * 0.65), 0, 1)


def _leaf_green(rng: np.random.Generator) -> Rgb:
    if rng.random() < 0.08:  # autumn
        return _hsv(rng.uniform(0.06, 0.14), rng.uniform(0.5, 0.8), rng.uniform(0.35, 0.6))
    return _hsv(rng.uniform(0.20, 0.36), rng.uniform(0.35, 0.75), rng.uniform(0.18, 0.45))


# ----------------------------------------------------------------------------------------------
# Camera, lighting, canvas
# ----------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Lighting:
    """Sun and sky light, sky colours and distance haze of one scene."""

    sun: np.ndarray  # unit vector toward the sun
    sun_rgb: Rgb  # direct light (zero when overcast)
    ambient: Rgb  # sky light
    zenith: Rgb
    horizon: Rgb
    visibility: float  # haze distance (m)
    clouds: float  # cloud cover 0..1

    def shade(self, normal: np.ndarray, shadowed: bool = False) -> Rgb:
        """Lambert shading multiplier of a face with outward ``normal``."""
        d = 0.0 if shadowed else max(0.0, float(np.dot(normal, self.sun)))
        return (self.ambient + self.sun_rgb * d).astype(np.float32)

    def haze(self, depth: np.ndarray | float) -> np.ndarray | float:
        """Fraction of the haze colour mixed into a surface at ``depth`` metres."""
        return 1.0 - np.exp(-np.asarray(depth, np.float32) / self.visibility)


FACING = np.array([0.0, 0.0, -1.0])  # normal of a surface facing the camera
UP = np.array([0.0, 1.0, 0.0])


def _normalise(a: np.ndarray) -> np.ndarray:
    return ((a - a.mean()) / (a.std() + 1e-6)).astype(np.float32)


def value_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth noise with features about ``cell`` pixels wide (zero mean, unit std)."""
    gh, gw = max(2, round(h / cell) + 1), max(2, round(w / cell) + 1)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    return _normalise(np.asarray(Image.fromarray(grid).resize((w, h), Image.Resampling.BICUBIC)))


class Stroke:
    """The shapes of one element: filled polygons and polylines in pixel coordinates, each with a colour."""

    def __init__(self) -> None:
        self.shapes: list[tuple[np.ndarray, int]] = []  # (points (N, 2), line width; 0 = filled)
        self.colours: list[Rgb] = []

    def poly(self, pts: np.ndarray, colour: Rgb) -> None:
        self.shapes.append((np.asarray(pts, np.float64), 0))
        self.colours.append(colour)

    def line(self, pts: np.ndarray, colour: Rgb, width_px: float) -> None:
        self.shapes.append((np.asarray(pts, np.float64), max(1, int(round(width_px)))))
        self.colours.append(colour)


class Canvas:
    """The image (float RGB), label map and object map being painted, plus the shared texture fields."""

    def __init__(self, width: int, height: int, light: Lighting, rng: np.random.Generator) -> None:
        self.w, self.h, self.light = width, height, light
        self.image = np.zeros((height, width, 3), np.float32)
        self.label = np.full((height, width), SKY, np.uint8)
        self.objects = np.zeros((height, width), np.int32)  # 0 = no object; n = the n-th painted object
        self.n_objects = 0
        k = width / 384
        white = rng.standard_normal((height, width)).astype(np.float32)
        self.grain = _normalise(ndimage.gaussian_filter(white, 0.5 * k))
        self.mid = value_noise(rng, height, width, 4 * k)
        self.coarse = value_noise(rng, height, width, 24 * k)
        self._fields = np.stack([self.grain, self.mid, self.coarse], axis=-1)

    def _raster(self, stroke: Stroke) -> tuple[np.ndarray, int, int] | None:
        """Rasterise ``stroke`` into an index map over its (clipped) bounding box."""
        pts = np.concatenate([p for p, _ in stroke.shapes])
        if not np.isfinite(pts).all():
            raise ValueError("non-finite coordinates in a stroke")
        pad = max(w for _, w in stroke.shapes) + 1
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        x0, y0 = max(0, int(lo[0]) - pad), max(0, int(lo[1]) - pad)
        x1, y1 = min(self.w, int(hi[0]) + pad + 2), min(self.h, int(hi[1]) + pad + 2)
        if x1 <= x0 or y1 <= y0:
            return None
        img = Image.new("I", (x1 - x0, y1 - y0), 0)
        draw = ImageDraw.Draw(img)
        flat_xy = np.clip(pts - np.array([x0, y0], np.float64), -1e5, 1e5).ravel().tolist()
        i = 0
        for k, (p, width) in enumerate(stroke.shapes):
            n = 2 * len(p)
            xy = flat_xy[i:i + n]
            i += n
            if width == 0:
                if n >= 6:
                    draw.polygon(xy, fill=k + 1)
            else:
                draw.line(xy, fill=k + 1, width=width, joint="curve" if n > 4 else None)
        return np.asarray(img), x0, y0

    def paint(self, stroke: Stroke, label: int, texture: tuple[float, float, float] = (0.03, 0.03, 0.03),
              depth: float = 0.0) -> None:
        """Write ``stroke`` into label, image and object map together (later shapes cover earlier ones).

        One call paints one object when ``label`` is a class with instances.
        """
        if not stroke.shapes:
            return
        raster = self._raster(stroke)
        if raster is None:
            return
        idx, x0, y0 = raster
        mask = idx > 0
        if not mask.any():
            return
        h, w = idx.shape
        box = (slice(y0, y0 + h), slice(x0, x0 + w))
        col = np.stack(stroke.colours)[idx[mask] - 1]
        tex = self._fields[box][mask] @ np.asarray(texture, np.float32)
        f = float(self.light.haze(depth))
        self.image[box][mask] = col * ((1.0 + tex) * (1 - f))[:, None] + self.light.horizon * f
        self.label[box][mask] = label
        if HAS_INSTANCES[label]:
            self.n_objects += 1
            self.objects[box][mask] = self.n_objects
        else:
            self.objects[box][mask] = 0

    def instance_ids(self) -> np.ndarray:
        """Cityscapes instance ids (uint16) of the visible objects, numbered per class in painting order."""
        return number_objects(self.label, self.objects, "synthetic scene")
    def darken_ground(self, pts: np.ndarray, factor: float) -> None:
        """Darken ground pixels inside a polygon (a shadow: the image changes, the labels do not)."""
        stroke = Stroke()
        stroke.poly(pts, _rgb(0, 0, 0))
        raster = self._raster(stroke)
        if raster is None:
            return
        idx, x0, y0 = raster
        h, w = idx.shape
        lab = self.label[y0:y0 + h, x0:x0 + w]
        mask = (idx > 0) & np.isin(lab, GROUND_IDS)
        self.image[y0:y0 + h, x0:x0 + w][mask] *= factor


# ----------------------------------------------------------------------------------------------
# Street layout
# ----------------------------------------------------------------------------------------------


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
    _arrays: tuple[np.ndarray, ...] | None = field(default=None, repr=False)

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
    paint: Rgb = field(default_factory=lambda: _rgb(0.85, 0.85, 0.82))

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.left, self.right


def _facade(rng: np.random.Generator, style: str) -> Facade:
    wall = _vary(rng, _pick(rng, WALLS), 0.1, 0.03)
    curtain = style == "urban" and rng.random() < 0.18
    if curtain:
        wall = _vary(rng, _rgb(0.35, 0.40, 0.45), 0.3, 0.05)
    floor_h = rng.uniform(2.8, 3.6)
    return Facade(
        wall=wall,
        trim=np.clip(wall * rng.uniform(0.6, 1.25), 0, 1),
        frame=_vary(rng, _pick(rng, [(0.9, 0.9, 0.88), (0.25, 0.25, 0.25), (0.5, 0.4, 0.3)]), 0.1),
        glass=_vary(rng, _rgb(0.16, 0.2, 0.25), 0.3, 0.08),
        floor_h=floor_h,
        ground_h=floor_h * rng.uniform(1.0, 1.35),
        win_w=rng.uniform(0.8, 1.6) if not curtain else rng.uniform(1.3, 1.8),
        win_h=rng.uniform(1.2, 1.9) if not curtain else floor_h - 0.35,
        pitch=rng.uniform(2.0, 3.8) if not curtain else rng.uniform(1.5, 2.0),
        shops=style == "urban" and rng.random() < 0.6,
        curtain=curtain,
        roof=_vary(rng, _pick(rng, ROOFS)) if (style != "urban" and rng.random() < 0.5) else None,
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
            lot = Lot(z, z + length, kind, setback, yard, height, rng.uniform(10, 20), _facade(rng, style))
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
                  paint=_vary(rng, _rgb(0.86, 0.86, 0.82), 0.08, 0.02))


def make_lighting(rng: np.random.Generator) -> Lighting:
    """Sunny, cloudy or overcast light and the matching sky."""
    weather = rng.choice(["sunny", "cloudy", "overcast"], p=[0.45, 0.3, 0.25])
    el, az = math.radians(rng.uniform(15, 60)), rng.uniform(0, 2 * math.pi)
    sun = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
    warm = _rgb(1.05, 1.0, 0.9)
    if weather == "overcast":
        grey = rng.uniform(0.62, 0.85)
        zenith = _vary(rng, _rgb(grey, grey * 1.01, grey * 1.06), 0.05, 0.02)
        horizon = np.clip(zenith * rng.uniform(1.05, 1.18), 0, 1)
        return Lighting(sun, warm * 0.0, _rgb(0.95, 0.97, 1.0) * rng.uniform(0.8, 1.0), zenith, horizon,
                        rng.uniform(180, 600), rng.uniform(0.0, 0.3))
    zenith = _hsv(rng.uniform(0.55, 0.62), rng.uniform(0.35, 0.65), rng.uniform(0.72, 0.92))
    horizon = np.clip(zenith * 0.4 + _rgb(0.9, 0.92, 0.94) * 0.6, 0, 1)
    sunny = weather == "sunny"
    sun_rgb = warm * (rng.uniform(0.5, 0.7) if sunny else rng.uniform(0.15, 0.3))
    ambient = _rgb(0.92, 0.97, 1.07) * (rng.uniform(0.42, 0.55) if sunny else rng.uniform(0.6, 0.75))
    clouds = rng.uniform(0.0, 0.5) if sunny else rng.uniform(0.4, 0.9)
    return Lighting(sun, sun_rgb, ambient, zenith, horizon, rng.uniform(300, 1500), clouds)


def make_camera(rng: np.random.Generator, width: int, height: int) -> Camera:
    return Camera(
        width=width,
        height=height,
        focal=width * rng.uniform(0.85, 1.15),
        horizon=height * rng.uniform(0.36, 0.48),
        eye=rng.uniform(1.25, 1.7),
        bend=rng.normal(0.0, 0.0008) if rng.random() < 0.6 else 0.0,
    )


def in_shadow(street: Street, light: Lighting, s: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Whether ground points ``(s, 0, z)`` lie in the shadow of the buildings along the street."""
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


# ----------------------------------------------------------------------------------------------
# Ground and sky
# ----------------------------------------------------------------------------------------------


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
        self.tile = _normalise(ndimage.gaussian_filter(rng.standard_normal((size, size)), 1.2, mode="wrap"))

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

    def take(self, idx: np.ndarray) -> "GroundPixels":
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
    asphalt = _vary(rng, _rgb(0.33, 0.33, 0.34) * rng.uniform(0.7, 1.3), 0.05, 0.03)
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

    kerb = _vary(rng, _rgb(0.68, 0.68, 0.66), 0.08)
    walk, lot = (_vary(rng, _pick(rng, PAVINGS), 0.1, 0.03) for _ in range(2))
    walk_slab, lot_slab = rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9)
    walk_joint, lot_joint = rng.uniform(0.15, 0.35), rng.uniform(0.15, 0.35)
    grass = _hsv(rng.uniform(0.17, 0.27), rng.uniform(0.35, 0.6), rng.uniform(0.3, 0.5))
    dirt, bias = _vary(rng, _rgb(0.45, 0.38, 0.28)), rng.uniform(-0.6, 0.3)
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


# ----------------------------------------------------------------------------------------------
# Geometry helpers
# ----------------------------------------------------------------------------------------------


@dataclass
class Ctx:
    """Everything a draw function needs."""

    cv: Canvas
    cam: Camera
    light: Lighting
    street: Street
    rng: np.random.Generator

    def proj(self, pts: np.ndarray) -> np.ndarray:
        """Project world points, subdividing long edges along z so that they follow the road's bend."""
        pts = np.asarray(pts, np.float64)
        if self.cam.bend and len(pts) > 1:
            nxt = np.roll(pts, -1, axis=0)
            steps = np.minimum(16, np.abs(nxt[:, 2] - pts[:, 2]) // 4).astype(int)
            if steps.any():
                pts = np.concatenate([a + (b - a) * (np.arange(n + 1)[:, None] / (n + 1))
                                      for a, b, n in zip(pts, nxt, steps)])
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


def _smooth_ring(x: np.ndarray) -> np.ndarray:
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


# ----------------------------------------------------------------------------------------------
# Scene elements
# ----------------------------------------------------------------------------------------------


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
            wall = _vary(rng, _pick(rng, WALLS), 0.15) * ctx.light.shade(FACING)
            stroke.poly(cam.project(rect(s, s + width, 0, h, z)), wall)
            ctx.cv.paint(stroke, BUILDING, (0.02, 0.02, 0.02), depth=z)
        else:
            green = _leaf_green(rng) * ctx.light.shade(FACING)
            stroke.poly(cam.project(rect(s, s + width, 0, 2.5, z)), green)
            for _ in range(max(1, int(width / 5))):
                cx, r = rng.uniform(s, s + width), rng.uniform(3, 8)
                jag = 1 + 0.12 * rng.standard_normal(18)
                stroke.poly(cam.project(flat(ellipse(0, r * 0.9, r, r * 0.8, 18, jag), cx, z)), _vary(rng, green, 0.1))
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

    def quads(za: np.ndarray, zb: np.ndarray, y0: np.ndarray, y1: np.ndarray) -> np.ndarray:
        """Projected facade rectangles, (N, 4, 2)."""
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
    za, zb = cols - fc.win_w / 2, cols + fc.win_w / 2
    keep = (za >= z_lo) & (zb <= z_hi) & (cam.focal * fc.win_h / np.maximum(za, Z_NEAR) >= 1.5)
    keep &= cam.focal * fc.win_w * e_f / np.maximum(za, Z_NEAR) ** 2 >= 0.3
    za, zb = za[keep], zb[keep]
    floors = np.arange(fc.ground_h, lot.height - 0.5 - fc.floor_h + 1e-6, fc.floor_h)
    if len(za) and len(floors):
        y0 = floors[:, None] + (fc.floor_h - fc.win_h) * 0.55
        frames = quads(za - frame_w, zb + frame_w, y0 - frame_w, y0 + fc.win_h + frame_w).reshape(-1, 4, 2)
        panes = quads(za, zb, y0, y0 + fc.win_h).reshape(-1, 4, 2)
        for frame, pane in zip(frames, panes):
            stroke.poly(frame, fc.frame * shade)
            stroke.poly(pane, glass())
    # ground floor
    za = lot.z0 + rng.uniform(0.3, 1.5)
    while za < z_hi - 1.5:
        if fc.shops:
            w = rng.uniform(2, 5)
            zb = min(za + w, z_hi - 0.5)
            if za >= z_lo and zb <= z_hi and cam.px(2.0, za) >= 1.5:
                sign_colour = _hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9))
                stroke.poly(quad(za, zb, fc.ground_h - 0.9, fc.ground_h - 0.3), sign_colour * shade)
                stroke.poly(quad(za, zb, 0.5, fc.ground_h - 1.1), glass())
            za = zb + rng.uniform(0.4, 1.2)
        else:
            zb = za + 1.2
            if za >= z_lo and zb <= z_hi and cam.px(2.0, za) >= 1.5:
                stroke.poly(quad(za, zb, 0.1, 2.2), _vary(rng, _rgb(0.25, 0.18, 0.12), 0.4) * shade)
            za += rng.uniform(5, 14)


def draw_tree(ctx: Ctx, s: float, z: float, size: float = 1.0) -> None:
    """A deciduous tree (trunk and a ragged crown of overlapping blobs) or a conifer."""
    cam, rng = ctx.cam, ctx.rng
    if not ctx.on_screen(s, z, 4.5 * size, 11 * size):
        return
    lit = ctx.shade(FACING, s, z)
    bark = _vary(rng, _rgb(0.3, 0.24, 0.18), 0.25) * lit
    green = _leaf_green(rng)
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
            crown.poly(cam.project(flat(pts, s, z)), _vary(rng, green * 0.7, 0.1) * lit)
    else:
        cy = trunk_h + r * 0.8
        for _ in range(int(rng.integers(4, 9))):
            bx, by = rng.normal(0, r * 0.45), cy + rng.normal(0, r * 0.3)
            br = r * rng.uniform(0.45, 0.8)
            jag = 1 + _smooth_ring(rng.normal(0, 0.22, 28))
            light_up = 1 + 0.25 * (by - cy) / r
            crown.poly(cam.project(flat(ellipse(bx, by, br, br * rng.uniform(0.8, 1.1), 28, jag), s, z)),
                       _vary(rng, green, 0.12) * light_up * lit)
    ctx.cv.paint(crown, VEGETATION, (0.16, 0.16, 0.05), depth=z)


def draw_bush(ctx: Ctx, s: float, z: float) -> None:
    """A low ragged bush on the ground."""
    rng = ctx.rng
    if not ctx.on_screen(s, z, 2.5, 2.0):
        return
    lit = ctx.shade(FACING, s, z)
    green = _leaf_green(rng)
    stroke = Stroke()
    r = rng.uniform(0.4, 1.2)
    for _ in range(int(rng.integers(2, 5))):
        bx, br = rng.normal(0, r * 0.6), r * rng.uniform(0.6, 1.0)
        jag = 1 + _smooth_ring(rng.normal(0, 0.2, 20))
        pts = ellipse(bx, br * 0.7, br, br * 0.8, 20, jag)
        pts[:, 1] = np.maximum(pts[:, 1], 0)
        stroke.poly(ctx.cam.project(flat(pts, s, z)), _vary(rng, green, 0.12) * lit)
    ctx.cv.paint(stroke, VEGETATION, (0.16, 0.16, 0.05), depth=z)


def draw_hedge(ctx: Ctx, side: Side, e0: float, z0: float, z1: float) -> None:
    """A trimmed hedge along the lot front: a leafy box."""
    rng = ctx.rng
    h, thick = rng.uniform(0.7, 1.6), rng.uniform(0.6, 1.0)
    z0 = max(z0, Z_NEAR)
    if z1 <= z0:
        return
    green = _leaf_green(rng)
    s_a, s_b = sorted((side.sign * e0, side.sign * (e0 + thick)))
    stroke = Stroke()
    for face, normal in prism_faces(s_a, s_b, box_profile(z0, z1, 0, h), ctx.cam.eye):
        stroke.poly(ctx.proj(face), green * ctx.light.shade(normal))
    ctx.cv.paint(stroke, VEGETATION, (0.18, 0.15, 0.05), depth=max(z0, e0))


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
        for seg, z in zip(cam.project(ends), zs):
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
    red, white, blue, black = _rgb(0.78, 0.1, 0.1), _rgb(0.92, 0.92, 0.9), _rgb(0.1, 0.3, 0.7), _rgb(0.08, 0.08, 0.08)
    yellow, green = _rgb(0.95, 0.78, 0.1), _rgb(0.1, 0.45, 0.25)
    r = rng.uniform(0.3, 0.45)
    kind = rng.choice(["prohibit", "noentry", "mandatory", "warning", "priority", "info", "direction", "stop"])
    stroke = Stroke()

    def add(local: np.ndarray, colour: Rgb) -> None:
        stroke.poly(cam.project(flat(local + np.array([0.0, y]), s, z)), _vary(rng, colour, 0.05) * lit)

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
    housing = _vary(rng, _pick(rng, [(0.08, 0.08, 0.08), (0.15, 0.16, 0.15), (0.12, 0.2, 0.14), (0.8, 0.65, 0.1)]), 0.1)
    w, lh = rng.uniform(0.28, 0.36), rng.uniform(0.26, 0.32)
    h = lh * lamps + 0.08
    stroke = Stroke()
    if rng.random() < 0.4:  # back plate
        stroke.poly(cam.project(rect(s - w, s + w, y - h / 2 - 0.08, y + h / 2 + 0.08, z)), housing * lit * 0.9)
    stroke.poly(cam.project(rect(s - w / 2, s + w / 2, y - h / 2, y + h / 2, z)), housing * lit)
    red, amber, green = _rgb(1.0, 0.15, 0.1), _rgb(1.0, 0.7, 0.1), _rgb(0.2, 1.0, 0.5)
    colours = [red, amber, green] if lamps == 3 else [red, green]
    on = int(rng.integers(lamps))
    for i in range(lamps):
        cy = y + h / 2 - 0.04 - lh * (i + 0.5)
        c = colours[i] if i == on else colours[i] * 0.18 + 0.04
        stroke.poly(cam.project(flat(ellipse(0, cy, lh * 0.36, lh * 0.36, 14), s, z)), c)
    ctx.cv.paint(stroke, LIGHT, (0.02, 0.02, 0.01), depth=z)


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
    glass = _rgb(0.08, 0.09, 0.11) * 0.75 + sky * 0.25 * rng.uniform(0.3, 1.0)
    dark, tyre = _rgb(0.06, 0.06, 0.06), _rgb(0.04, 0.04, 0.045)
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
                stroke.poly(cam.project(on_side(s_cap, ellipse(zc, r, r * 0.55, r * 0.55, 12))), _rgb(0.45, 0.45, 0.47))

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
                near(a, b, yb - 0.3, yb - 0.12, _rgb(0.85, 0.85, 0.8))
            near(sm - 0.35, sm + 0.35, yb - 0.32, yb - 0.14, dark)
        else:
            for a, b in ((s0 + 0.05, s0 + 0.35), (s1 - 0.35, s1 - 0.05)):
                near(a, b, yb - 0.28, yb - 0.08, _rgb(0.75, 0.06, 0.05))
        near(sm - 0.26, sm + 0.26, y0 + 0.2, y0 + 0.31, _rgb(0.9, 0.9, 0.86))  # plate
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
            stroke.poly(ctx.proj(on_side(s_cap, stripe)), _vary(rng, _pick(rng, BUS_PAINTS), 0.1) * side_shade)
        near(s0 + 0.12, s1 - 0.12, 1.1 if near_is_front else 1.7, 2.65, glass * (0.7 + 0.3 * lit))
        if near_is_front:
            near(s0 + 0.25, s1 - 0.25, 2.75, 3.0, _rgb(0.05, 0.05, 0.05))
            near(s0 + 0.4, s0 + 1.2, 2.82, 2.93, _rgb(1.0, 0.6, 0.1))
        for a, b in ((s0 + 0.1, s0 + 0.4), (s1 - 0.4, s1 - 0.1)):
            near(a, b, 0.5, 0.8, _rgb(0.85, 0.85, 0.8) if near_is_front else _rgb(0.75, 0.06, 0.05))
        near(s0, s1, y0, y0 + 0.2, dark)
        label = BUS
    else:  # truck: cab and cargo box
        cargo_col = _vary(rng, _pick(rng, CARGO_PAINTS), 0.08)
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
                near(a, b, 0.75, 0.95, _rgb(0.85, 0.85, 0.8))
        else:
            near((s0 + s1) / 2 - 0.02, (s0 + s1) / 2 + 0.02, 1.1, h_cargo - 0.1, cargo_col * lit * 0.6)
            near(s0 + 0.1, s1 - 0.1, 0.45, 0.6, dark)
            for a, b in ((s0 + 0.1, s0 + 0.35), (s1 - 0.35, s1 - 0.1)):
                near(a, b, 0.65, 0.85, _rgb(0.75, 0.06, 0.05))
        label = TRUCK
    ctx.cv.paint(stroke, label, (0.02, 0.015, 0.02), depth=z0)
    return s0, s1, z0, z1


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
    colours = {"top": _clothes(rng), "bottom": _clothes(rng) * 0.8,
               "shoes": _rgb(0.08, 0.07, 0.07) * rng.uniform(0.5, 3), "skin": _skin(rng),
               "hair": _vary(rng, _pick(rng, HAIR)), "bag": _clothes(rng)}
    stroke = Stroke()
    for pts, part in person_parts(rng, height):
        stroke.poly(ctx.cam.project(flat(pts, s, z)), colours[part] * lit)
    ctx.cv.paint(stroke, PERSON, (0.04, 0.04, 0.02), depth=z)


BIKE_R, BIKE_WB = 0.34, 1.05


def draw_bicycle(ctx: Ctx, s: float, z: float, yaw: float, frame: Rgb) -> None:
    """A bicycle in the vertical plane through ``(s, z)`` heading ``yaw`` (0 crossing right, π/2 away)."""
    cam = ctx.cam
    lit = ctx.shade(FACING, s, z)
    tyre, col = _rgb(0.05, 0.05, 0.05) * lit, frame * lit
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
    draw_bicycle(ctx, s, z, yaw, _vary(rng, _pick(rng, METALS + CAR_PAINTS), 0.1))
    lit = ctx.shade(FACING, s, z)
    top, bottom, skin = _clothes(rng) * lit, _clothes(rng) * 0.8 * lit, _skin(rng) * lit
    helmet = _vary(rng, _pick(rng, HELMETS)) * lit if rng.random() < 0.6 else None
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


# ----------------------------------------------------------------------------------------------
# Populating the street
# ----------------------------------------------------------------------------------------------

Item = tuple[float, Callable[[], None]]


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
    fence_colour = _vary(rng, _pick(rng, METALS + [(0.55, 0.42, 0.3), (0.85, 0.85, 0.82)]), 0.1)
    fence_style = (fence_kind, fence_colour, rng.uniform(0.9, 1.8))

    def put(layer: list[Item], e: float, z: float, fn: Callable[..., None], *args: object) -> None:
        layer.append((math.hypot(e, max(z, 0.0)), functools.partial(fn, ctx, *args)))

    def scatter(side: Side, lot: Lot, n: int, e_lo: float, e_hi: float, fn: Callable[..., None],
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
                far = Lot(lot.z0 + 1, z1 - 1, "building", height=rng.uniform(6, 25), facade=_facade(rng, side.style))
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

    def add(z: float, fn: Callable[..., None], *args: object) -> None:
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
            colour = _vary(rng, _pick(rng, CAR_PAINTS if kind == "car" else BUS_PAINTS), 0.1)
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
                add(z, draw_vehicle, "car", s, z, sign, _vary(rng, _pick(rng, CAR_PAINTS), 0.1))
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
            add(z, draw_bicycle, side.sign * e, z, yaw, _vary(rng, _pick(rng, METALS + CAR_PAINTS)))

    # lamp posts, kerb trees, sign poles, traffic lights
    pole_col = _vary(rng, _pick(rng, METALS), 0.1)
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
            style = (str(rng.choice(["railing", "mesh"])), _vary(rng, _pick(rng, METALS), 0.1), rng.uniform(0.9, 1.2))
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


# ----------------------------------------------------------------------------------------------
# Camera effects and the scene
# ----------------------------------------------------------------------------------------------


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


def render_scene(rng: np.random.Generator, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One street scene: ``(image (H, W, 3) uint8 RGB, label_ids (H, W) uint8, instance_ids (H, W) uint16)``."""
    cam = make_camera(rng, width, height)
    light = make_lighting(rng)
    street = build_street(rng)
    cv = Canvas(width, height, light, rng)
    ctx = Ctx(cv, cam, light, street, rng)
    render_sky(cv, cam, rng)
    render_ground(cv, cam, street, rng)
    draw_skyline(ctx)
    back, mid = populate_lots(ctx)
    front = populate_street(ctx)
    for layer in (back, mid, front):
        for _, draw in sorted(layer, key=lambda item: -item[0]):
            draw()
    return apply_camera(cv.image, rng), cv.label.copy(), cv.instance_ids()


def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of image ``index`` of ``split``: independent of how many images are rendered."""
    return np.random.default_rng([seed, SPLIT_KEYS[split], index])


def sample_name(split: str, index: int, cities: int) -> tuple[str, str]:
    """City and Cityscapes-style id ``<city>_<seq:06d>_<frame:06d>`` of image ``index``."""
    city = CITY_NAMES[split][index % cities]
    return city, f"{city}_{index // cities:06d}_{FRAME:06d}"


#: Scenes per render worker: a worker's start (about a second of imports) pays off only over this many.
SCENES_PER_WORKER = 16


def render_sample(task: tuple[int, str, int, int, int, int]) -> RawSample:
    """Scene ``index`` of ``split`` for ``(seed, split, index, cities, width, height)``: a picklable unit of work."""
    seed, split, i, cities, width, height = task
    city, sample_id = sample_name(split, i, cities)
    image, label_ids, instance_ids = render_scene(scene_rng(seed, split, i), width, height)
    return RawSample(split, city, sample_id, image, label_ids, f"synthetic {split} #{i} (seed {seed})",
                     instance_ids, "rendered")


def samples(params: Params, cache_dir: Path, workers: int | None = None) -> Counted:
    """Render ``data.synthetic.train`` then ``val`` scenes (``cache_dir`` is unused: nothing to fetch).

    Scenes render on ``workers`` processes (default: one per :data:`SCENES_PER_WORKER` scenes, at most one per
    CPU) and come back in order; each has its own generator (:func:`scene_rng`), so the samples do not depend on
    ``workers``.
    """
    cfg = params.data.synthetic
    tasks = [(params.seed, split, i, cfg.cities, cfg.width, cfg.height)
             for split, count in (("train", cfg.train), ("val", cfg.val)) for i in range(count)]
    if workers is None:
        workers = min(cpu_count(), len(tasks) // SCENES_PER_WORKER)
    return Counted(len(tasks), ordered_map(render_sample, tasks, workers))


def render_sample_figure(path: str | Path, seed: int = 0, split: str = "val", index: int = 0,
                         width: int = 384, height: int = 192) -> Path:
    """Write one rendered image beside its labels in the Cityscapes palette (for the README)."""
    image, label_ids, _ = render_scene(scene_rng(seed, split, index), width, height)
    gap = np.full((height, 4, 3), 255, np.uint8)
    figure = np.concatenate([image, gap, colorize(to_train_ids(label_ids))], axis=1)
    write_png(path, figure)
    return Path(path)
