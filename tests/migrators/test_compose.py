"""Compose: literals in `environment:` become Compose secrets or git-ignored env files."""

from __future__ import annotations

import difflib
import json
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from leakguard.errors import ChangeRefused
from leakguard.migrators.auto import Options, plan_migration
from leakguard.migrators.plan import apply_plan
from tests.conftest import GITHUB_PAT, PASSWORD
from tests.migrators.conftest import Run, compose
from tests.migrators.projects import compose_project, tree_hashes


def scan_findings(root: Path) -> list:
    from leakguard.detectors.files import WalkOptions, scan_paths
    from leakguard.engine import Engine
    from leakguard.rules import builtin_rules

    return scan_paths(Engine(builtin_rules()), [str(root)], WalkOptions(), jobs=1).findings


def in_file(path: Path) -> list:
    """Findings a rescan reports in `path` itself (an env_file it loads is reported
    under the env file's own path)."""
    return [f for f in scan_findings(path) if Path(f.location.path or "") == path]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return compose_project(tmp_path / "proj", "example/app:1", "postgres:16")


def test_plan_prints_a_diff_and_changes_nothing(
    project: Path, leakguard: Callable[..., Run]
) -> None:
    before = tree_hashes(project)
    run = leakguard("migrate", str(project))
    assert run.code == 1
    assert "-      GITHUB_TOKEN: ghp_…\n" in run.out  # the diff shows values redacted
    assert GITHUB_PAT not in run.out + run.err and PASSWORD not in run.out + run.err
    assert "+      - POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password" in run.out
    assert "+    env_file: ./secrets/app.env" in run.out
    assert "github_token\tfile:secrets/app.env#GITHUB_TOKEN\tghp_…" in run.out
    assert tree_hashes(project) == before


def test_apply_keeps_every_other_byte_and_a_second_run_has_nothing_to_do(
    project: Path, leakguard: Callable[..., Run]
) -> None:
    original = (project / "docker-compose.yml").read_text().splitlines()
    run = leakguard("migrate", "--apply", str(project))
    assert run.code == 0, run.err
    after = (project / "docker-compose.yml").read_text().splitlines()
    delta = list(difflib.ndiff(original, after))
    removed = [line[2:] for line in delta if line.startswith("- ")]
    assert removed == [f"      GITHUB_TOKEN: {GITHUB_PAT}", f"      - POSTGRES_PASSWORD={PASSWORD}"]
    added = [line[2:] for line in delta if line.startswith("+ ")]
    assert added == [
        "    env_file: ./secrets/app.env",
        "      - POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password",
        "    secrets:",
        "      - postgres_password",
        "",
        "secrets:",
        "  postgres_password:",
        "    file: ./secrets/postgres_password",
    ]
    secret = project / "secrets" / "postgres_password"
    assert secret.read_text() == PASSWORD
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE((project / "secrets").stat().st_mode) == 0o700
    assert (project / "secrets" / "app.env").read_text() == f"GITHUB_TOKEN={GITHUB_PAT}\n"
    assert "/secrets/" in (project / ".gitignore").read_text().splitlines()
    manifest = (project / "leakguard-secrets.toml").read_text()
    assert "compose:docker-compose.yml:db:POSTGRES_PASSWORD" in manifest
    assert PASSWORD not in manifest and GITHUB_PAT not in manifest
    # it holds no value, but says where every secret lives: private, as they are
    assert stat.S_IMODE((project / "leakguard-secrets.toml").stat().st_mode) == 0o600

    again = leakguard("migrate", "--apply", str(project))
    assert again.code == 0 and "moved 0 secret(s); wrote 0 file(s)" in again.err
    assert not in_file(project / "docker-compose.yml")


def test_a_file_changed_after_planning_is_refused(project: Path) -> None:
    plan = plan_migration(project, scan_findings(project), Options())
    compose_file = project / "docker-compose.yml"
    compose_file.write_text(compose_file.read_text() + "# edited meanwhile\n")
    before = tree_hashes(project)
    with pytest.raises(ChangeRefused, match="changed since the plan"):
        apply_plan(plan)
    assert tree_hashes(project) == before


def test_a_local_secret_file_with_another_value_is_refused(
    project: Path, leakguard: Callable[..., Run]
) -> None:
    (project / "secrets").mkdir()
    (project / "secrets" / "postgres_password").write_text("something else")
    before = tree_hashes(project)
    run = leakguard("migrate", "--apply", str(project))
    assert run.code == 4
    assert "holds a different value for 'postgres_password'" in run.err
    assert tree_hashes(project) == before


def test_a_read_only_file_is_refused(project: Path, leakguard: Callable[..., Run]) -> None:
    (project / "docker-compose.yml").chmod(0o444)
    before = tree_hashes(project)
    run = leakguard("migrate", "--apply", str(project))
    assert run.code == 4 and "read-only" in run.err
    assert tree_hashes(project) == before
    assert not (project / "secrets").exists()


