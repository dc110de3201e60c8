"""`migrate` on a large Compose file: work in proportion to the file, and a
stated bound where ruamel.yaml's round trip would take minutes."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from leakguard.detectors.compose import scan as scan_compose
from leakguard.engine import Engine
from leakguard.migrators import compose_secrets
from leakguard.migrators.auto import Options, plan_migration
from leakguard.migrators.plan import FileEdit, Plan, sha256_of
from leakguard.models import Finding, SecretValue
from tests.detectors.test_dockerfile_cost import steps

ENV_NAMES = ("POSTGRES_" + "PASSWORD", "API_" + "TOKEN")  # split: no literal secret here


def _compose(services: int, seed: int = 4) -> str:
    rng = random.Random(seed)

    def value() -> str:
        return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(20))

    def service(i: int) -> str:
        return (
            f"  svc{i}:\n    image: {rng.choice(['postgres:16', 'example/app:1'])}\n"
            f"    environment:\n      {ENV_NAMES[0]}: {value()}\n      LOG_LEVEL: info\n"
            f'      {ENV_NAMES[1]}: "{value()}"\n    labels:\n      team: t{i % 7}\n'
        )

    return "services:\n" + "".join(service(i) for i in range(services))


def _findings(engine: Engine, root: Path, services: int) -> list[Finding]:
    path = root / "docker-compose.yml"
    path.write_text(_compose(services))
    return scan_compose(engine, path.read_bytes(), str(path)).findings


def test_planning_a_large_compose_file_is_linear_work(engine: Engine, tmp_path: Path) -> None:
    def work(services: int) -> int:
        root = tmp_path / str(services)
        root.mkdir()
        findings = _findings(engine, root, services)
        assert len(findings) == 2 * services
        plan = plan_migration(root, findings, Options())
        assert len(plan.moves) == 2 * services and not plan.skipped
        diff = plan.diff()
        assert diff.count("\n+      POSTGRES_PASSWORD_FILE: /run/secrets/") > 0
        return steps(lambda: plan_migration(root, findings, Options()).diff())

    small, large = work(150), work(300)
    assert large < 2.3 * small


def test_a_large_diff_is_linear_work_and_applies(tmp_path: Path) -> None:
    # Many alike lines (every service has `LOG_LEVEL: info`) are what make
    # difflib's matcher quadratic; the diff must still turn old into new.
    def work(services: int) -> int:
        before = _compose(services)
        lines = before.splitlines(keepends=True)
        after = "".join(ln for ln in lines if "API_TOKEN" not in ln)
        path = tmp_path / "docker-compose.yml"
        plan = Plan(edits=(FileEdit(path, sha256_of(before.encode()), after, before),))
        diff = plan.diff()
        removed = [ln for ln in diff.splitlines() if ln.startswith("-") and "---" not in ln]
        assert len(removed) == services and all("API_TOKEN" in ln for ln in removed)
        assert not [ln for ln in diff.splitlines() if ln.startswith("+") and "+++" not in ln]
        return steps(plan.diff)

    small, large = work(1000), work(2000)
    assert large < 2.3 * small


def test_redaction_prefers_the_longer_of_two_overlapping_values() -> None:
    from leakguard.migrators.plan import redact_values

    long, short = SecretValue(b"abcdef" + b"0123456789"), SecretValue(b"xab")
    text = "x" + long.reveal() + " xab xabc"
    shown = redact_values(text, [short, long])
    assert shown == "x" + long.redacted + f" {short.redacted} {short.redacted}c"
    many = [SecretValue(f"value-{i:05d}-secret".encode()) for i in range(2000)]
    text = "\n".join(v.reveal() for v in many)
    assert redact_values(text, many) == "\n".join(v.redacted for v in many)


def test_a_file_past_the_node_bound_is_left_for_a_manual_change(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compose_secrets, "MAX_NODES", 200)
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir()
    large.mkdir()
    plan = plan_migration(small, _findings(engine, small, 5), Options())  # 5 services: ~80 nodes
    assert len(plan.moves) == 10 and not plan.skipped
    findings = _findings(engine, large, 20)
    plan = plan_migration(large, findings, Options())
    assert not plan.moves and not plan.edits
    assert len(plan.skipped) == len(findings) == 40
    assert {s.reason for s in plan.skipped} == {
        "the file has more than 200 YAML nodes, more than migrate rewrites: needs manual "
        "change (or split the file)"
    }


def test_scanning_a_large_compose_file_is_linear_work(engine: Engine, tmp_path: Path) -> None:
    # Each finding's note (the section it is in) is found in one sweep, not by
    # looking through every section of the file.
    def work(services: int) -> int:
        path = tmp_path / f"{services}.yml"
        path.write_text(_compose(services))
        data = path.read_bytes()
        findings = scan_compose(engine, data, str(path)).findings
        assert len(findings) == 2 * services
        assert all("(in service svc" in f.message for f in findings)
        return steps(lambda: scan_compose(engine, data, str(path)))

    small, large = work(300), work(600)
    assert large < 2.3 * small
