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

Modules, bottom up: :mod:`.colours` (palettes), :mod:`.camera` (projection and sensor effects), :mod:`.light`,
:mod:`.canvas` (label ids; image, label and object maps painted together), :mod:`.street` (the layout),
:mod:`.backdrop` (sky and ground), :mod:`.geometry` (the draw context and shapes), the objects (:mod:`.buildings`,
:mod:`.vegetation`, :mod:`.furniture`, :mod:`.vehicles`, :mod:`.people`), :mod:`.populate` (where they go) and
:mod:`.source` (the scene, the source's :func:`samples` and the README figure). Their public names are importable
from here.
"""

from __future__ import annotations

from srseg.sources.synthetic.backdrop import (
    GroundPixels,
    WorldNoise,
    band_coverage,
    classify_ground,
    render_ground,
    render_sky,
    stripe_coverage,
)
from srseg.sources.synthetic.buildings import draw_building, draw_skyline
from srseg.sources.synthetic.camera import Z_NEAR, Camera, apply_camera, make_camera
from srseg.sources.synthetic.canvas import (
    BICYCLE,
    BUILDING,
    BUS,
    CAR,
    FENCE,
    GROUND_IDS,
    LIGHT,
    PERSON,
    POLE,
    RIDER,
    ROAD,
    SIDEWALK,
    SIGN,
    SKY,
    TERRAIN,
    TRUCK,
    VEGETATION,
    Canvas,
    Stroke,
    value_noise,
)
from srseg.sources.synthetic.colours import (
    BUS_PAINTS,
    CAR_PAINTS,
    CARGO_PAINTS,
    HAIR,
    HELMETS,
    METALS,
    PAVINGS,
    ROOFS,
    WALLS,
    Rgb,
)
from srseg.sources.synthetic.furniture import draw_fence, draw_pole, draw_sign, draw_traffic_light
from srseg.sources.synthetic.geometry import Ctx, box_profile, ellipse, flat, inset, limb, on_side, prism_faces, rect
from srseg.sources.synthetic.light import FACING, UP, Lighting, make_lighting
from srseg.sources.synthetic.people import BIKE_R, BIKE_WB, draw_bicycle, draw_person, draw_rider, person_parts
from srseg.sources.synthetic.populate import Item, populate_lots, populate_street
from srseg.sources.synthetic.source import (
    CITY_NAMES,
    FRAME,
    SCENES_PER_WORKER,
    SPLIT_KEYS,
    render_sample,
    render_sample_figure,
    render_scene,
    sample_name,
    samples,
    scene_rng,
)
from srseg.sources.synthetic.street import Facade, Lot, Marking, Side, Street, build_street, in_shadow
from srseg.sources.synthetic.vegetation import draw_bush, draw_hedge, draw_tree
from srseg.sources.synthetic.vehicles import draw_vehicle

__all__ = [
    "Rgb", "WALLS", "CAR_PAINTS", "CARGO_PAINTS", "BUS_PAINTS", "PAVINGS", "ROOFS", "METALS", "HAIR", "HELMETS",
    "Z_NEAR", "Camera", "make_camera", "apply_camera", "Lighting", "FACING", "UP", "make_lighting", "ROAD", "SIDEWALK",
    "BUILDING", "FENCE", "POLE", "LIGHT", "SIGN", "VEGETATION", "TERRAIN", "SKY", "PERSON", "RIDER", "CAR", "TRUCK",
    "BUS", "BICYCLE", "GROUND_IDS", "value_noise", "Stroke", "Canvas", "Facade", "Lot", "Side", "Marking", "Street",
    "build_street", "in_shadow", "stripe_coverage", "band_coverage", "WorldNoise", "render_sky", "GroundPixels",
    "classify_ground", "render_ground", "Ctx", "flat", "ellipse", "limb", "rect", "inset", "prism_faces", "on_side",
    "box_profile", "draw_skyline", "draw_building", "draw_tree", "draw_bush", "draw_hedge", "draw_fence", "draw_pole",
    "draw_sign", "draw_traffic_light", "draw_vehicle", "person_parts", "draw_person", "BIKE_R", "BIKE_WB",
    "draw_bicycle", "draw_rider", "Item", "populate_lots", "populate_street", "CITY_NAMES", "SPLIT_KEYS", "FRAME",
    "render_scene", "scene_rng", "sample_name", "SCENES_PER_WORKER", "render_sample", "samples", "render_sample_figure",
]
