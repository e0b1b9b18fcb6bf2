"""The degradation sweep's control: the blur augmentation of the training crops (srseg.seg.data.Blur) agrees with the
sweep's Pillow degradation, is deterministic per seed, leaves the other augmentation draws alone, and is what the
blur-augmented PSPNet (srseg.methods.blur_aug) trains with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srseg.degrade import down_up
from srseg.errors import SrsegError
from srseg.metrics.sr import psnr
from srseg.params import validate
from srseg.paths import Paths
from tests.seg.test_pipeline import TINY_SEG, _make_tree


@pytest.mark.parametrize("factor", [2, 2.5, 3, 3.5, 4])
def test_blur_crop_is_the_sweeps_bicubic_down_up(factor: float) -> None:
    """TensorFlow's antialiased bicubic (Keys, a = −0.5) against Pillow's: a few grey levels apart at most."""
    import tensorflow as tf

    from srseg.seg.data import Blur, blur_crop

    small = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    crop = np.asarray(Image.fromarray(small).resize((160, 160), Image.Resampling.BICUBIC))
    got = blur_crop(tf.constant(crop, tf.float32), tf.constant([0, 1], tf.int64), Blur(factor, factor, 0.0)).numpy()
    want = down_up(crop, factor)
    assert got.shape == crop.shape and np.array_equal(got, np.round(got))
    assert psnr(got, want) > 45 and np.abs(got - want).max() <= 12
    assert psnr(got, crop) < psnr(got, want) - 10  # degraded like the sweep's images, not left sharp


def _stream(pairs, seed: int, blur, n: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    from srseg.seg.data import train_dataset

    ds = train_dataset(pairs, batch=2, crop=20, scale_min=0.8, scale_max=1.2, seed=seed, blur=blur)
    return [(x.numpy(), y.numpy()) for _, (x, y) in zip(range(n), ds, strict=False)]


def test_blur_in_the_training_stream_is_deterministic_per_seed(tmp_path: Path) -> None:
    from srseg.seg.data import Blur, split_pairs

    raw = _make_tree(tmp_path, n_train=3)
    pairs = split_pairs(raw, raw, "train")
    blur = Blur(2.0, 4.0, 0.0)
    plain, a, b = _stream(pairs, 1, None), _stream(pairs, 1, blur), _stream(pairs, 1, blur)
    for (xa, ya), (xb, _), (xp, yp) in zip(a, b, plain, strict=True):
        np.testing.assert_array_equal(xa, xb)  # the same seed, the same blurred crops
        np.testing.assert_array_equal(ya, yp)  # the blur draws leave crop, mirror and labels as in the plain stream
        assert not np.array_equal(xa, xp)  # every crop blurred (identity 0)
    other = _stream(pairs, 2, blur)
    assert any(not np.array_equal(x1, x2) for (x1, _), (x2, _) in zip(a, other, strict=True))
    sharp = _stream(pairs, 1, Blur(2.0, 4.0, 1.0))  # identity 1: every crop left sharp
    for (xs, _), (xp, _) in zip(sharp, plain, strict=True):
        np.testing.assert_array_equal(xs, xp)
    some = _stream(pairs, 1, Blur(2.0, 4.0, 0.5), n=8)
    plain8 = _stream(pairs, 1, None, n=8)
    kept = [np.array_equal(xs[i], xp[i]) for (xs, _), (xp, _) in zip(some, plain8, strict=True) for i in range(2)]
    assert any(kept) and not all(kept)  # about half of the crops left sharp


@pytest.mark.slow
def test_the_blur_augmented_pspnet_trains_with_the_blur(study: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """``train_blur_aug@0``: seg.retrain's fine-tune of the HR model, every train crop through the sweep's blur,
    for cliff.blur.epochs epochs; its record says so."""
    import srseg.seg.train as seg_train
    from srseg.io import model_metadata
    from srseg.methods import registry
    from srseg.seg.data import Blur

    seen = []

    def recording(*args, **kwargs):
        seen.append(kwargs.get("blur"))
        return train_dataset(*args, **kwargs)

    train_dataset = seg_train.train_dataset
    monkeypatch.setattr(seg_train, "train_dataset", recording)
    params = validate({"scales": [2], "seg": {"retrain_scales": [2], "train": TINY_SEG, "retrain": {"epochs": 3}},
                       "combine": {"scales": [2]}, "cliff": {"factors": [2, 3.5], "blur": {"identity": 0.25}}})
    with pytest.raises(SrsegError, match="method blur_aug: takes no scale"):
        registry.train(params, "blur_aug", 2, 0, study)
    history = registry.train(params, "blur_aug", None, 0, study)
    assert seen == [Blur(2.0, 3.5, 0.25)] and len(history.epochs) == 1  # cliff.blur.epochs, not seg.retrain's 3
    m = registry.get("blur_aug")
    record = model_metadata(m.model_path(study, None, 0))
    assert m.model_path(study, None, 0) == study.seg_model("blur_aug", 0)
    assert record["params_keys"] == list(m.train.model_params) and record["stage"] == "train_blur_aug"
    assert record["trained_on"].startswith("HR (each crop bicubic down and up by a random factor in [2, 3.5], "
                                           "25% left sharp) train images")
    assert record["trained_on"].endswith(", fine-tuned from seed0/hr.keras")
