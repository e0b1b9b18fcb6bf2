"""The label ids a scene paints and the canvas they are painted on: image, label map and object map together."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from srseg.instances import HAS_INSTANCES, number_objects
from srseg.labels import label_id
from srseg.sources.synthetic.colours import Rgb, rgb
from srseg.sources.synthetic.light import Lighting

ROAD, SIDEWALK, BUILDING, FENCE, POLE = (label_id(n) for n in ("road", "sidewalk", "building", "fence", "pole"))
LIGHT, SIGN, VEGETATION, TERRAIN, SKY = (
    label_id(n) for n in ("traffic light", "traffic sign", "vegetation", "terrain", "sky")
)
PERSON, RIDER, CAR, TRUCK, BUS, BICYCLE = (
    label_id(n) for n in ("person", "rider", "car", "truck", "bus", "bicycle")
)
GROUND_IDS = (ROAD, SIDEWALK, TERRAIN)


def normalise(a: np.ndarray) -> np.ndarray:
    return ((a - a.mean()) / (a.std() + 1e-6)).astype(np.float32)


def value_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth noise with features about ``cell`` pixels wide (zero mean, unit std)."""
    gh, gw = max(2, round(h / cell) + 1), max(2, round(w / cell) + 1)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    return normalise(np.asarray(Image.fromarray(grid).resize((w, h), Image.Resampling.BICUBIC)))


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
        self.grain = normalise(ndimage.gaussian_filter(white, 0.5 * k))
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
        stroke.poly(pts, rgb(0, 0, 0))
        raster = self._raster(stroke)
        if raster is None:
            return
        idx, x0, y0 = raster
        h, w = idx.shape
        lab = self.label[y0:y0 + h, x0:x0 + w]
        mask = (idx > 0) & np.isin(lab, GROUND_IDS)
        self.image[y0:y0 + h, x0:x0 + w][mask] *= factor
