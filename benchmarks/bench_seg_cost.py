"""What a PSPNet training step costs (not a test): FLOPs per image and CPU steps/s per preset and crop size.

    python benchmarks/bench_seg_cost.py flops                        # resnet101 at 713 and small at 160 (cross-check)
    python benchmarks/bench_seg_cost.py flops --preset resnet50 --size 512
    python benchmarks/bench_seg_cost.py speed                        # small at 160/256/384, resnet50 at 160/256
    python benchmarks/bench_seg_cost.py speed --json speed.json

**FLOPs** (one image, float operations = 2 × multiply-adds) are counted three ways:

* ``profiler``: TensorFlow's graph profiler (``tf.compat.v1.profiler`` with ``float_operation()``) on the traced
  training step (``model(x, training=True)``, :func:`srseg.training.losses.pspnet_criterion`, gradients of every
  trainable variable) at a fixed input shape. It counts the ops with registered statistics (Conv2D, MatMul,
  elementwise ops, pooling…) but has none for the convolutions' backward ops.
* ``graph backward``: the ``Conv2DBackpropInput`` / ``Conv2DBackpropFilter`` ops of that same graph, each
  2·(forward output elements)·k²·C_in from their static shapes: what TensorFlow will compute for the backward
  pass (the image's own gradient is not needed, so the first convolution has no ``BackpropInput``).
* ``analytic``: the convolutions from :data:`srseg.models.pspnet.PRESETS` and the input size alone (2·H·W·k²·C_in·C_out
  per convolution; backward = 2 × forward except the first convolution's input gradient), independent of TF.

**Speed**: steps/s of :func:`srseg.training.loop.fit` with the real recipe (SGD + poly, auxiliary loss, weight
decay, float32) on random batches, ``runtime.threads`` 2, the median of ``--steps`` timed steps after one
warm-up (tracing) step; images/s and achieved GFLOP/s (analytic fwd+bwd FLOPs × images/s) per configuration,
side by side in one process. The load average is printed with each row: other processes share these CPUs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NUM_CLASSES = 19


def _conv(h: int, w: int, k: int, cin: int, cout: int) -> int:
    return 2 * h * w * k * k * cin * cout


def analytic_flops(preset: str, size: int, aux: bool = True) -> dict[str, int]:
    """Convolution FLOPs of one ``size``×``size`` image through the PSPNet ``preset``: forward, and forward +
    backward (input and weight gradients: 2 × forward, less the first convolution's input gradient)."""
    from srseg.models.pspnet import PPM_BINS, STAGE_STRIDES, preset_spec

    spec = preset_spec(preset)
    h = math.ceil(size / 2)  # stem1: 3×3, stride 2, "same"
    first = _conv(h, h, 3, 3, spec.stem[0])
    f = first + _conv(h, h, 3, spec.stem[0], spec.stem[1]) + _conv(h, h, 3, spec.stem[1], spec.stem[2])
    h, c, c4 = math.ceil(h / 2), spec.stem[2], 0  # 3×3 max pool, stride 2
    for s, (depth, width, stride0) in enumerate(zip(spec.depths, spec.widths, STAGE_STRIDES, strict=True)):
        for b in range(depth):
            stride = stride0 if b == 0 else 1
            ho = math.ceil(h / stride)
            out = width * spec.expansion
            if spec.block == "bottleneck":
                f += _conv(h, h, 1, c, width) + _conv(ho, ho, 3, width, width) + _conv(ho, ho, 1, width, out)
            else:
                f += _conv(ho, ho, 3, c, width) + _conv(ho, ho, 3, width, width)
            if stride != 1 or c != out:
                f += _conv(ho, ho, 1, c, out)
            c, h = out, ho
        if s == 2:
            c4 = c
    f += sum(_conv(b, b, 1, c, c // len(PPM_BINS)) for b in PPM_BINS)
    f += _conv(h, h, 3, 2 * c, spec.head) + _conv(h, h, 1, spec.head, NUM_CLASSES)
    if aux:
        f += _conv(h, h, 3, c4, spec.aux_head) + _conv(h, h, 1, spec.aux_head, NUM_CLASSES)
    return {"forward": f, "train": 3 * f - first}


def _by_type(graph: Any) -> dict[str, int]:
    """FLOPs per op type from TensorFlow's registered statistics: what ``tf.compat.v1.profiler``'s
    ``float_operation()`` sums (its per-op-type view is not usable here, so this groups them itself)."""
    from tensorflow.python.framework import ops as tf_ops  # the profiler's own per-op statistics

    out: dict[str, int] = {}
    for op in graph.get_operations():
        try:
            v = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value
        except ValueError:  # no statistics registered for this op type
            continue
        if v:
            out[op.type] = out.get(op.type, 0) + int(v)
    return out


def _conv_by_shapes(graph: Any) -> dict[str, int]:
    """Multiply-adds × 2 of every convolution op of ``graph`` from its tensors' static shapes: forward
    2·(output elements)·k²·C_in; both backward ops the same product over their ``out_backprop`` (= the forward's
    output), which is the forward's count."""
    out = {"Conv2D": 0, "Conv2DBackpropInput": 0, "Conv2DBackpropFilter": 0}
    for op in graph.get_operations():
        if op.type == "Conv2D":  # inputs: input, filter
            k_h, k_w, cin, _ = op.inputs[1].shape
            out[op.type] += 2 * op.outputs[0].shape.num_elements() * k_h * k_w * cin
        elif op.type == "Conv2DBackpropInput":  # inputs: input_sizes, filter, out_backprop
            k_h, k_w, cin, _ = op.inputs[1].shape
            out[op.type] += 2 * op.inputs[2].shape.num_elements() * k_h * k_w * cin
        elif op.type == "Conv2DBackpropFilter":  # inputs: input, filter_sizes, out_backprop; output: the filter's
            k_h, k_w, cin, _ = op.outputs[0].shape
            out[op.type] += 2 * op.inputs[2].shape.num_elements() * k_h * k_w * cin
    return out


def measured_flops(preset: str, size: int) -> dict[str, Any]:
    """FLOPs of the traced training step of one ``size``² image, from the graph (see the module docstring)."""
    import keras
    import tensorflow as tf

    from srseg.models.pspnet import build_pspnet
    from srseg.training.losses import pspnet_criterion

    model = build_pspnet(NUM_CLASSES, preset, aux=True)
    criterion = pspnet_criterion(0.4)
    variables = model.trainable_variables
    image = tf.TensorSpec([1, size, size, 3], tf.float32)

    def step(x: tf.Tensor, y: tf.Tensor) -> list[tf.Tensor]:
        with tf.GradientTape() as tape:
            loss, _ = criterion(y, model(x, training=True))
        return tape.gradient(loss, variables)

    t = time.perf_counter()
    train = tf.function(step, input_signature=[image, tf.TensorSpec([1, size, size], tf.int32)], autograph=False)
    train_graph = train.get_concrete_function().graph
    fwd_graph = tf.function(lambda x: model(x, training=True), input_signature=[image],
                            autograph=False).get_concrete_function().graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    profiler_train = int(tf.compat.v1.profiler.profile(train_graph, options=opts).total_float_ops)
    tf_train, shapes = _by_type(train_graph), _conv_by_shapes(train_graph)
    # what a backward pass keeps: the float outputs of the forward graph's ops (an upper bound, some are views)
    act = sum(o.shape.num_elements() or 0 for op in fwd_graph.get_operations() for o in op.outputs
              if o.dtype.is_floating and op.type not in ("ReadVariableOp", "Const", "Placeholder"))
    out = {
        "preset": preset, "size": size, "parameters": int(sum(v.numpy().size for v in variables)),
        "profiler_train": profiler_train, "profiler_forward": int(sum(_by_type(fwd_graph).values())),
        "tf_stats_train_by_type": tf_train, "shapes_conv": shapes,
        "shapes_train": sum(shapes.values()) + sum(v for k, v in tf_train.items() if not k.startswith("Conv2D")),
        "forward_activation_elements": act, "trace_seconds": time.perf_counter() - t,
    }
    keras.backend.clear_session()
    return out


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def speed(configs: list[tuple[str, int, int]], steps: int) -> list[dict[str, Any]]:
    """steps/s of the real training loop for each (preset, crop, batch), side by side in this process."""
    from srseg import runtime
    from srseg.params import RuntimeParams

    runtime.configure(2, RuntimeParams().cpu_kernels)  # before TensorFlow starts
    import keras
    import numpy as np
    import tensorflow as tf

    from srseg.models.pspnet import build_pspnet
    from srseg.params import SegTrainParams
    from srseg.training.loop import fit
    from srseg.training.losses import pspnet_criterion
    from srseg.training.optimizers import make_optimizer

    rows = []
    for preset, crop, batch in configs:
        keras.utils.set_random_seed(0)
        model = build_pspnet(NUM_CLASSES, preset, aux=True)
        opt = make_optimizer(SegTrainParams(optimizer="sgd", lr=0.01), steps + 1)
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 255, (batch, crop, crop, 3)).astype("float32")
        y = rng.integers(0, NUM_CLASSES, (batch, crop, crop)).astype("int32")
        ds = tf.data.Dataset.from_tensors((x, y)).repeat()
        load_before = _load()
        hist = fit(model, ds, pspnet_criterion(0.4), opt, steps=steps + 1, steps_per_epoch=1)
        step_s = statistics.median(h["epoch_seconds"] for h in hist[1:])
        flops = analytic_flops(preset, crop)["train"]
        row = {"preset": preset, "crop": crop, "batch": batch, "first_step_s": hist[0]["epoch_seconds"],
               "step_s": step_s, "steps_per_s": 1 / step_s, "images_per_s": batch / step_s,
               "train_gflop_per_image": flops / 1e9, "achieved_gflop_s": flops * batch / step_s / 1e9,
               "load_before": load_before, "load_after": _load()}
        rows.append(row)
        print(f"{preset:9s} crop {crop:3d} batch {batch}: {row['steps_per_s']:.3f} steps/s, "
              f"{row['images_per_s']:.2f} img/s, {row['train_gflop_per_image']:.1f} GFLOP/img, "
              f"{row['achieved_gflop_s']:.0f} GFLOP/s (first step {row['first_step_s']:.1f} s; "
              f"load {load_before} -> {row['load_after']})", flush=True)
        keras.backend.clear_session()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("flops", help="FLOPs of one image's training step (profiler, graph, analytic)")
    p.add_argument("--preset", action="append", help="preset(s); default resnet101 and small")
    p.add_argument("--size", type=int, action="append", help="crop side(s), paired with --preset; default 713, 160")
    p.add_argument("--json", help="also write the results here")
    s = sub.add_parser("speed", help="CPU steps/s of the training loop per preset and crop")
    s.add_argument("--config", action="append", help="preset:crop:batch (repeatable); default: small at "
                   "160/256/384 batch 8, resnet50 at 160/256 batch 2")
    s.add_argument("--steps", type=int, default=3, help="timed steps per configuration (after 1 warm-up)")
    s.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    print(f"load average {_load()}, {os.cpu_count()} CPUs", flush=True)
    if args.what == "flops":
        presets, sizes = args.preset or ["resnet101", "small"], args.size or [713, 160]
        out = []
        for preset, size in zip(presets, sizes, strict=False):
            analytic = {f"analytic_{k}": v for k, v in analytic_flops(preset, size).items()}
            m = {**measured_flops(preset, size), **analytic}
            out.append(m)
            g = 1e9
            tf_conv = {k: v for k, v in m["tf_stats_train_by_type"].items() if k.startswith("Conv2D")}
            print(f"{preset} at {size}x{size}, {m['parameters'] / 1e6:.2f} M parameters (load {_load()}):\n"
                  f"  forward: TF profiler {m['profiler_forward'] / g:.2f} GFLOP; analytic convolutions "
                  f"{m['analytic_forward'] / g:.2f}; graph shapes Conv2D {m['shapes_conv']['Conv2D'] / g:.2f}\n"
                  f"  train step: TF profiler {m['profiler_train'] / g:.2f} GFLOP "
                  f"(its conv statistics {', '.join(f'{k} {v / g:.2f}' for k, v in tf_conv.items())}); "
                  f"graph shapes {m['shapes_train'] / g:.2f} "
                  f"({', '.join(f'{k} {v / g:.2f}' for k, v in m['shapes_conv'].items())}, rest "
                  f"{(m['shapes_train'] - sum(m['shapes_conv'].values())) / g:.2f}); analytic "
                  f"{m['analytic_train'] / g:.2f}\n"
                  f"  forward activations {m['forward_activation_elements'] / 1e6:.0f} M elements; traced in "
                  f"{m['trace_seconds']:.0f} s", flush=True)
    else:
        configs = [(c.split(":")[0], int(c.split(":")[1]), int(c.split(":")[2])) for c in args.config or []]
        configs = configs or [("small", 160, 8), ("small", 256, 8), ("small", 384, 8),
                              ("resnet50", 160, 2), ("resnet50", 256, 2)]
        out = speed(configs, args.steps)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