def test_a_failed_write_puts_every_file_back(
    project: Path, leakguard: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk on the third rename: what was already written is restored."""
    import errno
    import os

    real_replace = os.replace
    calls = []

    def full_disk(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), dst)
        real_replace(src, dst)

    before = tree_hashes(project)
    monkeypatch.setattr(os, "replace", full_disk)
    run = leakguard("migrate", "--apply", str(project))
    monkeypatch.setattr(os, "replace", real_replace)
    assert run.code == 4 and "No space left on device" in run.err
    assert "every file was put back" in run.err
    assert tree_hashes(project) == before
    assert not list(project.glob(".*.tmp")) and not (project / "secrets").exists()


def test_values_that_interpolate_or_sit_elsewhere_need_a_manual_change(
    tmp_path: Path, leakguard: Callable[..., Run]
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "docker-compose.yml").write_text(
        "services:\n  app:\n    image: example/app\n    environment:\n"
        f"      API_KEY: {GITHUB_PAT}${{SUFFIX}}\n"
        f"    labels:\n      token: {GITHUB_PAT}\n"
    )
    before = tree_hashes(project)
    run = leakguard("migrate", "--apply", str(project))
    assert run.code == 1
    assert "interpolates a variable" in run.err
    assert "not a literal in a service's `environment:`" in run.err
    assert tree_hashes(project) == before


@pytest.mark.docker
def test_compose_round_trip_runs_with_the_moved_secrets(
    tmp_path: Path, leakguard: Callable[..., Run], busybox_image: str, file_env_image: str
) -> None:
    project = compose_project(tmp_path / "stack", busybox_image, file_env_image)
    assert leakguard("migrate", "--apply", str(project)).code == 0
    name = f"lgmig{tmp_path.name[-8:].lower()}".replace("_", "")
    try:
        compose(project, name, "config", "-q")
        db = compose(project, name, "run", "--rm", "-T", "db")
        app = compose(project, name, "run", "--rm", "-T", "app")
    finally:
        compose(project, name, "down", check=False)
    assert db.stdout.strip() == f"pw={PASSWORD}"
    assert f"GITHUB_TOKEN={GITHUB_PAT}" in app.stdout.splitlines()
    assert not in_file(project / "docker-compose.yml")


def test_after_migrating_a_rescan_of_the_project_passes_over_the_secret_files(tmp_path):
    project = tmp_path / "p"
    shutil.copytree(Path(__file__).parents[2] / "samples", project)
    leakguard = [sys.executable, "-m", "leakguard"]

    def found() -> tuple[set[tuple[str, str]], list[dict[str, object]]]:
        done = subprocess.run([*leakguard, "scan", "-f", "json", str(project)],
                              capture_output=True, text=True)  # fmt: skip
        report = json.loads(done.stdout)
        rewritten = {str(project / "Dockerfile"), str(project / "docker-compose.yml")}
        return {
            (f["location"]["path"], f["fingerprint"]) for f in report["findings"]
            if f["location"]["path"] in rewritten
        }, report["skipped"]  # fmt: skip

    before, _ = found()
    subprocess.run([*leakguard, "migrate", "--apply", str(project)], capture_output=True)
    after, skipped = found()
    assert len(before - after) >= 4  # the Dockerfile's and Compose file's secrets moved out
    assert skipped and all(not s["error"] and "/secrets/" in s["target"] for s in skipped)


def test_a_compose_file_nested_without_end_is_left_alone_with_a_reason(
    tmp_path: Path, leakguard: Callable[..., Run]
) -> None:
    root = tmp_path / "deep"
    root.mkdir()
    deep = "".join("  " * (i + 3) + "- \n" for i in range(5000))
    (root / "docker-compose.yml").write_text(
        "services:\n  db:\n    image: postgres:16\n    environment:\n"
        f"      POSTGRES_PASSWORD: {PASSWORD}\n    labels:\n{deep}"
    )
    before = tree_hashes(root)
    run = leakguard("migrate", "--apply", str(root))
    assert run.code == 1, run.err
    assert "not valid YAML (nested too deep)" in run.err and "internal error" not in run.err
    assert tree_hashes(root) == before


def test_a_symlink_planted_where_a_local_secret_file_goes_is_refused(
    project: Path, tmp_path: Path, leakguard: Callable[..., Run]
) -> None:
    (project / "secrets").mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere" / "postgres_password"
    elsewhere.parent.mkdir()
    (project / "secrets" / "postgres_password").symlink_to(elsewhere)
    before = tree_hashes(project)
    run = leakguard("migrate", "--apply", str(project))
    assert run.code == 4, run.err
    assert "a symbolic link, not followed; every file was put back as it was" in run.err
    assert not elsewhere.exists() and list(elsewhere.parent.iterdir()) == []
    assert tree_hashes(project) == before
    assert PASSWORD not in run.out + run.err
