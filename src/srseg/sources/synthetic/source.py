"""The source: scene ``index`` of a split rendered from its own generator, the splits rendered in order on
worker processes, and a sample figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from srseg.io import write_png
from srseg.labels import colorize, to_train_ids
from srseg.parallel import cpu_count, ordered_map
from srseg.params import Params
from srseg.sources import Counted, RawSample
from srseg.sources.synthetic.backdrop import render_ground, render_sky
from srseg.sources.synthetic.buildings import draw_skyline
from srseg.sources.synthetic.camera import apply_camera, make_camera
from srseg.sources.synthetic.canvas import Canvas
from srseg.sources.synthetic.geometry import Ctx
from srseg.sources.synthetic.light import make_lighting
from srseg.sources.synthetic.populate import populate_lots, populate_street
from srseg.sources.synthetic.street import build_street

#: Invented city names; train and val use disjoint cities, as in Cityscapes.
CITY_NAMES = {
    "train": ["aldmoor", "brackwick", "corvale", "dunhollow", "elmsgate", "farrowby", "glenmarsh", "hathercombe"],
    "val": ["ivelport", "jarrowden", "kestrelby", "lowenbrook", "marrowfield", "norhaven", "osterlyn", "pellingford"],
}
SPLIT_KEYS = {"train": 0, "val": 1, "test": 2}
FRAME = 19  # Cityscapes' annotated frame number


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
