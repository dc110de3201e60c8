"""`leakguard remediate --purge-plan` and `--purge --mirror`: the history rewrite."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

from tests.remediation.conftest import PLANTED, Project, assert_clean, git, run, snapshot


def test_purge_plan_is_written_0600_outside_the_repository_only(project: Project, tmp_path: Path):
    plan = tmp_path / "private" / "replacements.txt"
    plan.parent.mkdir()
    proc = run("remediate", "--purge-plan", str(plan), cwd=project.repo)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(plan.stat().st_mode) == 0o600
    lines = plan.read_bytes().splitlines()
    assert len(lines) == 3 and all(b"==><removed-by-leakguard>" in ln for ln in lines)
    assert all(any(s.encode() in ln for ln in lines) for s in PLANTED)
    assert_clean(proc.stdout, proc.stderr)
    before = snapshot(project.repo)
    inside = run("remediate", "--purge-plan", "plan.txt", cwd=project.repo)
    assert inside.returncode == 2 and "inside the repository" in inside.stderr
    assert not (project.repo / "plan.txt").exists() and snapshot(project.repo) == before


def test_purge_rewrites_a_mirror_and_verifies_with_a_new_scan(project: Project, tmp_path: Path):
    mirror = tmp_path / "mirror.git"
    git(tmp_path, "clone", "-q", "--mirror", project.remote.as_uri(), str(mirror))
    before = snapshot(project.repo)
    refused = run("remediate", "--purge", "--mirror", str(project.repo), cwd=project.repo)
    assert refused.returncode == 4 and "not a bare mirror clone" in refused.stderr
    proc = run("remediate", "--purge", "--mirror", str(mirror), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "a new scan finds none of them" in proc.stderr
    # `leakguard git` on the result: none of the planted values is found (a check on a
    # secret-named build argument, which carries no value, may still be reported).
    rescan = run("git", str(mirror), "--no-baseline", "-f", "json", cwd=tmp_path)
    assert rescan.returncode in (0, 1), rescan.stderr
    found = {f["fingerprint"] for f in json.loads(rescan.stdout)["findings"]}
    assert not found & {hashlib.sha256(s.encode()).hexdigest() for s in PLANTED}
    assert "dockerfile-secret-arg" in rescan.stdout  # the scan did run over the history
    history = git(mirror, "log", "--all", "-p").encode()
    assert_clean(history, proc.stdout, proc.stderr)
    assert b"<removed-by-leakguard>" in history
    assert snapshot(project.repo) == before
    assert PLANTED[0] in git(project.remote, "log", "--all", "-p")  # only the mirror changed


def test_purge_fails_unless_every_value_is_gone(project: Project, tmp_path: Path):
    mirror = tmp_path / "mirror.git"
    git(tmp_path, "clone", "-q", "--mirror", project.remote.as_uri(), str(mirror))
    plan = tmp_path / "partial.txt"
    assert run("remediate", "--purge-plan", str(plan), cwd=project.repo).returncode == 0
    plan.write_bytes(b"".join(plan.read_bytes().splitlines(keepends=True)[1:]))  # drop one
    proc = run("remediate", "--purge", "--mirror", str(mirror), "--purge-plan", str(plan),
               cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 4, proc.stderr
    assert "still in the history" in proc.stderr and "do not push" in proc.stderr
    assert_clean(proc.stdout, proc.stderr)
