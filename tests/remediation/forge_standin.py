"""A stand-in of the forge REST APIs (GitHub, GitLab v4, Gitea/Forgejo), for tests.

Not a forge: it implements exactly the endpoints `leakguard remediate --open`
uses, with the request fields, response fields, error bodies and rate-limit
headers those forges document:

GitHub (docs.github.com/rest, API version 2022-11-28)
  GET   /repos/{owner}/{repo}/pulls?state=&head=OWNER:BRANCH&base=   list pull requests
  POST  /repos/{owner}/{repo}/pulls            {title, head, base, body}  -> 201
  PATCH /repos/{owner}/{repo}/pulls/{number}   {title, body}              -> 200
  POST  /repos/{owner}/{repo}/issues/{number}/labels   {labels: [names]} or [names] -> 200
  errors: {"message", "documentation_url"[, "errors": [{resource, code, message}]]};
  rate limits: 403/429 with x-ratelimit-remaining: 0 + x-ratelimit-reset, or retry-after.
GitLab v4 (docs.gitlab.com/api/merge_requests)
  GET  /api/v4/projects/{id}/merge_requests?state=opened&source_branch=&target_branch=
  POST /api/v4/projects/{id}/merge_requests   {source_branch, target_branch, title,
                                               description, labels}        -> 201
  PUT  /api/v4/projects/{id}/merge_requests/{iid}  {title, description, add_labels} -> 200
  auth: PRIVATE-TOKEN header; errors: {"message": ...}; 409 for a second open MR.
Gitea/Forgejo (the /api/v1 swagger: CreatePullRequestOption, EditPullRequestOption)
  GET   /api/v1/repos/{owner}/{repo}/labels
  GET   /api/v1/repos/{owner}/{repo}/pulls?state=open&page=&limit=
  POST  /api/v1/repos/{owner}/{repo}/pulls      {head, base, title, body, labels: [ids]} -> 201
  PATCH /api/v1/repos/{owner}/{repo}/pulls/{index}  {title, body, labels: [ids]}         -> 201
  auth: "Authorization: token T"; errors: {"message", "url"}; 409 for a second open PR.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

GITHUB_DOCS = "https://docs.github.com/rest"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Failure:
    method: str
    pattern: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    times: int = 1


class ForgeStandIn:
    """The state of one stand-in server: pull requests, labels, requests seen."""

    def __init__(self, token: str, slug: str = "team/app"):
        self.token = token
        self.slug = slug
        self.pulls: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        self.failures: list[Failure] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ForgeStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, method: str, pattern: str, status: int, headers: dict[str, str] | None = None,
             body: dict[str, Any] | None = None, times: int = 1) -> None:  # fmt: skip
        """Answer the next `times` matching requests with this error."""
        self.failures.append(Failure(method, pattern, status, headers or {}, body or {}, times))

    def everything_sent(self) -> bytes:
        return b"\n".join(r.path.encode() + b"\n" + r.body for r in self.requests)

    # -- request handling ---------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, self.path, dict(self.headers.items()), body)
                with standin._lock:
                    standin.requests.append(req)
                    status, headers, payload = standin.route(req)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = _serve

        return Handler

    def route(self, req: Request) -> tuple[int, dict[str, str], Any]:
        for failure in self.failures:
            if (
                failure.times > 0
                and failure.method == req.method
                and re.search(failure.pattern, req.path)
            ):
                failure.times -= 1
                return failure.status, failure.headers, failure.body
        path = urlsplit(req.path).path
        if path.startswith("/api/v4/"):
            return self._gitlab(req, path)
        if path.startswith("/api/v1/"):
            return self._gitea(req, path)
        return self._github(req, path)

    def _json(self, req: Request) -> dict[str, Any]:
        data = json.loads(req.body or b"{}")
        assert isinstance(data, dict)
        return data

    def _query(self, req: Request) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(req.path).query).items()}

    # GitHub --------------------------------------------------------------------

    def _github_pr(self, pr: dict[str, Any]) -> dict[str, Any]:
        n = pr["number"]
        api = f"{self.url}/repos/{self.slug}"
        owner = self.slug.split("/")[0]
        return {
            "url": f"{api}/pulls/{n}", "id": 1000 + n, "number": n, "state": pr["state"],
            "title": pr["title"], "body": pr["body"],
            "html_url": f"https://github.example/{self.slug}/pull/{n}",
            "issue_url": f"{api}/issues/{n}",
            "head": {"ref": pr["head"], "label": f"{owner}:{pr['head']}"},
            "base": {"ref": pr["base"], "label": f"{owner}:{pr['base']}"},
            "labels": [{"id": i, "name": name, "color": "ededed", "default": False}
                       for i, name in enumerate(pr["labels"], 1)],
        }  # fmt: skip

    def _github(self, req: Request, path: str) -> tuple[int, dict[str, str], Any]:
        auth = req.headers.get("Authorization", "")
        if auth not in (f"token {self.token}", f"Bearer {self.token}"):
            return 401, {}, {"message": "Bad credentials", "documentation_url": GITHUB_DOCS}
        prefix = f"/repos/{self.slug}"
        if not path.startswith(prefix):
            return 404, {}, {"message": "Not Found", "documentation_url": GITHUB_DOCS}
        rest = path[len(prefix) :]
        owner = self.slug.split("/")[0]
        if rest == "/pulls" and req.method == "GET":
            q = self._query(req)
            found = [p for p in self.pulls if (q.get("state", "open") in ("all", p["state"]))
                     and ("head" not in q or q["head"] == f"{owner}:{p['head']}")
                     and ("base" not in q or q["base"] == p["base"])]  # fmt: skip
            return 200, {}, [self._github_pr(p) for p in found]
        if rest == "/pulls" and req.method == "POST":
            data = self._json(req)
            if not all(data.get(k) for k in ("title", "head", "base")):
                return (
                    422,
                    {},
                    {
                        "message": "Validation Failed",
                        "documentation_url": GITHUB_DOCS,
                        "errors": [{"resource": "PullRequest", "code": "missing_field"}],
                    },
                )
            if any(p["head"] == data["head"] and p["state"] == "open" for p in self.pulls):
                return 422, {}, {"message": "Validation Failed", "documentation_url": GITHUB_DOCS,
                                 "errors": [{"resource": "PullRequest", "code": "custom",
                                             "message": "A pull request already exists for "
                                                        f"{owner}:{data['head']}."}]}  # fmt: skip
            pr = {"number": len(self.pulls) + 1, "state": "open", "title": data["title"],
                  "body": data.get("body", ""), "head": data["head"], "base": data["base"],
                  "labels": []}  # fmt: skip
            self.pulls.append(pr)
            return 201, {}, self._github_pr(pr)
        m = re.fullmatch(r"/pulls/(\d+)", rest)
        if m and req.method == "PATCH":
            pr = self._pull(int(m.group(1)))
            if pr is None:
                return 404, {}, {"message": "Not Found", "documentation_url": GITHUB_DOCS}
            data = self._json(req)
            pr.update({k: data[k] for k in ("title", "body", "state", "base") if k in data})
            return 200, {}, self._github_pr(pr)
        m = re.fullmatch(r"/issues/(\d+)/labels", rest)
        if m and req.method == "POST":
            pr = self._pull(int(m.group(1)))
            if pr is None:
                return 404, {}, {"message": "Not Found", "documentation_url": GITHUB_DOCS}
            # The documented body is one of {"labels": [names]} or [names] (PyGithub's).
            data = json.loads(req.body or b"[]")
            names = data.get("labels", []) if isinstance(data, dict) else data
            for name in names:
                if name not in pr["labels"]:
                    pr["labels"].append(name)
            return 200, {}, self._github_pr(pr)["labels"]
        return 404, {}, {"message": "Not Found", "documentation_url": GITHUB_DOCS}

    def _pull(self, number: int) -> dict[str, Any] | None:
        return next((p for p in self.pulls if p["number"] == number), None)

    # GitLab --------------------------------------------------------------------

    def _gitlab_mr(self, mr: dict[str, Any]) -> dict[str, Any]:
        n = mr["number"]
        return {
            "id": 5000 + n, "iid": n, "project_id": 7, "title": mr["title"],
            "description": mr["body"], "state": "opened" if mr["state"] == "open" else "closed",
            "source_branch": mr["head"], "target_branch": mr["base"], "labels": mr["labels"],
            "web_url": f"https://gitlab.example/{self.slug}/-/merge_requests/{n}",
        }  # fmt: skip

    def _gitlab(self, req: Request, path: str) -> tuple[int, dict[str, str], Any]:
        if req.headers.get("PRIVATE-TOKEN") != self.token:
            return 401, {}, {"message": "401 Unauthorized"}
        m = re.fullmatch(r"/api/v4/projects/([^/]+)/merge_requests(?:/(\d+))?", path)
        if not m or unquote(m.group(1)) != self.slug:
            return 404, {}, {"message": "404 Project Not Found"}
        if m.group(2) is None and req.method == "GET":
            q = self._query(req)
            state = {"opened": "open", "closed": "closed"}.get(q.get("state", ""), None)
            found = [p for p in self.pulls if (state is None or p["state"] == state)
                     and q.get("source_branch", p["head"]) == p["head"]
                     and q.get("target_branch", p["base"]) == p["base"]]  # fmt: skip
            return 200, {}, [self._gitlab_mr(p) for p in found]
        if m.group(2) is None and req.method == "POST":
            data = self._json(req)
            if not all(data.get(k) for k in ("source_branch", "target_branch", "title")):
                return 400, {}, {"error": "title is missing"}
            if any(p["head"] == data["source_branch"] and p["state"] == "open"
                   for p in self.pulls):  # fmt: skip
                return 409, {}, {"message": ["Another open merge request already exists for "
                                             "this source branch"]}  # fmt: skip
            mr = {"number": len(self.pulls) + 1, "state": "open", "title": data["title"],
                  "body": data.get("description", ""), "head": data["source_branch"],
                  "base": data["target_branch"],
                  "labels": [x for x in str(data.get("labels", "")).split(",") if x]}  # fmt: skip
            self.pulls.append(mr)
            return 201, {}, self._gitlab_mr(mr)
        if m.group(2) is not None and req.method == "PUT":
            mr = self._pull(int(m.group(2)))
            if mr is None:
                return 404, {}, {"message": "404 Not found"}
            data = self._json(req)
            if "title" in data:
                mr["title"] = data["title"]
            if "description" in data:
                mr["body"] = data["description"]
            for name in str(data.get("add_labels", "")).split(","):
                if name and name not in mr["labels"]:
                    mr["labels"].append(name)
            return 200, {}, self._gitlab_mr(mr)
        return 404, {}, {"message": "404 Not found"}

    # Gitea / Forgejo -------------------------------------------------------------

    LABELS = ({"id": 11, "name": "security"}, {"id": 12, "name": "leakguard"},
              {"id": 13, "name": "bug"})  # fmt: skip

    def _gitea_pr(self, pr: dict[str, Any]) -> dict[str, Any]:
        n = pr["number"]
        return {
            "id": 9000 + n, "number": n, "title": pr["title"], "body": pr["body"],
            "state": pr["state"], "html_url": f"https://gitea.example/{self.slug}/pulls/{n}",
            "head": {"ref": pr["head"], "label": pr["head"]},
            "base": {"ref": pr["base"], "label": pr["base"]},
            "labels": [dict(lb, color="e11d21") for lb in self.LABELS
                       if lb["id"] in pr["labels"]],
        }  # fmt: skip

    def _gitea(self, req: Request, path: str) -> tuple[int, dict[str, str], Any]:
        if req.headers.get("Authorization") != f"token {self.token}":
            return 401, {}, {"message": "token is required", "url": f"{self.url}/api/swagger"}
        prefix = f"/api/v1/repos/{self.slug}"
        if not path.startswith(prefix):
            return 404, {}, {"message": "The target couldn't be found.", "errors": []}
        rest = path[len(prefix) :]
        if rest == "/labels" and req.method == "GET":
            return 200, {}, [dict(lb, color="e11d21") for lb in self.LABELS]
        if rest == "/pulls" and req.method == "GET":
            q = self._query(req)
            found = [p for p in self.pulls if q.get("state", "open") in ("all", p["state"])]
            page, limit = int(q.get("page", 1)), int(q.get("limit", 30))
            return 200, {}, [self._gitea_pr(p) for p in found[(page - 1) * limit : page * limit]]
        if rest == "/pulls" and req.method == "POST":
            data = self._json(req)
            if any(p["head"] == data.get("head") and p["state"] == "open" for p in self.pulls):
                return 409, {}, {"message": "pull request already exists for these targets",
                                 "url": f"{self.url}/api/swagger"}  # fmt: skip
            if not all(data.get(k) for k in ("head", "base", "title")):
                return 422, {}, {"message": "[Title]: Required", "url": ""}
            pr = {"number": len(self.pulls) + 1, "state": "open", "title": data["title"],
                  "body": data.get("body", ""), "head": data["head"], "base": data["base"],
                  "labels": list(data.get("labels", []))}  # fmt: skip
            self.pulls.append(pr)
            return 201, {}, self._gitea_pr(pr)
        m = re.fullmatch(r"/pulls/(\d+)", rest)
        if m and req.method == "PATCH":
            pr = self._pull(int(m.group(1)))
            if pr is None:
                return 404, {}, {"message": "The target couldn't be found.", "errors": []}
            data = self._json(req)
            pr.update({k: data[k] for k in ("title", "body", "labels") if k in data})
            return 201, {}, self._gitea_pr(pr)
        return 404, {}, {"message": "The target couldn't be found.", "errors": []}
