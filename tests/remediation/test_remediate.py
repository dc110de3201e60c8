"""`leakguard remediate`: the plan, and the push from a separate worktree to a real remote."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.remediation.conftest import (
    LEAKGUARD,
    PLANTED,
    Project,
    assert_clean,
    git,
    run,
    snapshot,
)

BRANCH = "leakguard/remediate"


def test_plan_prints_title_body_and_redacted_diff_and_writes_nothing(project: Project):
    before = snapshot(project.repo)
    proc = run("remediate", cwd=project.repo)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert out.startswith("# leakguard: move ")
    assert "<!-- leakguard-remediate -->" in out
    # One entry per secret: the token in two files is one entry with both places.
    assert out.count(". GitHub personal access token `ghp_") == 1
    entry = out.split(". GitHub personal access token", 1)[1].split("\n### ", 1)[0]
    assert "`deploy.sh:2`" in entry and "`docker-compose.yml:5`" in entry
    # The npm token: its commit, the rule's rotation text, where the new value goes.
    npm = out.split("npm access token", 1)[1].split("\n### ", 1)[0]
    first = git(project.repo, "rev-list", "--max-parents=0", "HEAD").strip()
    assert f"{first[:12]} (2024-01-01) `Dockerfile`" in npm
    assert "npmjs.com" in npm and "docker-flags" in npm and "Merge this pull request" in npm
    assert "- [ ] `deploy.sh:2`: not in a Dockerfile or Compose file" in out  # a manual task
    assert "```diff" in out and "+RUN --mount=type=secret,id=npm_token" in out
    assert "git filter-repo" in out or "--replace-text" in out
    assert_clean(proc.stdout, proc.stderr)
    assert snapshot(project.repo) == before


def test_every_commit_that_added_a_secret_is_listed_oldest_first(project: Project):
    dockerfile = project.repo / "Dockerfile"
    line = [ln for ln in dockerfile.read_text().splitlines() if ln.startswith("ARG")][0]
    dockerfile.write_text("FROM alpine:3.20\nRUN true\n")
    git(project.repo, "commit", "-qam", "drop", "--date", "2024-03-01T10:00:00")
    dockerfile.write_text(f"FROM alpine:3.20\n{line}\n")
    git(project.repo, "commit", "-qam", "again", "--date", "2024-04-01T10:00:00")
    out = run("remediate", cwd=project.repo).stdout
    npm = out.split("npm access token", 1)[1].split("\n### ", 1)[0]
    assert "added by 2 commit(s), oldest first" in npm
    assert npm.index("(2024-01-01)") < npm.index("(2024-04-01)")


def test_nothing_to_fix_exits_0_and_pushes_nothing(tmp_path: Path):
    repo = tmp_path / "clean"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("hello\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "x")
    proc = run("remediate", cwd=repo)
    assert proc.returncode == 0 and "nothing to fix" in proc.stderr


def _check_pushed(project: Project, output: str) -> None:
    files = project.remote_files(BRANCH)
    assert "secrets/npm_token" not in files and not any(n.startswith("secrets/") for n in files)
    assert "RUN --mount=type=secret,id=npm_token" in files["Dockerfile"].decode()
    assert "/secrets/" in files[".gitignore"].decode()
    log = git(project.remote, "log", "--format=%an <%ae>|%s", f"main..{BRANCH}")
    subjects = [line.split("|", 1)[1] for line in log.splitlines()]
    assert all(line.startswith("Dana Dev <dana@example.test>|") for line in log.splitlines())
    assert subjects[-1].startswith("Keep local secret files out of git")  # first commit
    assert any("BuildKit" in s for s in subjects) and any("Compose" in s for s in subjects)
    # What the branch adds (the lines it removes hold the old values, as in main).
    patch = git(project.remote, "log", "-p", "--format=%B", f"main..{BRANCH}").splitlines()
    added = "\n".join(line for line in patch if not line.startswith("-"))
    changed = git(project.remote, "diff", "--name-only", f"main..{BRANCH}").split()
    assert_clean(added, *(files[n] for n in changed), BRANCH, output)


def test_push_over_file_url_commits_by_kind_and_leaves_checkout_untouched(project: Project):
    before = snapshot(project.repo)
    proc = run("remediate", "--push", cwd=project.repo)
    assert proc.returncode == 0, proc.stderr
    assert "pushed 4 commit(s)" in proc.stderr
    _check_pushed(project, proc.stdout + proc.stderr)
    assert snapshot(project.repo) == before  # no local branch, no worktree left


def test_push_over_git_daemon_twice_updates_nothing_the_second_time(
    project: Project, git_daemon: str
):
    git(project.repo, "remote", "set-url", "origin", git_daemon)
    before = snapshot(project.repo)
    first = run("remediate", "--push", cwd=project.repo)
    assert first.returncode == 0, first.stderr
    _check_pushed(project, first.stdout + first.stderr)
    pushed = git(project.remote, "rev-parse", BRANCH)
    second = run("remediate", "--push", cwd=project.repo)
    assert second.returncode == 0, second.stderr
    assert "already has this fix" in second.stderr
    assert git(project.remote, "rev-parse", BRANCH) == pushed
    assert snapshot(project.repo) == before


def test_refusals_leave_everything_as_it_was(project: Project):
    before = snapshot(project.repo)
    missing = run("remediate", "--push", "--remote", "upstream", cwd=project.repo)
    assert missing.returncode == 3 and "no remote named 'upstream'" in missing.stderr
    own = run("remediate", "--push", "--branch", "main", cwd=project.repo)
    assert own.returncode == 2 and "only to its own branch" in own.stderr
    token = "gh" + "p_" + "Z" * 36
    git(project.repo, "remote", "add", "tok", f"https://user:{token}@example.test/a/b.git")
    leaky = run("remediate", "--push", "--remote", "tok", cwd=project.repo)
    assert leaky.returncode == 2 and "holds a credential" in leaky.stderr
    assert token not in leaky.stdout + leaky.stderr
    git(project.repo, "remote", "remove", "tok")
    assert snapshot(project.repo) == before
    (project.repo / "Dockerfile").write_text("FROM scratch\n")
    before = snapshot(project.repo)
    dirty = run("remediate", "--push", cwd=project.repo)
    assert dirty.returncode == 4 and "uncommitted changes" in dirty.stderr
    assert snapshot(project.repo) == before
    git(project.repo, "checkout", "-q", "--", "Dockerfile")
    git(project.repo, "checkout", "-q", "--detach")
    before = snapshot(project.repo)
    detached = run("remediate", "--push", cwd=project.repo)
    assert detached.returncode == 4 and "detached HEAD" in detached.stderr
    assert snapshot(project.repo) == before
    assert_clean(missing.stderr, own.stderr, leaky.stderr, dirty.stderr, detached.stderr)


def test_a_rejected_push_exits_4_and_removes_the_worktree(project: Project):
    hook = project.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch: pushes need review' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = snapshot(project.repo)
    proc = run("remediate", "--push", cwd=project.repo)
    assert proc.returncode == 4, proc.stderr
    assert "refused the push" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 3
    assert snapshot(project.repo) == before
    assert BRANCH not in git(project.remote, "branch", "--list")
    assert_clean(proc.stdout, proc.stderr)


def test_killed_at_any_point_the_checkout_is_untouched(project: Project):
    before = snapshot(project.repo)
    for delay in (0.15, 0.3, 0.45, 0.6):
        proc = subprocess.Popen([LEAKGUARD, "remediate", "--push", "--branch", f"k/{delay}"],
                                cwd=project.repo, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)  # fmt: skip
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, 130, -signal.SIGTERM), err  # -15: before the handler
        assert_clean(out, err)
        assert snapshot(project.repo) == before
    leftovers = git(project.repo, "worktree", "list").strip().splitlines()
    assert len(leftovers) == 1
    assert all(s not in (project.repo / "Dockerfile").read_text() for s in PLANTED[:2])


def test_a_sweep_report_adds_the_images_that_carry_each_secret(tmp_path: Path):
    repo = tmp_path / "samples"
    shutil.copytree(Path(__file__).resolve().parents[2] / "samples", repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "samples")
    report = tmp_path / "sweep.json"
    scanned = run("image", f"oci:{repo / 'image'}:1", "-f", "json", "-o", str(report), cwd=repo)
    assert scanned.returncode == 1, scanned.stderr
    proc = run("remediate", "--sweep-report", str(report), cwd=repo)
    assert proc.returncode == 1, proc.stderr
    aws = proc.stdout.split("AWS access key id", 1)[1].split("\n### ", 1)[0]
    assert "place(s) of the swept images" in aws and "layer `sha256:" in aws
    assert "Delete or rebuild the image tags that carry it" in aws
    values = [f["secret"] for f in json.loads(run("scan", "-f", "json", "--show-secrets", ".",
                                                  cwd=repo).stdout)["findings"]
              if len(f.get("secret") or "") >= 8]  # fmt: skip
    assert values and not any(v in proc.stdout + proc.stderr for v in values)
    report.write_text("[1, 2]")
    bad = run("remediate", "--sweep-report", str(report), cwd=repo)
    assert bad.returncode == 2 and "not a leakguard JSON report" in bad.stderr
    gone = run("remediate", "--sweep-report", str(tmp_path / "none.json"), cwd=repo)
    assert gone.returncode == 3 and "cannot read" in gone.stderr


def test_a_worktree_left_by_sigkill_is_removed_by_the_next_run(project: Project):
    before = snapshot(project.repo)
    proc = subprocess.Popen([LEAKGUARD, "remediate", "--push"], cwd=project.repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    while "locked" not in git(project.repo, "worktree", "list", "--porcelain"):
        assert proc.poll() is None and time.monotonic() < deadline, "no worktree was made"
        time.sleep(0.02)
    proc.kill()  # SIGKILL: no cleanup runs
    proc.wait()
    left = git(project.repo, "worktree", "list", "--porcelain")
    assert "leakguard remediate pid" in left  # what the killed run left behind
    for name in ("Dockerfile", "docker-compose.yml", "deploy.sh"):
        assert (project.repo / name).read_bytes()  # the checkout itself is untouched
    again = run("remediate", "--push", cwd=project.repo)
    assert again.returncode == 0, again.stderr
    assert snapshot(project.repo) == before  # the stale worktree is gone too


def test_a_credential_file_the_pull_request_keeps_out_of_the_build_is_not_a_manual_task(
    tmp_path: Path,
):
    repo = tmp_path / "ctx"
    (repo / "web").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Dana Dev")
    git(repo, "config", "user.email", "dana@example.test")
    # Two broad COPYs: one takes a .env holding a token, one a .npmrc holding no value.
    (repo / "Dockerfile").write_text("FROM alpine:3.20\nCOPY . /app\nRUN make -C /app\n")
    (repo / ".env").write_text(f"NPM_TOKEN={PLANTED[2]}\n")
    (repo / "web" / "Dockerfile").write_text("FROM alpine:3.20\nCOPY . /srv\n")
    (repo / "web" / ".npmrc").write_text("always-auth=true\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "app")
    remote = tmp_path / "ctx.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(repo, "remote", "add", "origin", remote.as_uri())
    git(repo, "push", "-q", "origin", "main")
    plan = run("remediate", cwd=repo)
    assert plan.returncode == 1, plan.stderr
    fixes = plan.stdout.split("Other findings this pull request fixes:", 1)[1].split("\n\n")[0]
    assert "- [x] `Dockerfile:2` (`dockerfile-context-credential-file`): keeps `.env`" in fixes
    assert "- [x] `web/Dockerfile:2` (`dockerfile-context-credential-file`): keeps `.npmrc`" in (
        fixes
    )
    assert "context-credential-file`): `COPY" not in plan.stdout  # no longer a manual task
    assert "Other findings to fix by hand" not in plan.stdout
    pushed = run("remediate", "--push", cwd=repo)
    assert pushed.returncode == 0, pushed.stderr
    assert git(remote, "show", f"{BRANCH}:web/.dockerignore").splitlines()[-1] == "/.npmrc"
    assert "/.env" in git(remote, "show", f"{BRANCH}:.dockerignore").splitlines()
    # The pushed tree no longer gives a broad COPY any credential file.
    check = tmp_path / "check"
    git(tmp_path, "clone", "-q", "-b", BRANCH, remote.as_uri(), str(check))
    scan = json.loads(run("scan", "-f", "json", ".", cwd=check).stdout)
    assert not [f for f in scan["findings"] if f["rule_id"] == "dockerfile-context-credential-file"]
    assert_clean(plan.stdout, plan.stderr, pushed.stdout, pushed.stderr)


def test_a_sweep_report_nested_without_end_is_bad_input(project: Project) -> None:
    deep = project.repo.parent / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    workdir = str(project.repo.parent / "w")
    for args in (["--sweep-report", str(deep)], ["--from-sweep", str(deep), "--workdir", workdir]):
        proc = run("remediate", *args, cwd=project.repo)
        assert proc.returncode == 2, proc.stderr
        assert f"{deep} is not JSON" in proc.stderr and "internal error" not in proc.stderr
