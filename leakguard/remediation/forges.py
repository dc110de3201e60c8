"""Open (or update) the remediation pull request on the forge that hosts the remote.

GitHub through PyGithub, GitLab through python-gitlab, Gitea/Forgejo through
their REST API over urllib (no maintained Python client covers both). The
pull request opened before is found by the hidden marker in its body, so a
second run updates it instead of opening another. Tokens come from the
environment or `git credential fill`; they are never printed, logged or
written anywhere.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from leakguard.errors import ChangeRefused, ExitCode, LeakguardError, TargetUnreadable, UsageError
from leakguard.remediation.guide import MARKER

log = logging.getLogger(__name__)

FORGES = ("github", "gitlab", "gitea")
LABELS = ("security", "leakguard")
TOKEN_VARIABLES = {
    "github": ("GITHUB_TOKEN", "GH_TOKEN"),
    "gitlab": ("GITLAB_TOKEN",),
    "gitea": ("GITEA_TOKEN",),
}
MAX_WAIT_S = 60.0  # the longest a rate limit is waited out, in all
T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """Where the pull request goes: forge kind, API base URL and `owner/name`."""

    forge: str
    api_url: str
    slug: str
    host: str


@dataclass(frozen=True)
class Opened:
    url: str
    number: int
    created: bool


def parse_remote(url: str) -> tuple[str, str]:
    """(host, repository path) from a remote URL: https, ssh, scp-like or git://."""
    m = re.fullmatch(r"(?:[^@/]+@)?([^:/]+):(?!//)(.+)", url)
    if "://" not in url and m:
        host, path = m.group(1), m.group(2)
    else:
        parts = urllib.parse.urlsplit(url)
        host, path = parts.hostname or "", parts.path
    path = "/".join(p for p in path.strip("/").removesuffix(".git").split("/") if p)
    if path.count("/") < 1:
        raise UsageError(
            "cannot tell the repository from the remote URL",
            hint="the remote should be HOST/OWNER/NAME",
        )
    return host, path


def target_for(url: str, forge: str | None, api_url: str | None) -> Target:
    host, path = parse_remote(url)
    if api_url is not None:
        parts = urllib.parse.urlsplit(api_url)
        if parts.username or parts.password:
            raise UsageError("--api-url holds a credential; refusing it",
                             hint="give the token in the environment instead")  # fmt: skip
        if parts.scheme not in ("http", "https"):
            raise UsageError("--api-url must be an http(s) URL")
    kind = forge or _guess(host)
    if kind is None:
        raise UsageError(
            f"cannot tell which forge hosts {host or 'the remote'}",
            hint="pass --forge github|gitlab|gitea (and --api-url for a self-hosted one)",
        )
    if api_url is None:
        if kind == "github":
            api_url = "https://api.github.com" if host == "github.com" else f"https://{host}/api/v3"
        elif kind == "gitlab":
            api_url = f"https://{host}"
        else:
            api_url = f"https://{host}/api/v1"
    # GitLab groups nest (group/sub/name); GitHub and Gitea are OWNER/NAME.
    slug = path if kind == "gitlab" else "/".join(path.split("/")[-2:])
    api_host = urllib.parse.urlsplit(api_url).netloc or host  # host[:port], as git names it
    return Target(kind, api_url.rstrip("/"), slug, api_host)


def _guess(host: str) -> str | None:
    if host == "github.com" or host.startswith("github."):
        return "github"
    if "gitlab" in host:
        return "gitlab"
    if any(word in host for word in ("gitea", "forgejo", "codeberg")):
        return "gitea"
    return None


