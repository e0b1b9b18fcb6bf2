"""Bootstrap and across-seed statistics: constructed cases with known answers, a slow reference loop, files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from srseg.errors import ParamsError, SrsegError
from srseg.metrics.seg import scores
from srseg.results import blocks, stats
from srseg.results.stats import (
    across_seeds,
    bootstrap_interval,
    paired_bootstrap,
    seg_metrics,
)

C = 19


def random_cms(rng: np.random.Generator, n: int, absent: tuple[int, ...] = (16, 17)) -> np.ndarray:
    """(n, C, C+1) per-image matrices, mostly diagonal, with varying class mixes; ``absent`` classes never
    occur in ground truth or prediction (their IoU is NaN, as for Cityscapes' rare classes)."""
    cms = rng.integers(0, 40, (n, C, C + 1)) * (rng.random((n, C, C + 1)) < 0.3)
    cms[:, np.arange(C), np.arange(C)] += rng.integers(0, 3000, (n, C)) * (rng.random((n, C)) < 0.7)
    cms[:, list(absent), :] = 0
    cms[:, :, list(absent)] = 0
    return cms.astype(np.int64)


def equal_size_cms(rng: np.random.Generator, n: int, total: int, shape: tuple[int, ...] = ()) -> np.ndarray:
    """Matrices of exactly ``total`` labelled pixels each, with a widely varying share of errors, all of them
    on gt class 0 predicted as 1 (so there are errors left to correct)."""
    cms = np.zeros((*shape, n, C, C + 1), dtype=np.int64)
    errors = rng.integers(100, total // 2, (*shape, n))
    rest = total - errors
    share = rng.dirichlet(np.ones(C), size=(*shape, n))
    diag = np.floor(share * rest[..., None]).astype(np.int64)
    diag[..., 0] += rest - diag.sum(-1)
    cms[..., np.arange(C), np.arange(C)] = diag
    cms[..., 0, 1] += errors
    return cms


def correct(cms: np.ndarray, k: int) -> np.ndarray:
    """The same matrices with k of the class-0-as-1 errors of every image made correct."""
    out = cms.copy()
    out[..., 0, 1] -= k
    out[..., 0, 0] += k
    return out


def test_point_values_equal_scores_on_the_summed_matrices() -> None:
    rng = np.random.default_rng(0)
    a, b = random_cms(rng, 24), random_cms(rng, 24)
    res = paired_bootstrap(a, b, seg_metrics, 200, seed=1)
    sa, sb = scores(a.sum(0)), scores(b.sum(0))
    assert sa["iou"]["train"] is None  # the NaN rule is exercised
    for m in ("pacc", "miou"):
        assert res[m].a == sa[m] and res[m].b == sb[m]  # exactly, not approximately
        assert res[m].diff.point == sb[m] - sa[m]
        assert res[m].rel_pct.point == 100 * (sb[m] - sa[m]) / sa[m]
        assert bootstrap_interval(a, seg_metrics, 200, seed=1)[m].point == sa[m]


def test_identical_predictions_give_a_zero_interval() -> None:
    a = random_cms(np.random.default_rng(1), 30)
    res = paired_bootstrap(a, a.copy(), seg_metrics, 500, seed=0)
    for m in ("pacc", "miou"):
        for d in (res[m].diff, res[m].rel_pct):
            assert (d.point, d.low, d.high, d.p_opposite) == (0.0, 0.0, 0.0, 0.0)
        assert res[m].resamples == 500


def test_constant_shift_gives_a_narrow_interval_at_the_known_difference() -> None:
    rng = np.random.default_rng(2)
    total, k = 10_000, 37
    a = equal_size_cms(rng, 40, total)
    b = correct(a, k)
    res = paired_bootstrap(a, b, seg_metrics, 1000, seed=3)
    p = res["pacc"]
    # every resample has 40·total labelled pixels and B has 40·k more correct ones
    assert p.diff.point == pytest.approx(k / total, rel=1e-12)
    assert p.diff.low == pytest.approx(k / total, rel=1e-9) and p.diff.high == pytest.approx(k / total, rel=1e-9)
    assert p.diff.p_opposite == 0.0
    assert p.rel_pct.point == pytest.approx(100 * (k / total) / p.a, rel=1e-12)
    # A's PACC itself varies a lot between resamples: the pairing is what makes the difference narrow
    single = bootstrap_interval(a, seg_metrics, 1000, seed=3)["pacc"]
    assert single.high - single.low > 1000 * (p.diff.high - p.diff.low)
    mi = res["miou"]
    assert 0 < mi.diff.low <= mi.diff.point <= mi.diff.high and mi.diff.p_opposite == 0.0


def test_varying_case_interval_contains_the_point() -> None:
    rng = np.random.default_rng(4)
    a, b = random_cms(rng, 24), random_cms(rng, 24)
    res = paired_bootstrap(a, b, seg_metrics, 2000, seed=5)
    for m in ("pacc", "miou"):
        for d in (res[m].diff, res[m].rel_pct):
            assert d.low < d.point < d.high
            assert 0 <= d.p_opposite <= 1
        single = bootstrap_interval(b, seg_metrics, 2000, seed=5)[m]
        assert single.low < single.point < single.high and single.point == res[m].b
    json.dumps({m: res[m].as_dict() for m in res})  # JSON-friendly


def test_same_seed_same_result_other_seed_other_resamples(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(6)
    a, b = random_cms(rng, 24), random_cms(rng, 24)
    first = {m: c.as_dict() for m, c in paired_bootstrap(a, b, seg_metrics, 300, seed=7).items()}
    assert first == {m: c.as_dict() for m, c in paired_bootstrap(a, b, seg_metrics, 300, seed=7).items()}
    other = {m: c.as_dict() for m, c in paired_bootstrap(a, b, seg_metrics, 300, seed=8).items()}
    assert other["pacc"]["diff"]["point"] == first["pacc"]["diff"]["point"]
    assert other["pacc"]["diff"]["low"] != first["pacc"]["diff"]["low"]
    monkeypatch.setattr(stats, "_CHUNK_DRAWS", 24 * 7)  # chunks of 7 resamples: same draws, same result
    assert first == {m: c.as_dict() for m, c in paired_bootstrap(a, b, seg_metrics, 300, seed=7).items()}


@pytest.mark.parametrize("resamples", [99, 0, -5, 150.0, True])
def test_too_few_or_non_integer_resamples_are_refused(resamples: object) -> None:
    a = random_cms(np.random.default_rng(0), 5)
    with pytest.raises(ParamsError, match="bootstrap resamples: .* not an integer ≥ 100"):
        paired_bootstrap(a, a, seg_metrics, resamples, seed=0)  # type: ignore[arg-type]
    with pytest.raises(ParamsError, match="bootstrap resamples"):
        bootstrap_interval(a, seg_metrics, resamples, seed=0)  # type: ignore[arg-type]


def test_bad_shapes_and_confidence_are_refused() -> None:
    a = random_cms(np.random.default_rng(0), 5)
    with pytest.raises(SrsegError, match="same images in the same order"):
        paired_bootstrap(a, a[:4], seg_metrics, 100, seed=0)
    with pytest.raises(ParamsError, match="confidence level"):
        paired_bootstrap(a, a, seg_metrics, 100, seed=0, confidence=1.0)
    with pytest.raises(SrsegError, match="images first"):
        bootstrap_interval(a[:0], seg_metrics, 100, seed=0)


def slow_paired(a: np.ndarray, b: np.ndarray, resamples: int, seed: int) -> dict[str, tuple[float, ...]]:
    """The obvious loop: one draw of N indices per resample, scores() of each side's summed matrices."""
    rng = np.random.default_rng(seed)
    n = a.shape[0]
    drawn = {m: ([], []) for m in ("pacc", "miou")}
    for _ in range(resamples):
        idx = rng.integers(0, n, size=n)
        sa, sb = scores(a[idx].sum(0)), scores(b[idx].sum(0))
        for m in drawn:
            drawn[m][0].append(sa[m])
            drawn[m][1].append(sb[m])
    out = {}
    for m, (av, bv) in drawn.items():
        d = np.array(bv) - np.array(av)
        point = scores(b.sum(0))[m] - scores(a.sum(0))[m]
        opposite = sum(1 for x in d if (x > 0) != (point > 0) or (x == 0) != (point == 0)) / resamples
        av_low, av_high = np.quantile(av, [0.025, 0.975])
        out[m] = (point, *np.quantile(d, [0.025, 0.975]), opposite, av_low, av_high)
    return out


def test_matches_a_slow_loop_with_the_same_draws() -> None:
    rng = np.random.default_rng(9)
    a = random_cms(rng, 7)
    b = a.copy()
    b[:, np.arange(C), np.arange(C)] += rng.integers(-20, 25, (7, C)).clip(0)  # mostly better, not always
    b[:, 3, 4] += rng.integers(0, 400, 7)
    fast = paired_bootstrap(a, b, seg_metrics, 200, seed=11)
    single = bootstrap_interval(a, seg_metrics, 200, seed=11)
    slow = slow_paired(a, b, 200, seed=11)
    for m in ("pacc", "miou"):
        d = fast[m].diff
        assert (d.point, d.low, d.high, d.p_opposite) == slow[m][:4]
        assert (single[m].low, single[m].high) == slow[m][4:]
    assert any(0 < fast[m].diff.p_opposite < 1 for m in fast)  # the case exercises the sign count


def test_seeds_keep_the_pairing() -> None:
    rng = np.random.default_rng(12)
    total, k, seeds, n = 10_000, 25, 3, 40
    a = equal_size_cms(rng, n, total, shape=(seeds,))  # per (seed, image) noise, large
    b = correct(a, k)  # which B shares with its own seed's A
    res = paired_bootstrap(a, b, seg_metrics, 1000, seed=13, by_seed=True)["pacc"]
    assert res.diff.low == pytest.approx(k / total, rel=1e-9) and res.diff.high == pytest.approx(k / total, rel=1e-9)
    # the construction is sensitive to pairing: with B's images out of step with A's, the noise does not cancel
    shuffled = np.stack([s[rng.permutation(n)] for s in b])
    broken = paired_bootstrap(a, shuffled, seg_metrics, 1000, seed=13, by_seed=True)["pacc"]
    assert res.diff.high - res.diff.low < 1e-12 < 0.01 < broken.diff.high - broken.diff.low
    assert broken.diff.low < k / total < broken.diff.high
    # seeds are paired too: seed k of B goes with seed k of A (the models they share)
    rotated = paired_bootstrap(a, b[[1, 2, 0]], seg_metrics, 1000, seed=13, by_seed=True)["pacc"]
    assert rotated.diff.point == res.diff.point and rotated.diff.high - rotated.diff.low > 1e-4


def test_copies_of_one_seed_add_no_information_about_images() -> None:
    rng = np.random.default_rng(14)
    a, b = random_cms(rng, 24), random_cms(rng, 24)
    one = paired_bootstrap(a, b, seg_metrics, 500, seed=15)
    four = paired_bootstrap(np.stack([a] * 4), np.stack([b] * 4), seg_metrics, 500, seed=15, by_seed=True)
    assert four == one  # images are resampled once for every seed: 4 identical seeds give the same interval
    # resampling (seed, image) pairs would treat the copies as 96 independent images and narrow the interval
    pairs = paired_bootstrap(np.concatenate([a] * 4), np.concatenate([b] * 4), seg_metrics, 500, seed=15)
    for m in ("pacc", "miou"):
        assert pairs[m].diff.high - pairs[m].diff.low < 0.7 * (one[m].diff.high - one[m].diff.low)


def test_the_seed_level_carries_training_noise() -> None:
    """Seeds that disagree widen the interval: a difference that one seed's models show and another's reverse is
    not excluded from zero by the images alone."""
    rng = np.random.default_rng(16)
    total, n = 10_000, 60
    base = equal_size_cms(rng, n, total, shape=(3,))
    a, b = base.copy(), base.copy()
    b[0], b[1] = correct(base[0], 60), correct(base[1], 5)  # seeds 0 and 1: B corrects some of A's errors
    a[2] = correct(base[2], 50)  # seed 2: B makes more errors than A; the seeds disagree in sign
    first = paired_bootstrap(a[:1], b[:1], seg_metrics, 1000, seed=17, by_seed=True)["pacc"]
    both = paired_bootstrap(a, b, seg_metrics, 1000, seed=17, by_seed=True)["pacc"]
    assert first.diff.low > 0  # seed 0 alone: a clear gain, images cannot shake it
    assert both.diff.low < 0 < both.diff.high  # over seeds: not a finding
    assert both.diff.p_value > 0.05 > first.diff.p_value


def recall(summed: np.ndarray) -> dict[str, np.ndarray]:
    """Object recall of class 0 from summed (tp, fn, fp) counts; NaN with no objects."""
    tp, fn = summed[:, 0, 0].astype(float), summed[:, 0, 1].astype(float)
    with np.errstate(invalid="ignore"):
        return {"recall": tp / (tp + fn)}


def test_object_counts_use_the_same_resampler() -> None:
    n, resamples = 10, 1000
    a = np.zeros((n, 2, 3), dtype=np.int64)  # (tp, fn, fp) of 2 classes; objects only in images 0 and 1
    a[0, 0] = (0, 4, 1)  # A misses all 4 objects of image 0 ...
    a[1, 0] = (2, 0, 0)  # ... and finds both of image 1
    b = a.copy()
    b[0, 0] = (4, 0, 1)  # B finds every object
    res = paired_bootstrap(a, b, recall, resamples, seed=17)["recall"]
    assert (res.a, res.b, res.diff.point) == (2 / 6, 1.0, 1 - 2 / 6)
    # the same draws, counted by hand: resamples without image 0 or 1 have no recall and are left out;
    # those with image 1 only have A = B = 1 (difference 0: counted against the positive point); those
    # with image 0 only have A = 0, so the relative gain is undefined
    counts = np.stack([np.bincount(r, minlength=n) for r in np.random.default_rng(17).integers(0, n, (resamples, n))])
    has0, has1 = counts[:, 0] > 0, counts[:, 1] > 0
    assert res.resamples == np.sum(has0 | has1) < resamples
    assert res.diff.p_opposite == np.sum(has1 & ~has0) / res.resamples > 0
    assert np.any(has0 & ~has1) and res.rel_pct is None
    assert res.diff.low == 0.0 and res.diff.high == 1.0
    single = bootstrap_interval(a, recall, resamples, seed=17)["recall"]
    assert single.resamples == res.resamples and (single.low, single.high) == (0.0, 1.0)
    none = np.zeros_like(a)
    assert paired_bootstrap(none, none, recall, 100, seed=0)["recall"] is None
    assert bootstrap_interval(none, recall, 100, seed=0)["recall"] is None


def test_relative_gain_is_none_when_a_scores_zero() -> None:
    a = np.zeros((5, C, C + 1), dtype=np.int64)
    a[:, 0, 1] = 100  # everything wrong: PACC 0
    res = paired_bootstrap(a, correct(a, 10), seg_metrics, 100, seed=0)
    assert res["pacc"].a == 0.0 and res["pacc"].rel_pct is None and res["pacc"].diff.point == pytest.approx(0.1)


def test_across_seeds() -> None:
    s = across_seeds([0.50, 0.52, 0.51])
    assert s.n == 3 and s.mean == pytest.approx(0.51) and s.std == pytest.approx(0.01)
    half = 4.302652729911275 * 0.01 / math.sqrt(3)  # t(0.975, 2 df), from tables
    assert (s.low, s.high) == pytest.approx((0.51 - half, 0.51 + half))
    one = across_seeds([0.5])
    assert one.as_dict() == {"n": 1, "mean": 0.5, "std": None, "low": None, "high": None}
    json.dumps(one.as_dict())
    for bad in ([], [0.5, math.nan]):
        with pytest.raises(SrsegError, match="one finite score per seed"):
            across_seeds(bad)


# --- blocks of correlated frames ------------------------------------------------------------------------


def mean_fn(sums: np.ndarray) -> dict[str, np.ndarray]:
    """The mean of per-image values from summed ``(value, 1)`` records."""
    return {"mean": sums[:, 0] / sums[:, 1]}


def ar1(rng: np.random.Generator, sizes: list[int], phi: float) -> np.ndarray:
    """Stationary AR(1) series, one per sequence, concatenated (unit innovations, mean 0)."""
    out = []
    for n in sizes:
        x = np.empty(n)
        x[0] = rng.standard_normal() / math.sqrt(1 - phi**2)
        for t in range(1, n):
            x[t] = phi * x[t - 1] + rng.standard_normal()
        out.append(x)
    return np.concatenate(out)


def test_blocks_are_consecutive_frames_of_one_sequence() -> None:
    design = blocks.Design.from_ids([f"s{g}_000000_{f:06d}" for g, size in enumerate([7, 12, 5])
                                    for f in range(size)], block=4)
    assert design.groups == (0,) * 7 + (1,) * 12 + (2,) * 5
    rng = np.random.default_rng(0)
    counts = blocks.image_counts(rng, 500, design)
    assert counts.shape == (500, 24) and np.all(counts.sum(1) == 24)  # every resample has N images
    # the draws, rebuilt: each start's block walks its own sequence and wraps to its first frame
    starts = np.random.default_rng(0).integers(0, 24, size=(500, 6))
    first, size = {0: 0, 1: 7, 2: 19}, {0: 7, 1: 12, 2: 5}
    for r in range(0, 500, 50):
        expect = np.zeros(24, int)
        for s in starts[r]:
            g = design.groups[s]
            for o in range(4):
                expect[first[g] + (s - first[g] + o) % size[g]] += 1
        # the last block is cut at N images: the expected counts exceed by the cut frames only
        assert np.all(counts[r] <= expect) and expect.sum() - counts[r].sum() == 0
    # block 1 is the ordinary bootstrap, draw for draw
    iid = blocks.image_counts(np.random.default_rng(3), 200, blocks.Design.iid(24))
    rows = np.random.default_rng(3).integers(0, 24, size=(200, 24))
    assert np.array_equal(iid, np.stack([np.bincount(r, minlength=24) for r in rows]))


def test_design_errors_are_one_line() -> None:
    with pytest.raises(ParamsError, match=r"stats.block: 9 is longer than the shortest val sequence \(5 images\)"):
        blocks.Design((0,) * 5 + (1,) * 10, block=9)
    with pytest.raises(ParamsError, match="stats.block"):
        blocks.Design((0,) * 5, block=0)
    with pytest.raises(SrsegError, match="must be sorted"):
        blocks.Design.from_ids(["b_1", "a_1"])
    with pytest.raises(SrsegError, match="design is for 5 images"):
        bootstrap_interval(np.ones((4, 2)), mean_fn, 100, 0, design=blocks.Design.iid(5))


def test_block_bootstrap_covers_the_mean_of_correlated_frames() -> None:
    """On AR(1) frames (φ = 0.7) the ordinary bootstrap's 95 % intervals miss the true mean far more often than
    5 %; blocks of the chosen length bring the coverage close to nominal (block bootstraps stay a little below it
    at this length of series)."""
    rng = np.random.default_rng(21)
    sizes, trials = [60, 60], 300
    design = blocks.Design(tuple([0] * 60 + [1] * 60))
    hits = {"iid": 0, "block": 0}
    chosen = []
    for t in range(trials):
        x = ar1(rng, sizes, 0.7)
        records = np.stack([x, np.ones_like(x)], axis=1)
        choice = blocks.choose_block({"x": x}, design)
        chosen.append(choice.block)
        for name, d in (("iid", design), ("block", blocks.Design(design.groups, choice.block))):
            iv = bootstrap_interval(records, mean_fn, 400, seed=t, design=d)["mean"]
            hits[name] += iv.low <= 0.0 <= iv.high
    coverage = {k: v / trials for k, v in hits.items()}
    assert coverage["iid"] < 0.80  # independent draws: intervals far too narrow
    assert coverage["block"] > 0.82 and coverage["block"] - coverage["iid"] > 0.2
    assert 3 <= np.median(chosen) <= 12


def test_choose_block_on_independent_and_correlated_frames() -> None:
    rng = np.random.default_rng(22)
    design = blocks.Design(tuple([0] * 100 + [1] * 100))
    iid = blocks.choose_block({"noise": rng.standard_normal(200)}, design)
    correlated = blocks.choose_block({"noise": rng.standard_normal(200), "ar": ar1(rng, [100, 100], 0.8)}, design)
    assert iid.block <= 3 and abs(iid.lag1["noise"]) < 0.2
    assert correlated.block >= 5 and correlated.lag1["ar"] > 0.6  # the most dependent series sets the block
    assert correlated.block == math.ceil(correlated.estimates["ar"])
    # constant or short series say nothing: block 1
    assert blocks.choose_block({"c": np.zeros(200)}, design).block == 1
    assert blocks.choose_block({"x": rng.standard_normal(10)}, blocks.Design(tuple([0] * 5 + [1] * 5))).block == 1


def test_holm() -> None:
    # Holm 1979: the i-th smallest p is multiplied by (m − i + 1), then made monotone
    assert stats.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert stats.holm([]) == []
    # the p-value: two-sided, normal approximation with the bootstrap standard error (no floor at 1/R)
    rng = np.random.default_rng(23)
    a = rng.normal(0, 1, (30, 1))
    b = a + rng.normal(0.5, 0.6, (30, 1))  # paired: B is A plus a gain of about 0.5 ± 0.6 / √30
    fn = lambda s: {"x": s[:, 0]}  # noqa: E731
    d = paired_bootstrap(np.concatenate([a, np.ones_like(a)], 1), np.concatenate([b, np.ones_like(b)], 1),
                         lambda s: {"x": s[:, 0] / s[:, 1]}, 2000, 0)["x"].diff
    sd = (d.high - d.low) / (2 * 1.96)  # about: the percentile interval of a near-normal bootstrap distribution
    assert d.p_value == pytest.approx(2 * (1 - 0.5 * (1 + math.erf(abs(d.point) / sd / math.sqrt(2)))), rel=0.25)
    assert d.p_value < 2 / 2001 and d.p_opposite == 0  # every resample positive, and still a p-value to adjust
    same = paired_bootstrap(np.ones((4, 2)), np.ones((4, 2)), fn, 100, 0)["x"].diff
    assert same.p_value == 1.0
