"""The ``srseg`` command as a user meets it: --version, help on every argument, and quiet TensorFlow start-up
unless --verbose (checked in subprocesses, as a user runs it)."""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import srseg
from srseg.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]

#: Lines TensorFlow, absl and gRPC print on their own: glog/absl prefixes ("I0000 00:00:…",
#: "2026-… W tensorflow/…"), the absl notice, CPU-feature and oneDNN notes, CUDA plugin registration.
TF_LINE = re.compile(r"^([IWEF]\d{4} |\d{4}-\d\d-\d\d [\d:.]+: [IWEF] )|absl::InitializeLog|cpu_feature_guard|"
                     r"oneDNN custom operations|rebuild TensorFlow|Unable to register cu")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out == f"srseg {srseg.__version__}\n"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == srseg.__version__


def _actions(parser: argparse.ArgumentParser, prefix: str = "srseg"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield prefix, action
            for choice in action._choices_actions:
                yield f"{prefix} {choice.dest}", choice
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{prefix} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield prefix, action


def test_every_argument_has_help() -> None:
    parser = build_parser()
    assert parser.description and "README.md" in parser.description and "dvc repro" in parser.description
    seen = list(_actions(parser))
    missing = [f"{where}: {a.option_strings or a.dest}" for where, a in seen
               if not a.help or a.help == argparse.SUPPRESS or not a.help.strip()]
    assert not missing, missing
    commands = {where for where, _ in seen}
    assert {"srseg upscale", "srseg segment", "srseg sr-bench", "srseg check-params"} <= commands
    for sub in ("upscale", "segment", "sr-bench", "check-params"):  # each command describes itself
        assert parser._subparsers._group_actions[0].choices[sub].description


def test_verbose_before_or_after_the_command(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--verbose", "check-params"], ["check-params", "-v"]):
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
        main([*argv, str(REPO / "params.yaml")])
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    main(["check-params", str(REPO / "params.yaml")])
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3" and capsys.readouterr().out.count(": ok") == 3


def test_stage_scripts_import_srseg_before_anything_else() -> None:
    """srseg's quiet TensorFlow defaults apply only when srseg is imported before TensorFlow."""
    for script in sorted((REPO / "stages").glob("*.py")):
        imports = [n for n in ast.parse(script.read_text()).body if isinstance(n, ast.Import | ast.ImportFrom)]
        first = imports[0].module if isinstance(imports[0], ast.ImportFrom) else imports[0].names[0].name
        assert first.split(".")[0] == "srseg", f"{script.name} imports {first} first"


def _env(**extra: str) -> dict[str, str]:
    """The user's environment: without the test session's TF_CPP_MIN_LOG_LEVEL (conftest sets it)."""
    env = {k: v for k, v in os.environ.items() if k not in srseg.QUIET_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    return {**env, **extra}


def _srseg(cwd: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srseg.cli", *argv], cwd=cwd, env=env or _env(),
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a small image and a ×2 SR model saved by Keras alone (no training record)."""
    from PIL import Image

    from srseg.models.dcscn import DcscnConfig, build_dcscn

    root = tmp_path_factory.mktemp("cli")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(root / "in.png")
    build_dcscn(DcscnConfig.from_preset("c-dcscn", 2)).save(root / "x2.keras")
    return root


def test_quiet_by_default(small: Path) -> None:
    proc = _srseg(small, "check-params", str(REPO / "params.yaml"))  # no TensorFlow
    assert proc.returncode == 0 and proc.stdout.endswith("params.yaml: ok\n") and proc.stderr == ""
    proc = _srseg(small, "upscale", "in.png", "out.png", "--scale", "2", "--model", "x2.keras")  # TensorFlow
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["model x2.keras: no training record", "out.png: 12x10 -> 24x20 (x2, x2.keras)"]
    # errors still print: one line, no traceback
    (small / "bad.yaml").write_text("seed: -1\n")
    proc = _srseg(small, "check-params", "bad.yaml")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["error: bad.yaml: seed: must be a number >= 0 (got -1)"]


@pytest.mark.slow  # two TensorFlow start-ups (≈ 15 s on 2 busy cores); the flag's effect on the environment is
# checked fast by test_verbose_before_or_after_the_command
def test_verbose_shows_what_tensorflow_prints(small: Path) -> None:
    """--verbose shows the start-up lines TensorFlow prints on this machine when nothing quiets it."""
    bare = subprocess.run([sys.executable, "-c", "import tensorflow as tf; tf.constant(1) + 1"], env=_env(),
                          capture_output=True, text=True, timeout=300)
    tf_lines = [line for line in bare.stderr.splitlines() if TF_LINE.search(line)]
    if not tf_lines:
        pytest.skip("TensorFlow prints no start-up lines on this machine, even unquieted")
    proc = _srseg(small, "--verbose", "upscale", "in.png", "out.png", "--scale", "2", "--model", "x2.keras")
    assert proc.returncode == 0, proc.stderr
    shown = [line for line in proc.stderr.splitlines() if TF_LINE.search(line)]
    assert len(shown) >= len(tf_lines), (tf_lines, proc.stderr)


def test_scale_below_two_is_refused_first_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10.6: every stage script with --scale refuses 0 in one line before it loads params or TensorFlow (the
    working folder has no params.yaml, so a later check would fail on that instead), and so do `srseg upscale`
    and `srseg sr-bench`."""
    import runpy

    stage_argv = {
        "degrade.py": [], "pretrain_sr.py": ["--seed", "0"], "super_resolve.py": ["--seed", "0"],
        "train.py": ["--method", "sft_sr", "--seed", "0"],
    }
    takes_scale = {p.name for p in (REPO / "stages").glob("*.py")
                   if re.search(r"--scale|scale=(True|None)", p.read_text())}
    assert takes_scale == set(stage_argv)
    monkeypatch.chdir(tmp_path)
    for script, extra in stage_argv.items():
        monkeypatch.setattr(sys, "argv", [script, "--scale", "0", *extra])
        with pytest.raises(SystemExit) as exc:
            runpy.run_path(str(REPO / "stages" / script), run_name="__main__")
        assert (exc.value.code, capsys.readouterr().err) == (2, "error: --scale 0: must be an integer >= 2\n"), script
    for argv, line in ((["upscale", "a.png", "b.png", "--scale", "0"],
                        "argument --scale: must be an integer >= 2, got '0'"),
                       (["sr-bench", "--images", ".", "--scales", "2,0"],
                        "argument --scales: must be integers >= 2 separated by commas, got '2,0'")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2 and capsys.readouterr().err.splitlines()[-1].endswith(line)


def test_model_commands_take_the_pipelines_runtime_settings(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """upscale, segment and sr-bench start TensorFlow through runtime.configure with --threads and --cpu-kernels
    (default: TensorFlow's own threads, oneDNN as the pipeline), skipped without --threads in a process that already
    runs TensorFlow (as this one); bad values are one line before anything starts."""
    import srseg.runtime

    calls: list[tuple[int | None, str]] = []
    monkeypatch.setattr(srseg.runtime, "configure", lambda threads, kernels: calls.append((threads, kernels)))
    monkeypatch.setattr("srseg.sr.infer.upscale_file", lambda *args, **kwargs: None)
    monkeypatch.setattr("srseg.cli._check_upscale", lambda args: None)  # no input file here: checked elsewhere
    assert "tensorflow" in sys.modules  # this process runs TensorFlow already: without --threads, nothing to apply
    main(["upscale", "a.png", "b.png", "--scale", "2"])
    assert calls == []
    main(["upscale", "a.png", "b.png", "--scale", "2", "--threads", "3", "--cpu-kernels", "eigen"])
    assert calls == [(3, "eigen")]
    commands = build_parser()._subparsers._group_actions[0].choices
    for sub in ("upscale", "segment", "sr-bench"):
        assert {"--threads", "--cpu-kernels"} <= set(commands[sub]._option_string_actions)
    monkeypatch.undo()
    for argv, line in ((["segment", "a.png", "out", "--threads", "0"],
                        "argument --threads: must be an integer >= 1, got '0'"),
                       (["upscale", "a.png", "b.png", "--scale", "2", "--cpu-kernels", "on"],
                        "argument --cpu-kernels: invalid choice: 'on'")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2 and line in capsys.readouterr().err.splitlines()[-1]


def test_missing_tensorflow_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Without the cpu or gpu extra every entry point says what to install; other missing modules still raise."""
    from srseg.entry import NO_TENSORFLOW, stage

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # as if not installed: `import tensorflow` fails

    @stage
    def needs_tensorflow() -> None:
        import tensorflow  # noqa: F401

    with pytest.raises(SystemExit) as exc:
        needs_tensorflow()
    assert exc.value.code == 2 and capsys.readouterr().err == f"error: {NO_TENSORFLOW}\n"
    assert "'.[cpu]'" in NO_TENSORFLOW and "'.[gpu]'" in NO_TENSORFLOW

    @stage
    def needs_something_else() -> None:
        import srseg_no_such_module  # noqa: F401

    with pytest.raises(ModuleNotFoundError):
        needs_something_else()


def test_os_errors_are_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 31: an OSError reaching an entry point (an output that cannot be written) is ``error: PATH: reason``
    and exit status 2, like srseg's own errors; a rename names both files, and one without a file its reason."""
    from srseg.entry import stage
    from srseg.io import write_png

    blocker = tmp_path / "blocker"
    blocker.write_text("")

    @stage
    def writes(path: Path) -> None:
        write_png(path, np.zeros((2, 2), np.uint8))

    @stage
    def raises(exc: OSError) -> None:
        raise exc

    cases = [
        (lambda: writes(blocker / "out.png"),
         f"error: {blocker}: is a file, not a folder (needed for {blocker / 'out.png'})"),
        (lambda: writes(tmp_path),  # a folder where the file goes
         f"error: {tmp_path}: Is a directory"),
        (lambda: raises(PermissionError(13, "Permission denied", "out/x.png")), "error: out/x.png: Permission denied"),
        (lambda: raises(OSError(18, "Invalid cross-device link", "a", None, "b")),
         "error: a -> b: Invalid cross-device link"),
        (lambda: raises(OSError(28, "No space left on device")), "error: No space left on device"),
    ]
    for call, line in cases:
        with pytest.raises(SystemExit) as exc:
            call()
        assert exc.value.code == 2 and capsys.readouterr().err == line + "\n"


def test_a_stage_script_with_an_unwritable_output_is_one_line(tmp_path: Path) -> None:
    """The stage scripts share the wrapper: degrade's output folder under a file is one line, exit status 2."""
    from srseg.io import write_png

    (tmp_path / "params.yaml").write_text("{}\n")  # the defaults
    write_png(tmp_path / "data/raw/leftImg8bit/val/c/c_000000_000019_leftImg8bit.png", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "data/lr").write_text("a file where the LR folders go")
    proc = subprocess.run([sys.executable, str(REPO / "stages" / "degrade.py"), "--scale", "2"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        "error: data/lr: is a file, not a folder (needed for data/lr/x2)"], proc.stderr
    assert (tmp_path / "data/lr").read_text() == "a file where the LR folders go"


def test_segment_prefix_drops_an_image_suffix() -> None:
    from srseg.cli import segment_prefix

    assert segment_prefix("out/x.png") == "out/x" and segment_prefix("out/x.JPG") == "out/x"
    assert segment_prefix("out/x") == "out/x" and segment_prefix("out/run.v2") == "out/run.v2"


def _fake_model(path: Path, task: str, architecture: str) -> Path:
    """A .keras archive holding only a training record (enough for the checks made before TensorFlow loads)."""
    import json
    import zipfile

    from srseg.io import RECORD_KEY

    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({RECORD_KEY: {"task": task, "architecture": architecture}}))
    return path


def test_inference_commands_refuse_bad_inputs_before_tensorflow(tmp_path: Path) -> None:
    """A missing or non-image input, a model of the other task and an absent default model are one line each,
    exit status 2, before TensorFlow is imported (run in a fresh interpreter, whose modules are checked)."""
    from PIL import Image

    image = tmp_path / "street.png"
    Image.new("RGB", (8, 8)).save(image)
    (tmp_path / "notes.png").write_text("not an image")
    seg = _fake_model(tmp_path / "hr.keras", "segmentation", "PSPNet small")
    sr = _fake_model(tmp_path / "x2.keras", "super-resolution", "DCSCN c-dcscn")
    empty = tmp_path / "project"
    (empty / "models" / "sr" / "seed0").mkdir(parents=True)
    (empty / "models" / "sr" / "seed0" / "x3.keras").write_bytes(b"")
    cases = [
        (["upscale", str(tmp_path / "nothere.png"), "o.png", "--scale", "2"], "nothere.png: no such file"),
        (["segment", str(tmp_path / "notes.png"), "o"], "notes.png: not an image"),
        (["upscale", str(image), "o.png", "--scale", "2", "--model", str(seg)],
         "hr.keras: a segmentation model (PSPNet small), not super-resolution: use it with `srseg segment`"),
        (["segment", str(image), "o", "--model", str(sr)],
         "x2.keras: a super-resolution model (DCSCN c-dcscn), not segmentation: use it with `srseg upscale`"),
        (["upscale", str(image), "o.png", "--scale", "2"],
         "x2.keras: no trained x2 SR model (models here: x3); run `dvc repro pretrain_sr@2-0` or `dvc pull`"),
        (["segment", str(image), "o"], "hr.keras: no trained segmentation model; run `dvc repro train_seg@0`"),
        # issue 32: folders planned whole, the SR-then-segment chain's model
        (["upscale", str(tmp_path), str(tmp_path), "--scale", "3"],
         "notes.png: is the input image; give another output folder (or --overwrite to replace it)"),
        (["segment", str(image), "o", "--model", str(seg), "--sr-scale", "2"],
         "x2.keras: no trained x2 SR model (models here: x3); run `dvc repro pretrain_sr@2-0` or `dvc pull` in the "
         "project, or give --sr-model"),
        (["segment", str(image), "o", "--model", str(seg), "--sr-scale", "2", "--sr-model", str(seg)],
         "hr.keras: a segmentation model (PSPNet small), not super-resolution: use it with `srseg segment`"),
        (["segment", str(image), "o", "--model", str(seg), "--sr-model", str(sr)], "--sr-model needs --sr-scale"),
    ]
    code = (
        "import sys\n"
        "import srseg.apply\n"
        "import srseg.cli as cli\n"
        "from srseg.paths import Paths\n"
        f"srseg.apply.project = lambda: Paths({str(empty)!r})\n"
        "try:\n"
        "    cli.main(sys.argv[1:])\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code, 'tensorflow' in sys.modules)\n"
    )
    for argv, line in cases:
        proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
        assert proc.stdout.strip() == "exit 2 False", (argv, proc.stdout, proc.stderr)
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and line in errors[0], (argv, proc.stderr)
