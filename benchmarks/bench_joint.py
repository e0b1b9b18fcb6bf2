"""Parameter counts and the forward + backward time of the joint SR + segmentation model (one batch).

For each scale: parameters of the joint model (all / trainable / SISR branch / the saved inference model)
and the median wall time of ``tape.gradient`` of the combined loss (:func:`joint_criterion`, BN in
training mode) on a batch of LR crops of side ``crop // s`` (HR ``crop``), inside a ``tf.function``
after a warm-up call; the same for a plain PSPNet on HR crops of side ``crop`` (the baseline segmentation
step). With ``--architectures`` the joint model's forms (segmentation decoder × SR skip, and the CE-only model
without SR branch) are timed in interleaved rounds, so a change of the machine's load hits them alike, and their
ratio to the first (today's bilinear decoder without skip) is printed. Note the machine's load: on a shared CPU
the times move with it.

    python benchmarks/bench_joint.py [--preset small] [--scales 2 3 4] [--batch 8] [--crop 160] [--repeats 5]
                                     [--architectures]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from srseg.models.joint import SR_LAYER_PREFIX, build_joint, inference_model  # noqa: E402
from srseg.models.pspnet import build_pspnet  # noqa: E402
from srseg.training.joint_loss import joint_criterion  # noqa: E402
from srseg.training.losses import pspnet_criterion  # noqa: E402


def time_step(model: keras.Model, criterion, inputs, targets, repeats: int) -> float:
    """Median seconds of one forward + backward pass (loss gradients w.r.t. every trainable weight)."""
    once = timed_step(model, criterion, inputs, targets)
    return statistics.median(once() for _ in range(repeats))


def timed_step(model: keras.Model, criterion, inputs, targets):
    """A traced forward + backward pass; calling it runs one and returns its seconds."""
    variables = model.trainable_variables

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss, _ = criterion(y, model(x, training=True))
        return loss, tape.gradient(loss, variables)

    step(inputs, targets)  # trace

    def once() -> float:
        start = time.perf_counter()
        loss, _ = step(inputs, targets)
        float(loss)
        return time.perf_counter() - start

    return once


#: The joint model's forms ``--architectures`` compares: (label, build_joint keywords, with the SR/FA terms).
ARCHITECTURES = (
    ("bilinear decoder, no skip", {"decoder": "bilinear", "sr_skip": False}, True),
    ("learned decoder, no skip", {"decoder": "learned", "sr_skip": False}, True),
    ("bilinear decoder, SR skip", {"decoder": "bilinear", "sr_skip": True}, True),
    ("learned decoder, SR skip", {"decoder": "learned", "sr_skip": True}, True),
    ("CE only, learned decoder, no SR branch", {"decoder": "learned", "sr": False}, False),
    ("CE only, bilinear decoder, no SR branch", {"decoder": "bilinear", "sr": False}, False),
)


def compare_architectures(args: argparse.Namespace, rng: np.random.Generator) -> None:
    """Median fwd+bwd time of each of :data:`ARCHITECTURES` at each scale, in ``args.repeats`` interleaved rounds."""
    for s in args.scales:
        side = args.crop // s
        lr = rng.uniform(0, 255, (args.batch, side, side, 3)).astype(np.float32)
        targets = {"labels": rng.integers(0, 19, (args.batch, side * s, side * s)).astype(np.int32),
                   "hr": rng.uniform(0, 255, (args.batch, side * s, side * s, 3)).astype(np.float32)}
        steps = []
        for _, kwargs, terms in ARCHITECTURES:
            keras.utils.set_random_seed(0)
            model = build_joint(19, args.preset, s, **kwargs)
            criterion = joint_criterion(w_sr=1.0 if terms else 0.0, w_fa=1.0 if terms else 0.0)
            steps.append(timed_step(model, criterion, lr, targets))
        times: list[list[float]] = [[] for _ in ARCHITECTURES]
        for _ in range(args.repeats):
            for k, once in enumerate(steps):
                times[k].append(once())
        del steps
        medians = [statistics.median(t) for t in times]
        for (label, _, _), t in zip(ARCHITECTURES, medians, strict=True):
            print(f"joint {args.preset} ×{s} {label}: fwd+bwd {args.batch}×{side}² LR: {t:.3f} s "
                  f"(×{t / medians[0]:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=160, help="HR crop side; the LR side is crop // scale")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--architectures", action="store_true", help="compare the joint model's forms (see above)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    print(f"load average before: {os.getloadavg()[0]:.2f}; TF intra-op threads: {threads or 'all cores'}")
    if args.architectures:
        compare_architectures(args, rng)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        return
    keras.utils.set_random_seed(0)
    psp = build_pspnet(19, args.preset, aux=True)
    x = rng.uniform(0, 255, (args.batch, args.crop, args.crop, 3)).astype(np.float32)
    labels = rng.integers(0, 19, (args.batch, args.crop, args.crop)).astype(np.int32)
    t = time_step(psp, pspnet_criterion(0.4), x, labels, args.repeats)
    print(f"PSPNet {args.preset} (baseline, HR {args.crop}² input): {inference_model(psp).count_params():,} params; "
          f"fwd+bwd {args.batch}×{args.crop}²: {t:.3f} s")
    for s in args.scales:
        keras.utils.set_random_seed(0)
        model = build_joint(19, args.preset, s)
        lr_side = args.crop // s
        hr_side = lr_side * s
        trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
        sr = sum(int(np.prod(w.shape)) for ly in model.layers if ly.name.startswith(SR_LAYER_PREFIX)
                 for w in ly.weights)
        lr = rng.uniform(0, 255, (args.batch, lr_side, lr_side, 3)).astype(np.float32)
        targets = {"labels": rng.integers(0, 19, (args.batch, hr_side, hr_side)).astype(np.int32),
                   "hr": rng.uniform(0, 255, (args.batch, hr_side, hr_side, 3)).astype(np.float32)}
        t = time_step(model, joint_criterion(), lr, targets, args.repeats)
        print(f"joint {args.preset} ×{s}: {model.count_params():,} params ({trainable:,} trainable; SISR branch "
              f"{sr:,}; inference model {inference_model(model).count_params():,}); "
              f"fwd+bwd {args.batch}×{lr_side}² LR → {hr_side}²: {t:.3f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
