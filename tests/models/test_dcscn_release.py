"""The DCSCN authors' released checkpoints: import, published PSNRs, bad checkpoints, download.

Needs ../shared/data/dcscn-weights and ../shared/data/sr (skipped with a reason when absent).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from srseg.degrade import crop_to_multiple
from srseg.io import list_images, read_image
from srseg.metrics.sr import mean_scores
from srseg.models.dcscn import DcscnConfig, build_dcscn, model_config
from srseg.models.dcscn_release import (
    CheckpointError,
    download_release,
    load_checkpoint_weights,
    model_from_checkpoint,
    release_name,
    resolve_checkpoint,
)
from srseg.sr.infer import load_upscaler, model_scores
from tests._http import send_file
from tests.conftest import shared_path

pytestmark = pytest.mark.shared

# Published c-DCSCN (ver2 release) Y-PSNR without self-ensemble; each must be met within 0.1 dB.
TARGETS = {
    ("set5", 2): 37.15, ("set5", 3): 33.09, ("set5", 4): 30.85,
    ("set14", 2): 32.74, ("set14", 3): 29.47, ("set14", 4): 27.76,
}
TARGET_SET5_X2_SELF_ENSEMBLE = 37.22


@pytest.fixture(scope="module")
def weights() -> Path:
    return shared_path("dcscn-weights")


def _set(name: str) -> list[np.ndarray]:
    return [read_image(f, "auto") for f in list_images(shared_path("sr", name))]


def _psnr(images: list[np.ndarray], scale: int, ckpt: Path, self_ensemble: bool = False) -> float:
    up = load_upscaler(scale, dcscn_checkpoint=ckpt)
    return mean_scores([model_scores(up, crop_to_multiple(hr, scale), scale, self_ensemble) for hr in images])["psnr_y"]


@pytest.mark.parametrize("name", ["set5", "set14"])
def test_released_weights_reach_the_published_psnr(weights: Path, name: str) -> None:
    images = _set(name)
    for scale in (2, 3, 4):
        got = _psnr(images, scale, weights)
        assert abs(got - TARGETS[name, scale]) <= 0.1, f"{name} x{scale}: {got:.3f} dB vs {TARGETS[name, scale]}"


def test_self_ensemble_set5_x2(weights: Path) -> None:
    got = _psnr(_set("set5"), 2, weights, self_ensemble=True)
    assert abs(got - TARGET_SET5_X2_SELF_ENSEMBLE) <= 0.1, got


def test_release_architecture_is_the_c_dcscn_preset(weights: Path) -> None:
    for scale in (2, 3, 4):
        cfg = model_config(model_from_checkpoint(weights, scale))
        assert cfg.preset == "c-dcscn" and cfg.gamma == 1.2 and cfg.scale == scale
        assert resolve_checkpoint(weights, scale).name == release_name("c-dcscn", scale) + ".ckpt"


def test_sr_bench_cli_adds_the_model(weights: Path, tmp_path: Path) -> None:
    from srseg.cli import main

    out = tmp_path / "bench.json"
    main(["sr-bench", "--images", str(shared_path("sr", "set5")), "--scales", "2",
          "--dcscn-checkpoint", str(weights), "--json", str(out)])
    res = json.loads(out.read_text())["x2"]
    assert abs(res["bicubic"]["psnr_y"] - 33.66) < 0.1
    assert abs(res["model"]["psnr_y"] - TARGETS["set5", 2]) <= 0.1


def test_upscale_with_the_checkpoints_says_they_have_no_training_record(weights: Path, tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from srseg.cli import main
    from srseg.io import write_png

    write_png(tmp_path / "in.png", np.full((6, 7, 3), 90, np.uint8))
    with caplog.at_level(logging.INFO):
        main(["upscale", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--scale", "2",
              "--dcscn-checkpoint", str(weights)])
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("srseg")]
    assert lines[0] == f"model {weights}: the DCSCN authors' checkpoint, no training record"
    assert (tmp_path / "out.png").is_file()


def test_mismatched_preset_is_one_clear_error(weights: Path) -> None:
    model = build_dcscn(DcscnConfig.from_preset("dcscn", 2))
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint_weights(model, resolve_checkpoint(weights, 2))
    msg = str(exc.value)
    assert "\n" not in msg and "CNN1/conv_W is [3, 3, 1, 32], the model needs [3, 3, 1, 196]" in msg
    assert "L7 F32to8 A24 B8 PS x2" in msg


def test_scale_the_checkpoints_were_not_trained_for(weights: Path, tmp_path: Path) -> None:
    only_x2 = tmp_path / "w"
    only_x2.mkdir()
    for f in weights.glob(release_name("c-dcscn", 2) + ".ckpt.*"):
        shutil.copy(f, only_x2 / f.name)
    with pytest.raises(CheckpointError, match=r"no DCSCN checkpoint for x3 \(found x2\)"):
        load_upscaler(3, dcscn_checkpoint=only_x2)
    prefix = only_x2 / (release_name("c-dcscn", 2) + ".ckpt")
    renamed = tmp_path / "mine.ckpt"
    for f in only_x2.iterdir():
        shutil.copy(f, tmp_path / f.name.replace(prefix.name, renamed.name))
    with pytest.raises(CheckpointError, match="trained for x2, not x3"):
        load_upscaler(3, dcscn_checkpoint=renamed)


def test_corrupt_or_missing_checkpoint(weights: Path, tmp_path: Path) -> None:
    name = release_name("c-dcscn", 2) + ".ckpt"
    shutil.copy(weights / (name + ".index"), tmp_path / (name + ".index"))
    data = (weights / (name + ".data-00000-of-00001")).read_bytes()
    (tmp_path / (name + ".data-00000-of-00001")).write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError) as exc:
        load_upscaler(2, dcscn_checkpoint=tmp_path)
    assert "cannot read checkpoint" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(CheckpointError, match="not found"):
        load_upscaler(2, dcscn_checkpoint=tmp_path / "nothing.ckpt")


def test_download_from_a_loopback_server(weights: Path, tmp_path: Path, http_server) -> None:  # noqa: F811
    from srseg.errors import DownloadError

    files = {f.name: f.read_bytes() for f in weights.iterdir()}
    srv = http_server({f"/models/{n}": (lambda r, b=b: send_file(r, b)) for n, b in files.items()})
    prefix = download_release("c-dcscn", 4, tmp_path / "dl", base_url=srv.url("/models/"))
    assert prefix.name == release_name("c-dcscn", 4) + ".ckpt"
    for suffix in (".index", ".data-00000-of-00001"):
        assert Path(str(prefix) + suffix).read_bytes() == files[prefix.name + suffix]
    assert model_config(model_from_checkpoint(prefix, 4)).scale == 4
    # Served bytes that do not match the released checksum are refused and not kept.
    bad = http_server({f"/models/{n}": (lambda r: send_file(r, b"tampered")) for n in files})
    with pytest.raises(DownloadError, match="sha256"):
        download_release("c-dcscn", 2, tmp_path / "bad", base_url=bad.url("/models/"))
    assert not list((tmp_path / "bad").glob("*"))  # neither the file nor its .part is left
