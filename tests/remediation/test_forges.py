"""`leakguard remediate --push --open` against a stand-in of each forge's REST API."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import fake
from tests.remediation.conftest import Project, assert_clean, git, run, snapshot
from tests.remediation.forge_standin import ForgeStandIn

TOKEN = fake("forge" + "tok_", 30, seed=40)
ENV_NAME = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN", "gitea": "GITEA_TOKEN"}


def api_url(forge: ForgeStandIn, kind: str) -> str:
    return forge.url + {"github": "", "gitlab": "", "gitea": "/api/v1"}[kind]


def open_pr(project: Project, forge: ForgeStandIn, kind: str, *extra: str, env=None):
    return run("remediate", "--push", "--open", "--forge", kind, "--api-url",
               api_url(forge, kind), *extra, cwd=project.repo,
               env={ENV_NAME[kind]: TOKEN, "GH_TOKEN": "", **(env or {})})  # fmt: skip


@pytest.mark.parametrize("kind", ["github", "gitlab", "gitea"])
def test_opens_one_pull_request_and_updates_it_on_the_next_run(
    project: Project, git_daemon: str, kind: str
):
    git(project.repo, "remote", "set-url", "origin", git_daemon)
    before = snapshot(project.repo)
    with ForgeStandIn(TOKEN) as forge:
        first = open_pr(project, forge, kind)
        assert first.returncode == 0, first.stderr
        assert "leakguard: opened https://" in first.stderr
        assert len(forge.pulls) == 1
        pr = forge.pulls[0]
        assert pr["head"] == "leakguard/remediate" and pr["base"] == "main"
        assert pr["title"].startswith("leakguard: move 3 secret(s)")
        assert pr["body"].startswith("<!-- leakguard-remediate -->")
        assert "## History purge plan" in pr["body"]
        labels = pr["labels"] if kind != "gitea" else [{11: "security", 12: "leakguard"}[i]
                                                       for i in pr["labels"]]  # fmt: skip
        assert set(labels) == {"security", "leakguard"}
        pr["body"] = pr["body"] + "\nedited on the forge\n"
        second = open_pr(project, forge, kind)
        assert second.returncode == 0, second.stderr
        assert "leakguard: updated https://" in second.stderr
        assert len(forge.pulls) == 1  # one pull request, updated
        assert "edited on the forge" not in forge.pulls[0]["body"]
        sent = forge.everything_sent()
        assert TOKEN.encode() not in sent
        assert_clean(sent, pr["title"], pr["body"], first.stdout + first.stderr,
                     second.stdout + second.stderr)  # fmt: skip
        assert TOKEN not in first.stdout + first.stderr + second.stdout + second.stderr
    assert snapshot(project.repo) == before
    assert TOKEN not in (project.repo / ".git" / "config").read_text()


def _expect_error(proc, code: int, words: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert words in proc.stderr
    assert "Traceback" not in proc.stderr and TOKEN not in proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 3  # error, hint, at most one note


def test_forge_errors_are_one_line_with_the_documented_exit_codes(
    project: Project, git_daemon: str
):
    git(project.repo, "remote", "set-url", "origin", git_daemon)
    with ForgeStandIn(TOKEN) as forge:
        bad = open_pr(project, forge, "github", env={"GITHUB_TOKEN": "wrong-token-value"})
        _expect_error(bad, 3, "rejected the token (401)")
        why = "No commits between main and leakguard/remediate"
        forge.fail("POST", r"/pulls$", 422, body={
            "message": "Validation Failed", "documentation_url": "https://docs.github.com/rest",
            "errors": [{"resource": "PullRequest", "code": "custom", "message": why}]})  # fmt: skip
        refused = open_pr(project, forge, "github")
        _expect_error(refused, 4, why)
        forge.fail("GET", r"/pulls", 502, body={"message": "Server Error"}, times=2)
        down = open_pr(project, forge, "github")
        _expect_error(down, 3, "the forge failed (502)")
        missing = run("remediate", "--push", "--open", "--forge", "gitea", "--api-url",
                      forge.url + "/api/v1/nowhere", cwd=project.repo,
                      env={"GITEA_TOKEN": TOKEN})  # fmt: skip
        _expect_error(missing, 3, "not found (404)")
        forge.fail("POST", r"/merge_requests$", 409, body={"message": ["Another open merge "
                   "request already exists for this source branch"]})  # fmt: skip
        conflict = open_pr(project, forge, "gitlab")
        _expect_error(conflict, 4, "refused the request (409)")
        assert forge.pulls == []
        assert_clean(forge.everything_sent())


def test_rate_limits_are_waited_out_within_a_bound(project: Project):
    with ForgeStandIn(TOKEN) as forge:
        forge.fail("GET", r"/pulls", 429, headers={"Retry-After": "1"}, body={
            "message": "You have exceeded a secondary rate limit",
            "documentation_url": "https://docs.github.com/rest"})  # fmt: skip
        started = time.monotonic()
        waited = open_pr(project, forge, "github")
        assert waited.returncode == 0, waited.stderr
        assert time.monotonic() - started >= 1.0 and len(forge.pulls) == 1
        reset = str(int(time.time()) + 3600)
        forge.fail("GET", r"/pulls", 403, times=5, headers={
            "x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": reset, "x-ratelimit-resource": "core"}, body={
            "message": "API rate limit exceeded for user ID 1.",
            "documentation_url": "https://docs.github.com/rest"})  # fmt: skip
        started = time.monotonic()
        limited = open_pr(project, forge, "github")
        assert time.monotonic() - started < 30
        _expect_error(limited, 3, "rate limited for another")


def test_tokens_come_from_git_credentials_and_never_from_the_command_line(
    project: Project, tmp_path: Path
):
    store = tmp_path / "credentials"
    config = tmp_path / "gitconfig"
    config.write_text(f"[credential]\n\thelper = store --file {store}\n")
    with ForgeStandIn(TOKEN) as forge:
        host = forge.url.removeprefix("http://")
        store.write_text(f"http://x-access-token:{TOKEN}@{host}\n")
        env = {"GIT_CONFIG_GLOBAL": str(config), "GITHUB_TOKEN": ""}
        proc = open_pr(project, forge, "github", env=env)
        assert proc.returncode == 0, proc.stderr
        assert len(forge.pulls) == 1 and TOKEN not in proc.stdout + proc.stderr
        on_line = open_pr(project, forge, "github", f"--token={TOKEN}")
        _expect_error(on_line, 2, "a token on the command line is refused")
        in_url = run("remediate", "--push", "--open", "--forge", "github", "--api-url",
                     f"http://user:{TOKEN}@{host}", cwd=project.repo)  # fmt: skip
        _expect_error(in_url, 2, "--api-url holds a credential")
        store.write_text("")
        none = open_pr(project, forge, "github", env={**env, "GITHUB_TOKEN": ""})
        _expect_error(none, 2, "no token for github")
    heads = git(project.remote, "for-each-ref", "--format=%(refname:short)", "refs/heads")
    assert heads.split() == ["leakguard/remediate", "main"]  # the fix, pushed once


@pytest.mark.parametrize("kind", ["github", "gitlab", "gitea"])
def test_nothing_left_to_fix_says_the_earlier_pull_request_is_still_open(
    project: Project, git_daemon: str, kind: str
):
    git(project.repo, "remote", "set-url", "origin", git_daemon)
    with ForgeStandIn(TOKEN) as forge:
        assert open_pr(project, forge, kind).returncode == 0
        # The history is rewritten without the secrets (and without the fix) and pushed.
        git(project.repo, "checkout", "-q", "--orphan", "clean")
        git(project.repo, "rm", "-rq", "--cached", ".")
        for name in ("Dockerfile", "docker-compose.yml", "deploy.sh"):
            (project.repo / name).unlink()
        (project.repo / "README.md").write_text("clean\n")
        git(project.repo, "add", "README.md")
        git(project.repo, "commit", "-qm", "clean")
        git(project.repo, "branch", "-M", "clean", "main")
        git(project.repo, "push", "-qf", "origin", "main")
        sent = len(forge.requests)
        again = open_pr(project, forge, kind)
        assert again.returncode == 0, again.stderr
        assert "nothing to fix: no branch pushed" in again.stderr
        assert "the pull request an earlier run opened is still open: https://" in again.stderr
        assert len(forge.pulls) == 1 and forge.pulls[0]["state"] in ("open", "opened")
        assert all(r.method == "GET" for r in forge.requests[sent:])  # left as it is
        plain = run("remediate", "--push", cwd=project.repo)
        assert plain.returncode == 0, plain.stderr
        assert "the branch leakguard/remediate an earlier run pushed is still on origin" in (
            plain.stderr
        )
        assert TOKEN not in again.stdout + again.stderr
