"""Feature-affinity loss and the combined criterion of the joint SR + segmentation model.

DSRL (Wang et al., "Dual Super-Resolution Learning for Semantic Segmentation", CVPR 2020) trains with

    L = L_ce + w_sr · L_mse + w_fa · L_fa                                     (DSRL §3.4)

* ``L_ce`` — the segmentation cross-entropy at HR size (here PSPNet's, plus its auxiliary loss);
* ``L_mse`` — the SISR branch's mean squared error against the HR image (:func:`sr_mse`);
* ``L_fa`` — the feature-affinity loss (§3.3, :func:`feature_affinity_loss`): with ``F_i`` the feature
  vector at position ``i`` of a map, its affinity matrix is ``S_ij = (F_i/‖F_i‖₂)ᵀ (F_j/‖F_j‖₂)`` and

      L_fa = 1/(W'H')² · Σ_ij ‖S^seg_ij − S^sr_ij‖_q ,   q = 1

  over the W'×H' positions of the maps reduced to a small grid — so the segmentation features learn the
  pairwise structure the SR features carry.

The criterion follows the project's convention ``(targets, outputs) → (loss, parts)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from srseg.errors import SrsegError
from srseg.models.pspnet import IMAGENET_STD, adaptive_average_pool
from srseg.training.losses import Criterion, global_mean, seg_loss

#: Default side of the grid both maps are pooled to: 16 × 16 = 256 positions (see feature_affinity_loss).
FA_GRID = 16
#: Floor of ‖F_i‖² in the normalisation (a zero vector stays zero instead of dividing by 0).
NORM_EPS = 1e-6


def _affinity(feat: tf.Tensor) -> tf.Tensor:
    """``(N, P, C)`` → ``(N, P, P)``: cosine similarity between every two positions (DSRL §3.3, S_ij)."""
    unit = tf.math.l2_normalize(feat, axis=-1, epsilon=NORM_EPS)
    return tf.matmul(unit, unit, transpose_b=True)


def feature_affinity_loss(feat_a: tf.Tensor, feat_b: tf.Tensor, grid: int | None = FA_GRID) -> tf.Tensor:
    """DSRL's feature-affinity loss (§3.3, q = 1) between two NHWC maps of one batch; float32 scalar.

    Reduction to a grid: with ``grid`` an int, each map is average-pooled to ``grid × grid`` cells by
    PyTorch's ``AdaptiveAvgPool2d`` rule (:func:`srseg.models.pspnet.adaptive_average_pool`, as in the
    pyramid pooling), whatever its size. DSRL subsamples its HR-size maps (by 8 in public
    re-implementations); a fixed grid keeps the ``(grid²)²`` affinity matrices the same size for every
    crop and compares a 1/8-LR segmentation map with an HR SR map cell for cell (16 ≈ a 160-px HR crop
    / 8). Pooling rather than strided subsampling: every pixel counts. With ``grid=None`` the maps are
    compared as they are and must have the same spatial size. The channel counts may differ: each
    affinity compares positions within one map.

    Normalisation: ``F_i / max(‖F_i‖₂, √NORM_EPS)``; the mean of ``|S^a_ij − S^b_ij|`` over the P² pairs
    is the paper's 1/(W'H')² · Σ, averaged over the batch. Symmetric in its arguments; 0 when one map is
    a positive multiple of the other; at most 2.
    """
    a = tf.cast(feat_a, tf.float32)
    b = tf.cast(feat_b, tf.float32)
    if grid is not None:
        if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 1:
            raise SrsegError(f"feature-affinity grid {grid!r}: must be an integer ≥ 1 or None")
        a = adaptive_average_pool(a, int(grid))
        b = adaptive_average_pool(b, int(grid))
    elif None not in a.shape[1:3] + b.shape[1:3] and a.shape[1:3] != b.shape[1:3]:
        raise SrsegError(f"feature-affinity loss without a grid: maps of {a.shape[1]}×{a.shape[2]} and "
                         f"{b.shape[1]}×{b.shape[2]} positions must have the same size (or pass grid)")

    def flat(x: tf.Tensor) -> tf.Tensor:
        shape = tf.shape(x)
        return tf.reshape(x, [shape[0], shape[1] * shape[2], shape[3]])

    per_sample = tf.reduce_mean(tf.abs(_affinity(flat(a)) - _affinity(flat(b))), axis=[1, 2])
    return global_mean(tf.reduce_sum(per_sample), tf.cast(tf.size(per_sample), tf.float32))


def sr_mse(sr: tf.Tensor, hr: tf.Tensor) -> tf.Tensor:
    """Mean squared error of an SR image against the HR image (both 0..255), per channel in ImageNet-std units.

    ``((sr − hr) / σ_c)²`` averaged: the MSE between the two images as the network's input normalisation
    sees them (the space DSRL-style code regresses the SISR target in). Scale matters for ``w_sr``: bicubic
    ×2/×3/×4 on the 367 CamVid train images (Pillow) errs by 174 / 262 / 329 on 0..255 (which would swamp
    the cross-entropy, ~0.5–3, for any weight near 1), 0.003–0.005 on 0..1, and 0.05 / 0.08 / 0.10 here —
    so with ``w_sr = 1`` an SR output of bicubic quality adds ~10 % to a segmenter's loss late in training:
    the SR term stays auxiliary, as in DSRL.
    """
    std = tf.constant(IMAGENET_STD, tf.float32)
    sq = tf.square((tf.cast(sr, tf.float32) - tf.cast(hr, tf.float32)) / std)
    return global_mean(tf.reduce_sum(sq), tf.cast(tf.size(sq), tf.float32))


def joint_terms(
    class_weights: np.ndarray | None = None,
    aux_weight: float = 0.4,
    w_sr: float = 1.0,
    w_fa: float = 1.0,
    fa_grid: int | None = FA_GRID,
) -> Callable[[Mapping[str, Any], Mapping[str, tf.Tensor]], tuple[dict[str, tf.Tensor], dict[str, tf.Tensor]]]:
    """``(targets, outputs) → (weighted, parts)``: DSRL's loss (§3.4) term by term, for
    :func:`srseg.models.joint.build_joint`'s outputs.

    ``targets = {"labels": (N, H, W) trainIds at HR (255 ignored), "hr": (N, H, W, 3) 0..255}``. ``weighted``: the
    terms as they enter the loss — ``ce`` = CE(seg) [+ aux_weight·CE(aux)], the CE being
    :func:`srseg.training.losses.seg_loss` with ``class_weights``, and for a model with an SR branch ``sr`` =
    w_sr·sr_mse(sr, hr) and ``fa`` = w_fa·FA(feat_seg, feat_sr), also at weight 0; ``parts``: every unweighted term
    (``loss_main``, ``loss_aux``, ``loss_sr``, ``loss_fa``) for logging. :func:`joint_criterion` sums them; the
    per-term gradient norms (:func:`srseg.methods.joint.gradient_norms`) differentiate each.
    """
    for key, value in (("aux_weight", aux_weight), ("w_sr", w_sr), ("w_fa", w_fa)):
        if not np.isfinite(value) or value < 0:
            raise SrsegError(f"joint criterion {key} {value!r}: must be a finite number ≥ 0")
    cw = None if class_weights is None else tf.constant(class_weights, tf.float32)

    def terms(targets: Mapping[str, Any], outputs: Mapping[str, tf.Tensor]):
        labels = targets["labels"]
        main = seg_loss(labels, outputs["seg"], cw)
        parts = {"loss_main": main}
        ce = main
        if "aux" in outputs and aux_weight > 0:
            parts["loss_aux"] = seg_loss(labels, outputs["aux"], cw)
            ce = ce + aux_weight * parts["loss_aux"]
        weighted = {"ce": ce}
        if "sr" in outputs:  # a model built without SR branch (sr=False): the CE-only models
            parts["loss_sr"] = sr_mse(outputs["sr"], targets["hr"])
            parts["loss_fa"] = feature_affinity_loss(outputs["feat_seg"], outputs["feat_sr"], fa_grid)
            weighted["sr"] = w_sr * parts["loss_sr"]
            weighted["fa"] = w_fa * parts["loss_fa"]
        return weighted, parts

    return terms


def joint_criterion(
    class_weights: np.ndarray | None = None,
    aux_weight: float = 0.4,
    w_sr: float = 1.0,
    w_fa: float = 1.0,
    fa_grid: int | None = FA_GRID,
) -> Criterion:
    """``(targets, outputs) → (loss, parts)``: the sum of :func:`joint_terms`' weighted terms,
    ``loss = CE(seg) [+ aux_weight·CE(aux)] + w_sr·sr_mse(sr, hr) + w_fa·FA(feat_seg, feat_sr)``, with its
    ``parts``; but a term whose weight is 0 is left out of the loss: with ``w_sr = w_fa = 0`` the loss *is* the
    LR-input segmenter's (the SR branch then gets no gradient — ``None`` from the tape — which is the ablation, not a
    bug). For a model without SR branch (``build_joint(..., sr=False)``) the criterion is the segmentation loss alone.
    """
    terms = joint_terms(class_weights, aux_weight, w_sr, w_fa, fa_grid)

    def criterion(targets: Mapping[str, Any], outputs: Mapping[str, tf.Tensor]):
        weighted, parts = terms(targets, outputs)
        total = weighted["ce"]
        for name, weight in (("sr", w_sr), ("fa", w_fa)):
            if name in weighted and weight > 0:
                total = total + weighted[name]
        return total, parts

    return criterion
