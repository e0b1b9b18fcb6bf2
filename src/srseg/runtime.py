"""How TensorFlow runs: thread count, determinism and seeding, precision policy, distribution strategy.

Results are byte-identical only for the same params **and thread count** on the same machine (oneDNN splits
reductions by thread), so the thread count is a param (``runtime.threads``), applied by :func:`configure` before
TensorFlow starts its thread pools and recorded in the summary. So is the choice of CPU kernels
(``runtime.cpu_kernels``, also applied by :func:`configure`): oneDNN's and TensorFlow's own (Eigen) kernels round
differently. Every TensorFlow stage calls :func:`configure` first; training stages also call :func:`set_determinism`
with their seed.

:func:`configure` also runs one op at a time (one inter-op thread) and turns the graph optimiser's arithmetic
rewrites off (:data:`GRAPH_OPTIONS`). With them on, two processes training the joint model (whose backbone features
feed three heads) sometimes differed in the last bits, often after one step: in 6 of 11 pairs of runs of 6 to 200
steps, with oneDNN or Eigen kernels and one or two inter-op threads alike, although each process repeated itself.
That fits sums of several gradients regrouped in an order that changes from process to process. With the rewrites
off, 8 runs of 20 steps gave the same bytes, at the same step time within noise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from srseg.errors import SrsegError

log = logging.getLogger(__name__)

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
STRATEGIES = ("auto", "none", "mirrored", "multi_worker")
CPU_KERNELS = ("onednn", "eigen", "auto")
#: TensorFlow's inter-op threads: one op at a time.
INTER_OP_THREADS = 1
#: Grappler options set by :func:`configure`: no arithmetic rewrites, which may regroup sums differently in another
#: process (module docstring).
GRAPH_OPTIONS = {"arithmetic_optimization": False}
#: /proc/cpuinfo flags of native bfloat16 arithmetic (AVX-512 BF16; AMX tiles with BF16) that oneDNN uses.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile")


def configure(threads: int | None, cpu_kernels: str) -> None:
    """Use ``threads`` intra-op threads (None: TensorFlow's own choice), one inter-op thread and
    :data:`GRAPH_OPTIONS` (see the module docstring: the same bytes from run to run), and ``cpu_kernels``:
    ``onednn``, ``eigen`` or ``auto``.

    Must run before TensorFlow is imported: it reads ``TF_ENABLE_ONEDNN_OPTS`` once, at import. ``auto`` leaves
    TensorFlow's own choice, made from the CPU's flags: oneDNN where it has AVX-512 VNNI, AVX-512 BF16, AVX-VNNI or
    AMX (recent Intel, AMD Zen 4 and newer), Eigen elsewhere (e.g. AVX2-only CPUs, where oneDNN trains faster:
    ``python benchmarks/bench_precision.py --onednn off on --precisions float32``).
    """
    if cpu_kernels not in CPU_KERNELS:
        raise SrsegError(f"runtime.cpu_kernels {cpu_kernels!r}: must be one of {', '.join(CPU_KERNELS)}")
    onednn = {"onednn": True, "eigen": False}.get(cpu_kernels)
    if onednn is not None and "tensorflow" not in sys.modules:
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if onednn else "0"
    tf = import_tensorflow()
    from tensorflow.python.util import _pywrap_util_port  # the one place TensorFlow reports its oneDNN state

    if onednn is not None and _pywrap_util_port.IsMklEnabled() != onednn:
        log.warning("TensorFlow already runs with %s kernels; runtime.cpu_kernels %s not applied (set "
                    "TF_ENABLE_ONEDNN_OPTS=%d before it starts)", "eigen" if onednn else "onednn", cpu_kernels,
                    onednn)
    tf.config.optimizer.set_experimental_options(GRAPH_OPTIONS)
    cfg = tf.config.threading
    want = (cfg.get_intra_op_parallelism_threads() if threads is None else threads, INTER_OP_THREADS)
    try:
        if threads is not None:
            cfg.set_intra_op_parallelism_threads(threads)
        cfg.set_inter_op_parallelism_threads(INTER_OP_THREADS)
    except RuntimeError:  # TF already initialised (several stages run in one test process)
        now = (cfg.get_intra_op_parallelism_threads(), cfg.get_inter_op_parallelism_threads())
        if now != want:
            log.warning("TensorFlow already runs with %s intra/inter-op threads; runtime.threads %s (and %d "
                        "inter-op) not applied", now, threads, INTER_OP_THREADS)


#: A line TensorFlow's C++ side logs (absl/glog prefix: severity letter, then the date) and absl's notice.
_TF_LOG = re.compile(r"^([IWEF])\d{4} ")
_ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def import_tensorflow() -> Any:
    """``import tensorflow``, holding back the start-up lines that ``TF_CPP_MIN_LOG_LEVEL`` should hide.

    Since TensorFlow 2.19 some are logged through absl before absl is initialised, and those ignore the level
    (tensorflow/tensorflow#100442): with oneDNN on, every process would print "oneDNN custom operations are on".
    While TensorFlow is imported, stderr goes to a temporary file; afterwards every line is written back except
    C++ log lines below the level (I=0, W=1, E=2, F=3) and absl's notice (a warning). Python's own output, and
    anything at or above the level, still reaches stderr, also when the import fails.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    setting = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0").strip()
    level = int(setting) if setting.isdigit() else 0  # not a number: hold nothing back
    if level <= 0:
        import tensorflow

        return tensorflow
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            sys.stderr.write(shown_log(held.read().decode(errors="replace"), level))
            sys.stderr.flush()
    return tensorflow


def shown_log(text: str, level: int) -> str:
    """The lines of ``text`` that ``TF_CPP_MIN_LOG_LEVEL`` = ``level`` lets through (see :func:`import_tensorflow`)."""
    kept = []
    for line in text.splitlines(keepends=True):
        m = _TF_LOG.match(line)
        hidden = "IWEF".index(m.group(1)) < level if m else line.strip() == _ABSL_NOTICE and level >= 2
        if not hidden:
            kept.append(line)
    return "".join(kept)


def set_determinism(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, and make TF ops deterministic (process-wide)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def cpu_features(cpuinfo: str | Path = "/proc/cpuinfo") -> tuple[str, frozenset[str]]:
    """The CPU's model name and flags from ``cpuinfo`` (Linux); ``("unknown", frozenset())`` where unreadable."""
    model, flags = "unknown", frozenset[str]()
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown":
            model = value.strip()
        elif key.strip() == "flags":
            return model, frozenset(value.split())
    return model, flags


def native_bf16(flags: frozenset[str] | None = None) -> bool:
    """True when the CPU has bfloat16 arithmetic (``avx512_bf16``, or ``amx_bf16`` with ``amx_tile``).

    Elsewhere TensorFlow runs bfloat16 ops on generic kernels that convert every element, slower than float32.
    """
    flags = cpu_features()[1] if flags is None else flags
    return "avx512_bf16" in flags or {"amx_bf16", "amx_tile"} <= flags


@contextlib.contextmanager
def precision(policy: str) -> Iterator[None]:
    """Build models under a Keras mixed-precision ``policy``; restores the previous global policy on exit.

    ``mixed_bfloat16`` computes in bfloat16 with float32 variables (oneDNN uses AMX / AVX-512 BF16 where the CPU
    has them, emulates them where not); ``mixed_float16`` is for GPUs and needs loss scaling
    (:func:`wrap_optimizer`). Models keep float32 outputs (their last layers are float32).
    """
    import keras

    if policy not in PRECISIONS:
        raise SrsegError(f"precision {policy!r}: must be one of {', '.join(PRECISIONS)}")
    if policy == "mixed_bfloat16" and not native_bf16():
        import tensorflow as tf

        if not tf.config.list_logical_devices("GPU"):
            model, flags = cpu_features()
            log.warning("precision mixed_bfloat16 on a CPU without bfloat16 arithmetic (%s: no %s): TensorFlow "
                        "emulates it, expect it slower than float32 (benchmarks/bench_precision.py)", model,
                        "/".join(f for f in BF16_CPU_FLAGS if f not in flags))
    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def float32_dtype() -> str | None:
    """The ``dtype`` of a layer that must compute in float32 under any policy (model outputs, DCSCN's global skip).

    ``"float32"`` under a mixed policy; None under float32, where the layer then shares the global policy object
    like every other layer, so float32 models save to the same bytes as before (Keras serialises an explicit
    ``"float32"`` as a policy object of its own).
    """
    import keras

    return None if keras.config.dtype_policy().name == "float32" else "float32"


def wrap_optimizer(optimizer: Any, policy: str) -> Any:
    """``optimizer`` with dynamic loss scaling under ``mixed_float16`` (float16 gradients underflow otherwise)."""
    import keras

    return keras.optimizers.LossScaleOptimizer(optimizer) if policy == "mixed_float16" else optimizer


def strategy(kind: str) -> Any:
    """The ``tf.distribute`` strategy of ``runtime.distribute``.

    ``auto``: MirroredStrategy over the visible GPUs when there are several, else the default strategy;
    ``none``: the default strategy; ``mirrored``: MirroredStrategy over every visible GPU (or the logical CPUs
    when there is no GPU); ``multi_worker``: MultiWorkerMirroredStrategy configured by the ``TF_CONFIG``
    environment variable (one process per worker, each with its own ``dvc``-free launch of the stage). It
    configures TensorFlow's collective ops, so it must be created before TensorFlow initialises its runtime
    (before any op runs or any device is listed).
    """
    import tensorflow as tf

    if kind not in STRATEGIES:
        raise SrsegError(f"runtime.distribute {kind!r}: must be one of {', '.join(STRATEGIES)}")
    if kind == "multi_worker":
        return _multi_worker(tf)
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "none" or (kind == "auto" and len(gpus) < 2):
        return tf.distribute.get_strategy()
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def _multi_worker(tf: Any) -> Any:
    """MultiWorkerMirroredStrategy of ``TF_CONFIG``; one clear line when it is missing or comes too late."""
    if not os.environ.get("TF_CONFIG"):
        raise SrsegError("runtime.distribute: multi_worker needs the TF_CONFIG environment variable "
                         "(cluster and task of this worker)")
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:  # "Collective ops must be configured at program startup"
        raise SrsegError(f"runtime.distribute: multi_worker must be set up before TensorFlow runs any op "
                         f"({exc})") from None
