"""The summary as typed objects: what ``metrics/summary.json`` holds (docs/summary-schema.md describes the file).

The summarize stage builds a :class:`Summary` once and writes it (:meth:`Summary.to_json`); the plots stage reads
it back (:meth:`Summary.from_json`) and the figures and the report ask it for variants and comparisons by method
objects (:meth:`Summary.variant`, :meth:`Summary.comparison`), never by formatting or parsing variant names: a
variant is a :class:`VariantKey` (a registered :class:`~srseg.methods.base.Method` and a scale), and every entry
of the file names its variants' methods and scales explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from srseg.errors import SrsegError
from srseg.methods import registry as methods
from srseg.methods.base import Method

#: The version of summary.json's layout (:meth:`Summary.to_json`); bumped when a key changes meaning or goes.
SCHEMA_VERSION = 2

#: The per-metric entries a comparison can have (docs/summary-schema.md).
COMPARISON_METRICS = ("pacc", "miou", "psnr_y", "objects", "class_psnr")


@dataclass(frozen=True, eq=False)
class VariantKey:
    """One evaluated variant: a method at a scale (``None`` for a scale-free method, the HR reference)."""

    method: Method
    scale: int | None

    @classmethod
    def of(cls, method: Method, scale: int | None = None) -> VariantKey:
        """The variant of ``method`` at ``scale``; a scale-free method (HR) ignores the scale."""
        return cls(method, None if method.scales is None else scale)

    @property
    def name(self) -> str:
        """Its name in file names and in summary.json (``sr_x4``, ``hr``)."""
        return self.method.variant(self.scale)

    @property
    def label(self) -> str:
        return self.method.label_at(self.scale)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VariantKey) and (self.method.name, self.scale) == (other.method.name, other.scale)

    def __hash__(self) -> int:
        return hash((self.method.name, self.scale))

    def __repr__(self) -> str:
        return f"VariantKey({self.name})"


def image_source(method: Method) -> Method | None:
    """The registered method whose images ``method``'s segmenter sees when it has none of its own (the retrained
    PSPNets see SR's or bicubic's images; a method with ``images_of`` another method's); None otherwise."""
    return methods.METHODS.get(method.images_of or method.images)


def short_label(method: Method) -> str:
    """The first word of a method's label, for narrow column titles (``HR``, ``bicubic``, ``SR``)."""
    return method.label.split(" ", 1)[0]


@dataclass(frozen=True)
class VariantResult:
    """A variant's summary entry: ``key`` (its method and scale) and ``values``, the rest of the entry as written
    (label, scores with intervals, image quality, object recall); ``result["pacc"]`` reads a value."""

    key: VariantKey
    values: Mapping[str, Any]

    @property
    def method(self) -> Method:
        return self.key.method

    @property
    def scale(self) -> int | None:
        return self.key.scale

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def label(self) -> str:
        return self.values["label"]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method.name, "scale": self.scale, **self.values}


@dataclass(frozen=True)
class Comparison:
    """Variant ``b`` against variant ``a`` (B − A) on the same val images, over the training ``seeds``.

    ``metrics``: the per-metric entries, each None where undefined: ``pacc`` and ``miou`` always; ``psnr_y`` when
    both sides have scored images; ``objects`` with instance ground truth; ``class_psnr`` with class-region records
    on both sides (docs/summary-schema.md gives their fields). ``comparison["pacc"]`` reads one.
    """

    b: VariantKey
    a: VariantKey
    seeds: tuple[int, ...]
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def scale(self) -> int | None:
        """The scale both sides run at (the HR reference, on side A, has none)."""
        return self.b.scale

    @property
    def key(self) -> str:
        """Its key in summary.json's ``comparisons`` (``sr_x4-vs-bicubic_x4``)."""
        return f"{self.b.name}-vs-{self.a.name}"

    @property
    def pacc(self) -> dict[str, Any] | None:
        return self.metrics.get("pacc")

    @property
    def miou(self) -> dict[str, Any] | None:
        return self.metrics.get("miou")

    @property
    def psnr_y(self) -> dict[str, Any] | None:
        return self.metrics.get("psnr_y")

    @property
    def objects(self) -> dict[str, Any] | None:
        return self.metrics.get("objects")

    @property
    def class_psnr(self) -> dict[str, Any] | None:
        return self.metrics.get("class_psnr")

    def __getitem__(self, metric: str) -> Any:
        return self.metrics[metric]

    def get(self, metric: str, default: Any = None) -> Any:
        return self.metrics.get(metric, default)

    def against_baseline(self) -> bool:
        """Whether ``a`` is ``b``'s registered baseline at its scale (and not the HR reference)."""
        base = self.b.method.baseline
        return base is not None and self.a.method is not methods.HR and self.a == VariantKey.of(methods.get(base),
                                                                                                   self.scale)

    def to_json(self) -> dict[str, Any]:
        return {"b": self.b.name, "a": self.a.name, "b_method": self.b.method.name, "a_method": self.a.method.name,
                "scale": self.scale, **self.metrics}


def registry_order(key: VariantKey) -> tuple[int, int]:
    """Sort key of the tables and figures: registry order, then scale."""
    rank = list(methods.METHODS).index(key.method.name) if key.method.name in methods.METHODS else len(
        methods.METHODS)
    return rank, key.scale or 0


