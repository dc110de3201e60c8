"""The plan/apply core and the command's contract: exit codes, refusals, no values shown."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from leakguard.migrators.plan import FileEdit, Plan, SecretMove, apply_plan, sha256_of
from leakguard.models import SecretValue
from tests.conftest import GITHUB_PAT, PASSWORD, fake
from tests.migrators.conftest import Run
from tests.migrators.projects import compose_project, tree_hashes


def test_the_diff_and_table_never_hold_a_value(tmp_path: Path) -> None:
    path = tmp_path / "a.yml"
    before = f"token: {GITHUB_PAT}\n"
    plan = Plan(
        edits=(FileEdit(path, sha256_of(before.encode()), "token_file: /run/x\n", before),),
        moves=(SecretMove("token", "file:secrets/token", ("c",), "f", "ghp_…"),),
        values={"token": SecretValue(GITHUB_PAT.encode())},
    )
    shown = plan.diff() + plan.table() + repr(plan)
    assert GITHUB_PAT not in shown
    assert "-token: ghp_…\n" in plan.diff() and "+token_file: /run/x\n" in plan.diff()


def test_apply_keeps_the_file_mode_and_writes_secret_files_0600(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("a: 1\n")
    path.chmod(0o640)
    local = tmp_path / "secrets" / "token"
    plan = Plan(
        edits=(FileEdit(path, sha256_of(b"a: 1\n"), "a: 2\n", "a: 1\n"),),
        moves=(SecretMove("token", "file:secrets/token", (), "", "", local_file=local),),
        values={"token": SecretValue(PASSWORD.encode())},
    )
    applied = apply_plan(plan)
    assert applied.written == [path] and applied.secret_files == [local]
    assert path.read_text() == "a: 2\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert local.read_text() == PASSWORD and stat.S_IMODE(local.stat().st_mode) == 0o600


def test_an_env_file_with_another_value_for_the_key_is_refused(
    tmp_path: Path, leakguard: Callable[..., Run]
) -> None:
    project = compose_project(tmp_path / "p", "example/app", "postgres:16")
    (project / "secrets").mkdir()
    (project / "secrets" / "app.env").write_text("OTHER=1\nGITHUB_TOKEN=old\n")
    before = tree_hashes(project)
    run = leakguard("migrate", "--apply", str(project))
    assert run.code == 4 and "already sets GITHUB_TOKEN to a different value" in run.err
    assert tree_hashes(project) == before


def test_an_env_file_keeps_its_other_lines(tmp_path: Path, leakguard: Callable[..., Run]) -> None:
    project = compose_project(tmp_path / "p", "example/app", "postgres:16")
    (project / "secrets").mkdir()
    (project / "secrets" / "app.env").write_text("OTHER=1")
    assert leakguard("migrate", "--apply", str(project)).code == 0
    assert (project / "secrets" / "app.env").read_text() == f"OTHER=1\nGITHUB_TOKEN={GITHUB_PAT}\n"


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("docker-compose.yml", f"services:\n  app: [\n    TOKEN: {GITHUB_PAT}\n", "skipped"),
        ("Dockerfile", f"RUN echo {GITHUB_PAT}\n", "skipped"),
    ],
)
def test_a_malformed_file_is_reported_and_left_alone(
    tmp_path: Path, leakguard: Callable[..., Run], name: str, text: str, reason: str
) -> None:
    (tmp_path / name).write_text(text)
    run = leakguard("migrate", "--apply", str(tmp_path))
    assert run.code == 3 and reason in run.err and "Traceback" not in run.err
    assert (tmp_path / name).read_text() == text
    assert sorted(os.listdir(tmp_path)) == [name]


def test_migrate_moves_what_scan_reports_under_the_project_config(
    tmp_path: Path, leakguard: Callable[..., Run]
) -> None:
    """A finding the config drops (here: below min_confidence) is not moved either."""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        f"FROM scratch\nARG GITHUB_TOKEN={GITHUB_PAT}\n"
        'RUN wget --header "Authorization: token $GITHUB_TOKEN" http://127.0.0.1/x\n'
    )  # GITHUB_PAT's checksum fails: a low-confidence finding
    assert leakguard("migrate", str(tmp_path)).code == 1
    (tmp_path / ".leakguard.toml").write_text('min_confidence = "medium"\n')
    assert leakguard("scan", str(tmp_path)).code == 0
    run = leakguard("migrate", str(tmp_path))
    assert run.code == 0 and "nothing to move" in run.err


def test_migrate_leaves_excluded_paths_alone(tmp_path: Path, leakguard: Callable[..., Run]) -> None:
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    (vendor / "Dockerfile").write_text(
        f"FROM scratch\nARG DB_PASSWORD={PASSWORD}\nRUN echo $DB_PASSWORD > /dev/null\n"
    )
    assert leakguard("migrate", str(tmp_path)).code == 1
    (tmp_path / ".leakguard.toml").write_text('exclude = ["vendor/"]\n')
    assert leakguard("scan", str(tmp_path)).code == 0
    before = tree_hashes(tmp_path)
    run = leakguard("migrate", "--apply", str(tmp_path))
    assert run.code == 0 and "moved 0 secret(s)" in run.err
    assert tree_hashes(tmp_path) == before


def test_usage_errors_exit_2(tmp_path: Path, leakguard: Callable[..., Run]) -> None:
    missing = leakguard("migrate", str(tmp_path / "missing"))
    assert missing.code == 3 and "does not exist" in missing.err  # as for every command
    run = leakguard("migrate", "--to", "vault", str(tmp_path), env={"VAULT_ADDR": ""})
    assert run.code == 2 and "--vault-addr" in run.err
    run = leakguard("secrets", "docker-flags", env={}, cwd=tmp_path)
    assert run.code == 2 and "no leakguard-secrets.toml" in run.err


def test_a_clean_folder_has_nothing_to_do(tmp_path: Path, leakguard: Callable[..., Run]) -> None:
    (tmp_path / "docker-compose.yml").write_text("services:\n  app:\n    image: x\n")
    run = leakguard("migrate", "--apply", str(tmp_path))
    assert run.code == 0 and "moved 0 secret(s)" in run.err
    assert sorted(os.listdir(tmp_path)) == ["docker-compose.yml"]


def test_the_plan_never_shows_an_unchanged_line(
    tmp_path: Path, leakguard: Callable[..., Run]
) -> None:
    """A password detection misses, next to a moved one, stays out of the diff."""
    missed = fake("", 20, seed=9)  # a bare word after --requirepass: no rule reports it
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  app:\n    image: example/app\n    environment:\n"
        f"      GITHUB_TOKEN: {GITHUB_PAT}\n      LOG_LEVEL: debug\n"
        f"  redis:\n    image: redis:7\n    command: redis-server --requirepass {missed}\n"
    )
    scan = leakguard("scan", "-f", "json", str(tmp_path))
    assert [f["location"]["line"] for f in json.loads(scan.out)["findings"]] == [5]
    run = leakguard("migrate", ".", cwd=tmp_path)
    assert run.code == 1
    assert missed not in run.out + run.err and GITHUB_PAT not in run.out + run.err
    diff = run.out.split("--- a/docker-compose.yml\n", 1)[1].split("--- ", 1)[0]
    assert diff.splitlines() == [
        "+++ b/docker-compose.yml",
        "@@ -5 +4,0 @@",
        "-      GITHUB_TOKEN: ghp_…",
        "@@ -6,0 +6 @@",
        "+    env_file: ./secrets/app.env",
    ]


def test_a_compose_build_from_the_project_folder_never_takes_the_secrets(
    tmp_path: Path, leakguard: Callable[..., Run]
) -> None:
    """No Dockerfile beside the Compose file, but its service builds from this folder."""
    from leakguard.detectors.context import load_dockerignore

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM alpine\nCOPY . /app\n")
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  app:\n    build:\n      context: .\n      dockerfile: docker/Dockerfile\n"
        f"    environment:\n      GITHUB_TOKEN: {GITHUB_PAT}\n"
    )
    assert leakguard("migrate", "--apply", str(tmp_path)).code == 0
    assert (tmp_path / "secrets" / "app.env").read_text() == f"GITHUB_TOKEN={GITHUB_PAT}\n"
    context = load_dockerignore(str(tmp_path), str(tmp_path / "docker" / "Dockerfile"))
    assert context.excluded("secrets/app.env")
    ignored = subprocess.run(["git", "check-ignore", "-q", "secrets/app.env"], cwd=tmp_path)
    assert ignored.returncode == 0