def find_token(target: Target, env: Mapping[str, str] | None = None) -> str:
    from leakguard.remediation.gitops import no_prompt_env

    env = os.environ if env is None else env
    for name in TOKEN_VARIABLES[target.forge]:
        if env.get(name):
            return env[name]
    scheme = urllib.parse.urlsplit(target.api_url).scheme
    try:
        proc = subprocess.run(
            ["git", "credential", "fill"],
            input=f"protocol={scheme}\nhost={target.host}\n\n", capture_output=True, text=True,
            env=no_prompt_env(), timeout=30,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        proc = None
    if proc is not None and proc.returncode == 0:
        for line in proc.stdout.splitlines():
            if line.startswith("password="):
                return line.removeprefix("password=")
    names = " or ".join(TOKEN_VARIABLES[target.forge])
    raise UsageError(
        f"no token for {target.forge} at {target.host}",
        hint=f"set {names}, or store one with `git credential approve`",
    )


class ForgeError(LeakguardError):
    """The forge answered with an error (mapped to exit 3 or 4)."""


def error_for(status: int, what: str, detail: str = "") -> LeakguardError:
    detail = f" ({detail[:160]})" if detail else ""
    if status == 401:
        return ForgeError(f"{what}: the forge rejected the token (401){detail}",
                          hint="check the token is valid and not expired",
                          exit_code=ExitCode.UNREADABLE)  # fmt: skip
    if status == 403:
        return ForgeError(f"{what}: the token may not do this (403){detail}",
                          hint="the token needs write access to pull requests",
                          exit_code=ExitCode.REFUSED)  # fmt: skip
    if status == 404:
        return ForgeError(f"{what}: repository not found (404){detail}",
                          hint="check --api-url, the remote URL, and that the token can see it",
                          exit_code=ExitCode.UNREADABLE)  # fmt: skip
    if status in (409, 422):
        return ForgeError(f"{what}: the forge refused the request ({status}){detail}",
                          hint="the branch may be behind its base or a pull request conflicts",
                          exit_code=ExitCode.REFUSED)  # fmt: skip
    if status == 429:
        return ForgeError(f"{what}: rate limited (429){detail}",
                          hint="wait until the limit resets and run again",
                          exit_code=ExitCode.UNREADABLE)  # fmt: skip
    return ForgeError(f"{what}: the forge failed ({status}){detail}",
                      hint="try again later", exit_code=ExitCode.UNREADABLE)  # fmt: skip


def rate_limit_wait(
    status: int, headers: Mapping[str, str], now: float | None = None
) -> float | None:
    """Seconds to wait before retrying, None when this is not a rate limit."""
    h = {k.lower(): v for k, v in headers.items()}
    if status not in (403, 429):
        return None
    if "retry-after" in h:
        try:
            return max(0.0, float(h["retry-after"]))
        except ValueError:
            return MAX_WAIT_S + 1
    if h.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in h:
        try:
            return max(0.0, float(h["x-ratelimit-reset"]) - (now or time.time()))
        except ValueError:
            return MAX_WAIT_S + 1
    if h.get("ratelimit-remaining") == "0" and "ratelimit-reset" in h:  # GitLab
        try:
            return max(0.0, float(h["ratelimit-reset"]) - (now or time.time()))
        except ValueError:
            return MAX_WAIT_S + 1
    return None if status == 403 else 1.0


class _Retry(Exception):
    def __init__(self, status: int, headers: Mapping[str, str], detail: str):
        self.status, self.headers, self.detail = status, headers, detail


def with_retries(what: str, call: Callable[[], T], budget: float = MAX_WAIT_S) -> T:
    """Run `call`; wait out rate limits and retry a 5xx once, within `budget` seconds."""
    server_errors = 0
    while True:
        try:
            return call()
        except _Retry as r:
            wait = rate_limit_wait(r.status, r.headers)
            if wait is None and r.status >= 500 and server_errors == 0:
                server_errors += 1
                wait = 1.0
            if wait is None or wait > budget:
                if wait is not None and r.status in (403, 429):
                    raise ForgeError(
                        f"{what}: rate limited for another {int(wait)}s",
                        hint="run again after the limit resets",
                        exit_code=ExitCode.UNREADABLE,
                    ) from None
                raise error_for(r.status, what, r.detail) from None
            log.info("%s: waiting %.1fs (HTTP %d)", what, wait, r.status)
            time.sleep(wait)
            budget -= wait


# -- GitHub -------------------------------------------------------------------------


def _github_client(target: Target, token: str) -> Any:
    import github

    return github.Github(
        auth=github.Auth.Token(token), base_url=target.api_url, retry=None, timeout=30,
        seconds_between_requests=None, seconds_between_writes=None,
    )  # fmt: skip


def _github_find(target: Target, repo: Any, head: str, base: str) -> Any:
    owner = target.slug.split("/", 1)[0]
    for pr in repo.get_pulls(state="open", head=f"{owner}:{head}", base=base):
        if MARKER in (pr.body or ""):
            return pr
    return None


def _github_open(target: Target, token: str, head: str, base: str) -> str | None:
    import github

    client = _github_client(target, token)

    def run() -> str | None:
        try:
            found = _github_find(target, client.get_repo(target.slug, lazy=True), head, base)
            return str(found.html_url) if found is not None else None
        except github.GithubException as e:
            raise _Retry(e.status, dict(e.headers or {}), _message(e.data)) from None

    return with_retries("GitHub", run)


def _github(target: Target, token: str, title: str, body: str, head: str, base: str) -> Opened:
    import github

    client = _github_client(target, token)

    def run() -> Opened:
        try:
            repo = client.get_repo(target.slug, lazy=True)
            found = _github_find(target, repo, head, base)
            if found is not None:
                found.edit(title=title, body=body)
                pr, created = found, False
            else:
                pr = repo.create_pull(base=base, head=head, title=title, body=body)
                created = True
            pr.add_to_labels(*LABELS)
            return Opened(pr.html_url, pr.number, created)
        except github.GithubException as e:
            raise _Retry(e.status, dict(e.headers or {}), _message(e.data)) from None

    return with_retries("GitHub", run)


def _message(data: Any) -> str:
    if isinstance(data, dict):
        parts = [str(data.get("message") or "")]
        errors = data.get("errors") or []
        parts.extend(str(e["message"]) for e in errors if isinstance(e, dict) and e.get("message"))
        return "; ".join(p for p in parts if p)
    return str(data or "")[:160]


# -- GitLab -------------------------------------------------------------------------


def _gitlab_find(project: Any, head: str, base: str) -> Any:
    for mr in project.mergerequests.list(
        state="opened", source_branch=head, target_branch=base, get_all=False
    ):
        if MARKER in (mr.description or ""):
            return mr
    return None


def _gitlab_call(target: Target, token: str, call: Callable[[Any], T]) -> T:
    """`call(project)` with GitLab's errors as this module's."""
    import gitlab
    import requests

    client = gitlab.Gitlab(target.api_url, private_token=token, timeout=30,
                           retry_transient_errors=False)  # fmt: skip

    def run() -> T:
        try:
            return call(client.projects.get(target.slug, lazy=True))
        except gitlab.exceptions.GitlabError as e:
            headers: dict[str, str] = {}
            status = e.response_code or 0
            if isinstance(e, gitlab.exceptions.GitlabHttpError | gitlab.exceptions.GitlabError):
                headers = dict(getattr(getattr(e, "response", None), "headers", None) or {})
            raise _Retry(status, headers, str(e.error_message)[:160]) from None
        except requests.RequestException as e:
            raise TargetUnreadable(f"GitLab: cannot reach {target.api_url}: "
                                   f"{type(e).__name__}") from None  # fmt: skip

    return with_retries("GitLab", run)


def _gitlab_open(target: Target, token: str, head: str, base: str) -> str | None:
    def find(project: Any) -> str | None:
        found = _gitlab_find(project, head, base)
        return str(found.web_url) if found is not None else None

    return _gitlab_call(target, token, find)


def _gitlab(target: Target, token: str, title: str, body: str, head: str, base: str) -> Opened:
    def run(project: Any) -> Opened:
        found = _gitlab_find(project, head, base)
        labels = ",".join(LABELS)
        if found is not None:
            data = {"title": title, "description": body, "add_labels": labels}
            updated = project.mergerequests.update(found.iid, data)
            return Opened(str(updated["web_url"]), int(updated["iid"]), False)
        mr = project.mergerequests.create({
            "source_branch": head, "target_branch": base, "title": title,
            "description": body, "labels": labels, "remove_source_branch": True,
        })  # fmt: skip
        return Opened(str(mr.web_url), int(mr.iid), True)

    return _gitlab_call(target, token, run)


# -- Gitea / Forgejo ---------------------------------------------------------------


class _Gitea:
    def __init__(self, target: Target, token: str):
        self.base = f"{target.api_url}/repos/{target.slug}"
        self._token = token

    def call(self, method: str, path: str, payload: object | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"token {self._token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            detail = ""
            try:
                detail = _message(json.loads(e.read() or b"{}"))
            except ValueError:
                pass
            raise _Retry(e.code, dict(e.headers.items()), detail) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise TargetUnreadable(f"Gitea: cannot reach the API: {reason}") from None
        return json.loads(raw) if raw else None


def _gitea_find(api: _Gitea, head: str) -> Any:
    for page in range(1, 11):
        pulls = api.call("GET", f"/pulls?state=open&page={page}&limit=50") or []
        found = next((p for p in pulls if p.get("head", {}).get("ref") == head
                      and MARKER in (p.get("body") or "")), None)  # fmt: skip
        if found is not None or len(pulls) < 50:
            return found
    return None


def _gitea_open(target: Target, token: str, head: str, base: str) -> str | None:
    api = _Gitea(target, token)

    def run() -> str | None:
        found = _gitea_find(api, head)
        return str(found["html_url"]) if found is not None else None

    return with_retries("Gitea", run)


def _gitea(target: Target, token: str, title: str, body: str, head: str, base: str) -> Opened:
    api = _Gitea(target, token)

    def run() -> Opened:
        labels = api.call("GET", "/labels") or []
        ids = [int(lb["id"]) for lb in labels if lb.get("name") in LABELS]
        found = _gitea_find(api, head)
        if found is not None:
            number = int(found["number"])
            payload: dict[str, Any] = {"title": title, "body": body}
            if ids:
                payload["labels"] = ids
            pr = api.call("PATCH", f"/pulls/{number}", payload)
            return Opened(str(pr["html_url"]), int(pr["number"]), False)
        payload = {"head": head, "base": base, "title": title, "body": body}
        if ids:
            payload["labels"] = ids
        pr = api.call("POST", "/pulls", payload)
        return Opened(str(pr["html_url"]), int(pr["number"]), True)

    return with_retries("Gitea", run)


_OPENERS = {"github": _github, "gitlab": _gitlab, "gitea": _gitea}
_FINDERS = {"github": _github_open, "gitlab": _gitlab_open, "gitea": _gitea_open}


def still_open(target: Target, token: str, head: str, base: str) -> str | None:
    """The URL of the pull request an earlier run opened from `head`, if it is still open."""
    finder = _FINDERS[target.forge]
    return _without_token(target, token, TargetUnreadable, "looking for the open pull request",
                          lambda: finder(target, token, head, base))  # fmt: skip


def open_or_update(target: Target, token: str, title: str, body: str, head: str,
                   base: str) -> Opened:  # fmt: skip
    """Open the pull request, or update the one this opened before (by its marker)."""
    opener = _OPENERS[target.forge]
    return _without_token(target, token, ChangeRefused, "opening the pull request",
                          lambda: opener(target, token, title, body, head, base))  # fmt: skip


def _without_token(
    target: Target, token: str, error: type[LeakguardError], doing: str, call: Callable[[], T]
) -> T:
    """`call()`, with the token kept out of any error it raises."""
    try:
        return call()
    except LeakguardError as e:
        e.message = e.message.replace(token, "***")
        raise
    except Exception as e:  # a client library's own failure: never with the token
        raise error(
            f"{target.forge}: {type(e).__name__} while {doing}",
            hint="run again with --verbose for details",
        ) from None
