"""Models one command away: a release tags every model `<name>@v<version>` (what `dvc artifacts get` resolves), the
README's commands fetch them from a fresh clone through a read-only HTTP remote, and the README's model zoo is
the committed metrics/summary.json."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from srseg.dvcfile import load_params
from srseg.release import ReleaseError, readme_with_zoo, release_models, tag, version_of, zoo_table
from tests._http import serve_folder

REPO = Path(__file__).resolve().parents[1]
BINDIR = Path(sys.executable).parent
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("DVC_STUDIO")},  # no Studio: DVC only
       "PATH": f"{BINDIR}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1",
       "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "PYTHONPATH": str(REPO / "src"),
       "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
       "GIT_CONFIG_GLOBAL": os.devnull}


def _run(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=ENV)
    if ok:
        assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _release(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    return _run(cwd, sys.executable, "-m", "srseg.release", "tag", *args, ok=ok)


def _readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, f"README.md has no section {title!r}"
    return m.group(1)


def _model_repo(root: Path) -> dict[str, str]:
    """A git + DVC repository with the project's DVC config and `artifacts:`, whose one stage writes a few bytes
    at each model's path (a stand-in for training); returns each model's path."""
    declared = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["artifacts"]
    models = {name: art["path"] for name, art in declared.items()}
    root.mkdir()
    _run(root, "git", "init", "-q")
    (root / ".dvc").mkdir()  # what `dvc init` makes, with the project's config (as committed: no remote)
    for name in ("config", ".gitignore"):
        (root / ".dvc" / name).write_text((REPO / ".dvc" / name).read_text())
    (root / "dvc.yaml").write_text(yaml.safe_dump({
        "stages": {"train": {"foreach": models, "do": {
            "cmd": "mkdir -p $(dirname ${item}) && echo 'weights of ${key}' > ${item}", "outs": ["${item}"]}}},
        "artifacts": declared}, sort_keys=False))
    _run(root, "dvc", "repro", "-q")
    _run(root, "git", "add", "-A")
    _run(root, "git", "commit", "-qm", "trained")
    return models


def test_the_committed_config_names_no_storage_it_does_not_have() -> None:
    """.dvc/config names a remote only once a copy is published: then `published`, the default, read over HTTP(S)
    at a real address. A placeholder (an .invalid or example host) would make `dvc pull` report missing cache files
    instead of a missing remote; while none is published, the README says how to add one."""
    from configobj import ConfigObj

    config = ConfigObj(str(REPO / ".dvc" / "config"))
    remotes = {k: v for k, v in config.items() if k.startswith("remote ")}
    for section, remote in remotes.items():
        assert section == 'remote "published"' and config["core"].get("remote") == "published", section
        assert re.match(r"https?://", remote["url"]), remote["url"]
        assert not re.search(r"\.(invalid|test|example|localhost)\b|example\.(com|net|org)\b", remote["url"])
    if not remotes:
        assert "dvc remote add --local -d published <url>" in _readme_section("Use the trained models")


def _add_remote(repo: Path, name: str, url: str, level: str) -> None:
    """`dvc remote add [--local] [-d] NAME URL`, written directly (the dvc command costs a second)."""
    config = repo / ".dvc" / level
    text = config.read_text() if config.exists() else ""
    if level == "config":  # the default remote, in the [core] section the project's config has
        text = text.replace("[core]\n", f"[core]\n    remote = {name}\n", 1)
    config.write_text(text + f"['remote \"{name}\"']\n    url = {url}\n")


def test_a_release_is_fetched_from_a_fresh_clone_over_http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The release tool refuses models not yet pushed, tags each pushed one `<name>@v<version>` (annotated, as GTO
    writes them) and moves no tag; then the README's commands, run as written against the pushed folder served over
    HTTP, fetch one model without a clone and every model into a fresh clone. After a release that commits the
    remote's address, a clone needs no setup and the latest version needs no --rev."""
    from gto.tag import parse_name

    origin = tmp_path / "origin"
    models = _model_repo(origin)
    version = version_of()
    store = tmp_path / "store"  # the maintainer's writable storage, which a web server publishes read-only
    _add_remote(origin, "store", str(store), "config.local")
    for key in ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, "t")
    with pytest.raises(ReleaseError, match=r"DVC remote 'store' lacks sr-x2, .* `dvc push -r store` at HEAD first"):
        tag(origin, "store", version)
    _run(origin, "dvc", "push", "-q", "-r", "store")
    out = _release(origin, "--remote", "store").stdout
    tags = set(_run(origin, "git", "tag").stdout.split())
    assert tags == {f"{name}@{version}" for name in models}, out
    for t in tags:
        assert _run(origin, "git", "cat-file", "-t", t).stdout.strip() == "tag"  # annotated: DVC skips light ones
        assert parse_name(t)["version"] == version
    assert tag(origin, "store", version) == []  # again: nothing to do

    block = re.search(r"```bash\n(.*?)```", _readme_section("Use the trained models"), re.S)
    assert block, "no command block in README's 'Use the trained models'"
    assert f"--rev {version}" in block.group(1), f"the README's --rev is not srseg's version {version}"
    with serve_folder(str(store)) as (url, log):
        script = block.group(1).replace("<repo>", f"file://{origin}").replace("<url>", url)
        user = tmp_path / "user"
        user.mkdir()
        _run(user, "bash", "-euo", "pipefail", "-c", script)
        assert (user / Path(models["sr-x4"]).name).read_bytes() == (origin / models["sr-x4"]).read_bytes()
        clone = user / "srseg"
        for path in models.values():
            assert (clone / path).read_bytes() == (origin / path).read_bytes(), path
        served = [line for line in log if " 200" in line and "/files/md5/" in line]
        assert len({line.split()[1] for line in served}) >= len(models), log  # each model came over HTTP

        # A release that publishes: the remote's address committed, a new version tagged after checking the
        # HTTP copy itself.
        _add_remote(origin, "published", url, "config")
        _run(origin, "git", "commit", "-qam", "publish the models over HTTP")
        assert len(tag(origin, "published", "v99.0.0")) == len(models)
        _run(tmp_path, "git", "clone", "-q", str(origin), "clone2")
        _run(tmp_path / "clone2", "dvc", "pull", "-q")
        assert (tmp_path / "clone2" / models["seg-hr"]).read_bytes() == (origin / models["seg-hr"]).read_bytes()
        latest = tmp_path / "latest"
        latest.mkdir()
        _run(latest, "dvc", "artifacts", "get", f"file://{origin}", "seg-hr", "-o", "hr.keras")
        assert (latest / "hr.keras").read_bytes() == (origin / models["seg-hr"]).read_bytes()