@dataclass(frozen=True)
class Summary:
    """Everything the summarize stage concludes: its settings, every variant (registry order, then scale), every
    comparison (in the order written) and the combined score per combination scale (``combined[scale]``: its
    ranked ``rows`` and the ``margin`` of the first over the second)."""

    settings: Mapping[str, Any]
    variants: tuple[VariantResult, ...]
    comparisons: tuple[Comparison, ...]
    combined: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    convergence: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "variants", tuple(sorted(self.variants, key=lambda v: registry_order(v.key))))

    @cached_property
    def _variants(self) -> dict[VariantKey, VariantResult]:
        return {v.key: v for v in self.variants}

    @cached_property
    def _names(self) -> dict[str, VariantResult]:
        return {v.name: v for v in self.variants}

    @cached_property
    def _comparisons(self) -> dict[tuple[VariantKey, VariantKey], Comparison]:
        return {(c.b, c.a): c for c in self.comparisons}

    @property
    def seeds(self) -> list[int]:
        return list(self.settings["seeds"])

    # --- lookups ------------------------------------------------------------------------------------------------

    def find_variant(self, method: Method, scale: int | None = None) -> VariantResult | None:
        """The entry of ``method`` at ``scale`` (HR: no scale), or None."""
        return self._variants.get(VariantKey.of(method, scale))

    def variant(self, method: Method, scale: int | None = None) -> VariantResult:
        """The entry of ``method`` at ``scale`` (HR: no scale); SrsegError when the summary lacks it."""
        found = self.find_variant(method, scale)
        if found is None:
            raise SrsegError(f"summary: no entry {VariantKey.of(method, scale).name} (re-run the summarize stage)")
        return found

    def named(self, name: str) -> VariantResult:
        """The entry of the variant called ``name`` where an entry (a series row, a ranking) refers to it by name."""
        try:
            return self._names[name]
        except KeyError:
            raise SrsegError(f"summary: no entry {name} (re-run the summarize stage)") from None

    def label(self, variant: VariantKey | str) -> str:
        """A variant's label (its name when the summary lacks it)."""
        name = variant.name if isinstance(variant, VariantKey) else variant
        return self._names[name].label if name in self._names else name

    def find_comparison(self, b: Method, a: Method, scale: int | None = None) -> Comparison | None:
        """``b`` against ``a``, both at ``scale`` (the HR reference at none), or None when not compared."""
        return self._comparisons.get((VariantKey.of(b, scale), VariantKey.of(a, scale)))

    def comparison(self, b: Method, a: Method, scale: int | None = None) -> Comparison:
        """``b`` against ``a`` at ``scale``; SrsegError when the summary lacks it."""
        found = self.find_comparison(b, a, scale)
        if found is None:
            raise SrsegError(f"summary: no comparison of {VariantKey.of(b, scale).name} against "
                             f"{VariantKey.of(a, scale).name} (re-run the summarize stage)")
        return found

    def against_baselines(self) -> Iterator[Comparison]:
        """Every method against its registered baseline at its scale (not the comparisons against HR, nor the
        controls), in the order written."""
        return (c for c in self.comparisons if c.against_baseline())

    # --- summary.json ---------------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The summary.json object (docs/summary-schema.md)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "settings": dict(self.settings),
            "variants": {v.name: v.to_json() for v in self.variants},
            "comparisons": {c.key: c.to_json() for c in self.comparisons},
            "combined": {f"x{s}": {"scale": s, **entry} for s, entry in self.combined.items()},
            "convergence": [dict(c) for c in self.convergence],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "summary") -> Summary:
        """The summary of a summary.json object; SrsegError naming ``source`` for another schema version or an
        entry that does not fit."""
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise SrsegError(f"{source}: schema_version {version!r}, expected {SCHEMA_VERSION} (re-run the summarize "
                             "stage)")
        try:
            seeds = tuple(data["settings"]["seeds"])
            variants = {}
            for name, e in data["variants"].items():
                key = VariantKey(methods.get(e["method"]), e["scale"])
                if key.name != name:
                    raise SrsegError(f"{source}: variants.{name}: method {e['method']} at scale {e['scale']} is "
                                     f"{key.name}")
                variants[name] = VariantResult(key, {k: x for k, x in e.items() if k not in ("method", "scale")})
            comparisons = []
            for name, e in data["comparisons"].items():
                b, a = variants[e["b"]].key, variants[e["a"]].key
                if (e["b_method"], e["a_method"], e["scale"]) != (b.method.name, a.method.name, b.scale):
                    raise SrsegError(f"{source}: comparisons.{name}: b_method, a_method and scale disagree with the "
                                     "variants b and a")
                comparisons.append(Comparison(b, a, seeds, {k: x for k, x in e.items() if k in COMPARISON_METRICS}))
            combined = {e["scale"]: {k: x for k, x in e.items() if k != "scale"} for e in data["combined"].values()}
            # summaries written before the convergence check (early schema 2, e.g. docs/camvid-sequence) lack it
            convergence = tuple(data.get("convergence", ()))
        except KeyError as exc:
            raise SrsegError(f"{source}: missing key {exc.args[0]} (re-run the summarize stage)") from None
        return cls(data["settings"], tuple(variants.values()), tuple(comparisons), combined, convergence)
