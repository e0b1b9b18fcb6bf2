"""srseg.runtime: the CPU's bfloat16 support read from /proc/cpuinfo, the precision context, and
``runtime.strategy``: the strategy kinds and the one-line errors of a multi-worker set-up that cannot work."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from srseg import runtime
from srseg.errors import SrsegError

ZEN3 = "fpu sse sse2 avx avx2 fma f16c bmi2 sha_ni vaes"  # an AMD EPYC (Zen 3): no AVX-512 at all
SAPPHIRE_RAPIDS = "fpu avx2 fma avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8"
ICE_LAKE = "fpu avx2 fma avx512f avx512_vnni"  # AVX-512 without BF16


def _cpuinfo(tmp_path: Path, model: str, flags: str) -> Path:
    block = f"processor\t: {{i}}\nvendor_id\t: x\nmodel name\t: {model}\nflags\t\t: {flags}\n\n"
    path = tmp_path / "cpuinfo"
    path.write_text(block.format(i=0) + block.format(i=1))
    return path


@pytest.mark.parametrize(("flags", "native"), [(ZEN3, False), (SAPPHIRE_RAPIDS, True), (ICE_LAKE, False),
                                                ("avx512f amx_bf16", False), ("avx512f avx512_bf16", True)])
def test_native_bf16_from_cpuinfo(tmp_path: Path, flags: str, native: bool) -> None:
    model, found = runtime.cpu_features(_cpuinfo(tmp_path, "Some CPU @ 2.0GHz", flags))
    assert model == "Some CPU @ 2.0GHz" and found == frozenset(flags.split())
    assert runtime.native_bf16(found) is native


def test_cpu_features_without_cpuinfo(tmp_path: Path) -> None:
    assert runtime.cpu_features(tmp_path / "absent") == ("unknown", frozenset())
    assert runtime.native_bf16(frozenset()) is False


def test_precision_warns_on_a_cpu_without_bf16(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    import keras

    read = runtime.cpu_features
    for flags, warned in ((ZEN3, True), (SAPPHIRE_RAPIDS, False)):
        info = read(_cpuinfo(tmp_path, "Test CPU", flags))
        monkeypatch.setattr(runtime, "cpu_features", lambda info=info: info)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="srseg.runtime"), runtime.precision("mixed_bfloat16"):
            assert keras.config.dtype_policy().name == "mixed_bfloat16"
        assert keras.config.dtype_policy().name == "float32"
        assert ("Test CPU: no avx512_bf16/amx_bf16/amx_tile" in caplog.text) is warned
    with pytest.raises(SrsegError, match="precision 'bf16': must be one of float32, mixed_bfloat16"):
        with runtime.precision("bf16"):
            pass


def test_unknown_strategy_and_missing_tf_config(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SrsegError, match="runtime.distribute 'horovod': must be one of auto, none"):
        runtime.strategy("horovod")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SrsegError, match="multi_worker needs the TF_CONFIG"):
        runtime.strategy("multi_worker")


def test_multi_worker_after_tensorflow_started_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """MultiWorkerMirroredStrategy configures collective ops at start-up; once an op ran it cannot (the
    two-worker training itself: tests/training/test_multi_worker.py)."""
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # TensorFlow's runtime is up
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    with pytest.raises(SrsegError, match="multi_worker must be set up before TensorFlow runs any op") as err:
        runtime.strategy("multi_worker")
    assert "\n" not in str(err.value)


def test_none_and_auto_below_two_gpus_are_the_default_strategy() -> None:
    import tensorflow as tf

    assert runtime.strategy("none") is tf.distribute.get_strategy()
    if len(tf.config.list_logical_devices("GPU")) < 2:
        assert runtime.strategy("auto") is tf.distribute.get_strategy()


_KERNELS = """
import logging, sys
from srseg import runtime
logging.basicConfig(level=logging.WARNING, format="%(message)s")
runtime.configure(2, sys.argv[1])  # TensorFlow is not imported yet: the setting applies
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port
print(_pywrap_util_port.IsMklEnabled(), flush=True)
cfg = tf.config.threading
print(cfg.get_intra_op_parallelism_threads(), cfg.get_inter_op_parallelism_threads(),
      tf.config.optimizer.get_experimental_options().get("arithmetic_optimization"), flush=True)
tf.constant(1.0) + 1.0  # TensorFlow's thread pools start
runtime.configure(2, sys.argv[2])  # too late: a warning, not a silent change
runtime.configure(3, sys.argv[1])  # the thread count too
"""


def test_cpu_kernels_apply_before_tensorflow_starts() -> None:
    """One TensorFlow start-up (≈ 8 s): the default beats the environment's opposite setting, then a late change
    warns; ``runtime.threads`` intra-op threads, one inter-op thread and no arithmetic graph rewrites (with them, two
    processes trained the joint model to different bytes: the runtime module's docstring)."""
    first, then = "onednn", "eigen"
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"}  # the param overrides it
    proc = subprocess.run([sys.executable, "-c", _KERNELS, first, then], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(first == "onednn"), "2", "1", "False"]
    assert f"TensorFlow already runs with {first} kernels; runtime.cpu_kernels {then} not applied" in proc.stderr
    assert "already runs with (2, 1) intra/inter-op threads; runtime.threads 3 (and 1 inter-op) not applied" \
        in proc.stderr
    assert proc.stderr.count("intra/inter-op threads") == 1  # the same count again is no warning


def test_unknown_cpu_kernels() -> None:
    with pytest.raises(SrsegError, match="runtime.cpu_kernels 'mkl': must be one of onednn, eigen, auto"):
        runtime.configure(2, "mkl")


def test_quiet_import_keeps_what_the_level_allows() -> None:
    log = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
           "I0000 00:00:1795895646.896589    3528 port.cc:153] oneDNN custom operations are on.\n"
           "W0000 00:00:1795895647.1 3528 gpu.cc:1] no GPU\n"
           "E0000 00:00:1795895647.2 3528 x.cc:9] an error\n"
           "/lib/python3.12/site-packages/foo.py:3: DeprecationWarning: bar\n")
    lines = log.splitlines(keepends=True)
    assert runtime.shown_log(log, 3) == lines[4]  # srseg's default: only what is not TensorFlow's C++ log
    assert runtime.shown_log(log, 2) == lines[3] + lines[4]
    assert runtime.shown_log(log, 1) == "".join(lines[:1] + lines[2:])  # absl's notice is a warning
    assert runtime.shown_log(log, 0) == log
