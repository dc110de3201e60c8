"""Run a composite GitHub Action's steps as the Actions runner does, on this machine.

The runner's part is small and documented: `${{ }}` expressions are replaced
in `env`, `with`, `working-directory` and `run`; a `run:` step is a bash script
(`bash --noprofile --norc -eo pipefail`) started in the workspace; each step
gets fresh GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and GITHUB_PATH files, read back
after it (outputs into `steps.ID.outputs`, path lines onto PATH); a step runs
when its `if:` holds (default `success()`). `uses:` steps are recorded with
their evaluated `with:`, not run: they are other projects' actions.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_TOKEN = re.compile(r"\s*(&&|\|\||==|!=|!|\(|\)|'(?:[^']|'')*'|[A-Za-z_][\w.\-]*)")


@dataclass
class StepRun:
    name: str
    ran: bool
    code: int = 0
    stdout: str = ""
    stderr: str = ""
    uses: str | None = None
    with_: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]
    summary: str

    @property
    def failed(self) -> bool:
        return any(s.code != 0 for s in self.steps)

    def step(self, name: str) -> StepRun:
        return next(s for s in self.steps if s.name == name)

    @property
    def log(self) -> str:
        return "\n".join(s.stdout + s.stderr for s in self.steps)


class Expressions:
    """The part of the Actions expression language a composite action uses:
    context lookups, string literals, `== != ! && ||`, parentheses and the
    status functions."""

    def __init__(self, contexts: dict[str, Any], failed: bool = False):
        self.contexts = contexts
        self.failed = failed

    def substitute(self, text: str) -> str:
        return _EXPR.sub(lambda m: _string(self.evaluate(m[1])), text)

    def evaluate(self, expr: str) -> Any:
        tokens = _TOKEN.findall(expr)
        assert "".join(tokens).replace(" ", "") == expr.replace(" ", ""), expr
        self.tokens, self.at = tokens, 0
        value = self._or()
        assert self.at == len(tokens), expr
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self) -> str:
        self.at += 1
        return self.tokens[self.at - 1]

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            value = value if _truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._compare()
        while self._peek() == "&&":
            self._take()
            right = self._compare()
            value = right if _truthy(value) else value
        return value

    def _compare(self) -> Any:
        value = self._unary()
        while self._peek() in ("==", "!="):
            op = self._take()
            right = self._unary()
            same = _string(value).lower() == _string(right).lower()
            value = same if op == "==" else not same
        return value

    def _unary(self) -> Any:
        token = self._take()
        if token == "!":
            return not _truthy(self._unary())
        if token == "(":
            value = self._or()
            assert self._take() == ")"
            return value
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if self._peek() == "(":
            self._take()
            assert self._take() == ")"
            return {"always": True, "success": not self.failed, "failure": self.failed,
                    "cancelled": False}[token]  # fmt: skip
        if token in ("true", "false"):
            return token == "true"
        value: Any = self.contexts
        for part in token.split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        return value


def _truthy(value: Any) -> bool:
    return bool(value) and value != "false"


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _read_outputs(path: Path) -> dict[str, str]:
    outputs: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for more in lines:
                if more == delimiter:
                    break
                body.append(more)
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def run_action(
    action_dir: Path,
    *,
    inputs: dict[str, str],
    github: dict[str, str],
    env: dict[str, str],
    work: Path,
) -> ActionRun:
    """Run the composite action in `action_dir` with `inputs`; `github` holds the
    github context (workspace, event_name, event_path, ...), `env` the runner's
    environment, `work` a folder for the runner's own files."""
    action = yaml.safe_load((action_dir / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    declared = action.get("inputs", {})
    unknown = set(inputs) - set(declared)
    assert not unknown, f"inputs the action does not declare: {unknown}"
    values = {name: str(spec.get("default", "")) for name, spec in declared.items()}
    values.update(inputs)
    runner_temp = work / "runner-temp"
    runner_temp.mkdir(parents=True, exist_ok=True)
    github = {"action_path": str(action_dir), **github}
    contexts: dict[str, Any] = {
        "inputs": values, "github": github, "runner": {"temp": str(runner_temp)},
        "steps": {}, "env": env,
    }  # fmt: skip
    base = {
        **env,
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_WORKSPACE": github["workspace"],
        "GITHUB_EVENT_NAME": github["event_name"],
        "GITHUB_EVENT_PATH": github["event_path"],
        "GITHUB_ACTION_PATH": str(action_dir),
    }
    steps: list[StepRun] = []
    summary = ""
    failed = False
    for number, step in enumerate(action["runs"]["steps"]):
        name = step.get("name") or step.get("id") or f"step {number}"
        condition = str(step.get("if", "success()"))
        condition = _EXPR.sub(lambda m: m[1], condition)
        expressions = Expressions(contexts, failed)
        if not _truthy(expressions.evaluate(condition)):
            steps.append(StepRun(name, ran=False, uses=step.get("uses")))
            continue
        if "uses" in step:
            with_ = {k: expressions.substitute(str(v)) for k, v in step.get("with", {}).items()}
            steps.append(StepRun(name, ran=True, uses=step["uses"], with_=with_))
            continue
        assert step.get("shell") == "bash", f"{name}: only bash steps are run here"
        files = {key: work / f"{key.lower()}-{number}" for key in
                 ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_PATH", "GITHUB_ENV")}  # fmt: skip
        for path in files.values():
            path.write_text("")
        step_env = {**base, **{k: str(v) for k, v in files.items()}}
        step_env.update({k: expressions.substitute(str(v)) for k, v in step.get("env", {}).items()})
        script = work / f"step-{number}.sh"
        script.write_text(expressions.substitute(step["run"]))
        cwd = expressions.substitute(str(step.get("working-directory", github["workspace"])))
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd, env=step_env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        steps.append(StepRun(name, True, proc.returncode, proc.stdout, proc.stderr))
        if "id" in step:
            contexts["steps"][step["id"]] = {
                "outputs": _read_outputs(files["GITHUB_OUTPUT"]),
                "outcome": "success" if proc.returncode == 0 else "failure",
            }
        summary += files["GITHUB_STEP_SUMMARY"].read_text()
        for line in reversed(files["GITHUB_PATH"].read_text().splitlines()):
            base["PATH"] = f"{line}{os.pathsep}{base['PATH']}"
        if proc.returncode != 0:
            failed = True
    expressions = Expressions(contexts, failed)
    outputs = {
        name: expressions.substitute(str(spec["value"]))
        for name, spec in action.get("outputs", {}).items()
    }
    return ActionRun(steps, outputs, summary)
