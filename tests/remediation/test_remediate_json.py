"""`leakguard remediate --format json`: the plan as one document, for CI."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.remediation.conftest import PLANTED, Project, assert_clean, git, run, snapshot
from tests.remediation.test_from_sweep import swept  # noqa: F401
from tests.services import dockerd, registry  # noqa: F401


def test_the_plan_as_json_names_every_secret_and_the_change_without_a_value(project: Project):
    before = snapshot(project.repo)
    proc = run("remediate", "-f", "json", cwd=project.repo)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["tool"] == "leakguard"
    (repo,) = doc["repositories"]
    assert repo["repository"] == str(project.repo)
    assert not repo["nothing_to_fix"]
    assert repo["title"] == run("remediate", cwd=project.repo).stdout.splitlines()[0][2:]
    secrets = {s["rules"][0]: s for s in repo["secrets"]}
    assert set(secrets) == {"github-pat", "aws-access-key-id", "npm-access-token"}
    for entry in secrets.values():
        assert re.fullmatch(r"[0-9a-f]{64}", entry["fingerprint"])
        assert entry["redacted"].endswith("…")
    # One secret in two files is one entry with both places, and its commits.
    assert sorted(secrets["github-pat"]["at_head"]) == ["deploy.sh:2", "docker-compose.yml:5"]
    first = git(project.repo, "rev-list", "--max-parents=0", "HEAD").strip()
    npm = secrets["npm-access-token"]
    (commit,) = npm["commits"]
    assert commit["sha"] == first and commit["path"] == "Dockerfile"
    assert commit["date"].startswith("2024-01-01T10:00:00")
    assert npm["moves_to"][0]["name"] == "npm_token"
    assert secrets["github-pat"]["manual"] == [
        "`deploy.sh:2`: not in a Dockerfile or Compose file: needs manual change"
    ]
    # The change itself, in `migrate --format json`'s shape.
    plan = repo["plan"]
    assert {e["path"] for e in plan["edits"]} >= {"Dockerfile", "docker-compose.yml"}
    assert [m["path"] for m in plan["manual"]] == ["deploy.sh"]
    assert {m["name"] for m in plan["moves"]} >= {"npm_token", "github_token"}
    assert "+RUN --mount=type=secret,id=npm_token" in plan["diff"]
    assert "<!-- leakguard-remediate -->" in repo["body"]
    assert_clean(proc.stdout, proc.stderr)
    assert snapshot(project.repo) == before


def test_nothing_to_fix_is_a_document_too(tmp_path: Path):
    repo = tmp_path / "clean"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("hello\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "x")
    proc = run("remediate", "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    (entry,) = json.loads(proc.stdout)["repositories"]
    assert entry["nothing_to_fix"] and entry["secrets"] == [] and entry["plan"]["edits"] == []


def test_json_is_for_the_plan_only(project: Project):
    before = snapshot(project.repo)
    for extra in (["--push"], ["--purge", "--mirror", "m"], ["--purge-plan", "p"]):
        proc = run("remediate", "-f", "json", *extra, cwd=project.repo)
        assert proc.returncode == 2, (extra, proc.stderr)
        assert proc.stderr.startswith("leakguard: error: --format json is for the plan")
        assert proc.stdout == ""
    assert snapshot(project.repo) == before


def test_from_sweep_gives_one_document_for_every_repository(
    project: Project,
    swept: Path,  # noqa: F811
    registry: str,  # noqa: F811
    tmp_path: Path,
):
    workdir = tmp_path / "work"
    proc = run("remediate", "--from-sweep", str(swept), "--workdir", str(workdir), "-f", "json",
               cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert [n["image"] for n in doc["not_mapped"]] == [f"{registry}/team/orphan:1"]
    assert "org.opencontainers.image.source" in doc["not_mapped"][0]["reason"]
    (repo,) = doc["repositories"]
    assert repo["repository"] == project.remote.as_uri()
    assert repo["images"] == [f"{registry}/team/app:1"]
    token = next(s for s in repo["secrets"] if s["rules"] == ["github-pat"])
    assert any(i.startswith(f"`{registry}/team/app:1` layer `sha256:") for i in token["images"])
    # Every image mapped, and the fix starts from the default branch (no revision
    # label): the plan still has something to fix, and the exit code says so.
    repo_map = tmp_path / "repos.txt"
    repo_map.write_text(f"{registry}/team/* {project.remote.as_uri()}\n")
    mapped = run("remediate", "--from-sweep", str(swept), "--workdir", str(workdir), "-f", "json",
                 "--repo-map", str(repo_map), cwd=tmp_path)  # fmt: skip
    assert mapped.returncode == 1, mapped.stderr
    assert json.loads(mapped.stdout)["not_mapped"] == []
    assert json.loads(mapped.stdout)["failed"] == []
    text = run("remediate", "--from-sweep", str(swept), "--workdir", str(workdir),
               "--repo-map", str(repo_map), cwd=tmp_path)  # fmt: skip
    assert text.returncode == 1, text.stderr
    assert_clean(proc.stdout, proc.stderr, mapped.stdout, mapped.stderr)
    assert all(secret not in proc.stdout for secret in PLANTED)