def test_a_release_needs_every_model_recorded_and_never_moves_a_version(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    _run(repo, "git", "init", "-q")
    declared = {"sr-x4": {"path": "models/x4.keras", "type": "model"},
                "seg-hr": {"path": "models/hr.keras", "type": "model"}}
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"artifacts": declared}, sort_keys=False))
    (repo / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        "a": {"cmd": "x", "outs": [{"path": "models/x4.keras", "md5": "0" * 32, "hash": "md5"}]}}}))
    _run(repo, "git", "add", "-A")
    _run(repo, "git", "commit", "-qm", "one model trained")
    with pytest.raises(ReleaseError, match=r"records no output for seg-hr \(models/hr.keras\): run `dvc repro`"):
        release_models(repo, "HEAD", "v1.0.0")
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    lock["stages"]["b"] = {"cmd": "y", "outs": [{"path": "models/hr.keras", "md5": "1" * 32, "hash": "md5"}]}
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))
    _run(repo, "git", "commit", "-qam", "both trained")
    monkeypatch.setattr("srseg.release.missing_on_remote", lambda root, remote, md5s: [])
    for key in ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, "t")
    assert tag(repo, "store", "v1.0.0") == ["sr-x4@v1.0.0", "seg-hr@v1.0.0"]
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock) + "# retrained\n")
    _run(repo, "git", "commit", "-qam", "retrained")
    _run(repo, "git", "tag", "-d", "sr-x4@v1.0.0")
    with pytest.raises(ReleaseError, match=r"seg-hr@v1.0.0 already names commit \w+: a new model needs a new version"):
        tag(repo, "store", "v1.0.0")
    assert _run(repo, "git", "tag").stdout.split() == ["seg-hr@v1.0.0"]  # all or none
    for bad in ("1.0", "v1.0.0.0", "latest"):
        with pytest.raises(ReleaseError, match="not a semantic version"):
            version_of(bad)
    assert version_of("2.1.0") == "v2.1.0"


def test_the_readme_model_zoo_is_the_committed_summary() -> None:
    """The README's table is what `python -m srseg.release zoo` writes from metrics/summary.json: every model of
    `artifacts:` once, with its command; spot-checked against the summary's numbers."""
    readme, text = readme_with_zoo(REPO)
    assert readme.read_text(encoding="utf-8") == text, "run python -m srseg.release zoo"
    summary = json.loads((REPO / "metrics" / "summary.json").read_text())
    table = zoo_table(summary, load_params(REPO / "params.yaml"), version_of())
    declared = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["artifacts"]
    rows = [ln for ln in table.splitlines() if ln.startswith("| `")]
    assert [ln.split("`")[1] for ln in rows] == list(declared)
    sr4 = summary["variants"]["sr_x4"]
    row = next(ln for ln in rows if ln.startswith("| `sr-x4`"))
    assert f"{sr4['psnr_y']:.2f} [{sr4['psnr_y_ci95'][0]:.2f}, {sr4['psnr_y_ci95'][1]:.2f}]" in row
    assert f"{100 * sr4['miou']:.2f} [" in row and f"`dvc artifacts get <repo> sr-x4 --rev {version_of()}`" in row
    hr = summary["variants"]["hr"]
    assert f"| — | {100 * hr['miou']:.2f} [{100 * hr['miou_ci95'][0]:.2f}, " in next(
        ln for ln in rows if ln.startswith("| `seg-hr`"))
    check = _run(REPO, sys.executable, "-m", "srseg.release", "zoo", "--check")
    assert "up to date" in check.stdout


def test_readme_use_and_apply_the_models_are_short() -> None:
    """Issue 32: "use the trained models" and "apply to your images" under 30 lines together (headings aside)."""
    lines = [ln for title in ("Use the trained models", "Apply it to your images")
             for ln in _readme_section(title).strip().splitlines() if not ln.startswith("## ")]
    assert len(lines) < 30, len(lines)
