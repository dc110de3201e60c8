"""Line continuations cost the Dockerfile parser their number, not its square."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from leakguard.detectors.dockerfile import parse_dockerfile, scan_instructions
from leakguard.engine import Engine
from leakguard.rules import builtin_rules
from tests.conftest import fake


def steps(work: Callable[[], Any]) -> int:
    """Python lines executed by `work()` (comprehensions' iterations included):
    a count of interpreted work that no machine's speed changes."""
    count = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        work()
    finally:
        sys.settrace(None)
    return count


def _continued(n: int, line: Callable[[int], str]) -> str:
    body = "".join(line(i) + " \\\n" for i in range(n))
    return "FROM alpine\nRUN echo start \\\n" + body + " true\n"


def test_continuation_lines_are_parsed_in_linear_work():
    def parse(n: int) -> int:
        text = _continued(n, lambda i: f"  && echo word{i} more{i}")
        [_, run] = parse_dockerfile(text)
        assert run.end_line == n + 3 and run.arguments[-1].line == n + 3
        assert (run.arguments[3].line, run.arguments[3].column) == (3, 6)
        return steps(lambda: parse_dockerfile(text))

    small, large = parse(1000), parse(2000)
    assert large < 2.3 * small


def test_bare_continuations_are_parsed_in_linear_work():
    def parse(n: int) -> int:
        text = "FROM alpine\nRUN echo \\\n" + "\\\n" * n + "true\n"
        [_, run] = parse_dockerfile(text)
        assert [w.value for w in run.arguments] == ["echo", "true"]
        assert run.arguments[1].line == n + 3
        return steps(lambda: parse_dockerfile(text))

    small, large = parse(1000), parse(2000)
    assert large < 2.3 * small


def test_credentials_in_a_long_run_are_located_in_linear_work():
    engine = Engine(builtin_rules())

    def scan(n: int) -> int:
        values = [fake("", 16, seed=i) for i in range(n)]
        text = _continued(n, lambda i: f"  && curl -u admin:{values[i]} https://example.com/{i}")
        data = text.encode()
        instructions = parse_dockerfile(text)
        found = scan_instructions(engine, data, "Dockerfile", instructions)
        lines = {f.location.line for f in found if f.rule_id == "dockerfile-run-credential"}
        assert lines == set(range(3, n + 3))
        return steps(lambda: scan_instructions(engine, data, "Dockerfile", instructions))

    small, large = scan(300), scan(600)
    assert large < 2.3 * small


def test_many_build_arguments_and_runs_are_linear_work():
    # Each RUN used to go through every ARG in scope (and every finding so far).
    engine = Engine(builtin_rules())

    def scan(n: int) -> int:
        args = "".join(f"ARG API_TOKEN_{i}\n" for i in range(n))
        runs = "".join(f"RUN echo $API_TOKEN_{i} > /tmp/x{i}\n" for i in range(n))
        text = "FROM alpine\n" + args + runs
        data = text.encode()
        instructions = parse_dockerfile(text)
        found = scan_instructions(engine, data, "Dockerfile", instructions)
        lines = {f.location.line for f in found if f.rule_id == "dockerfile-secret-arg"}
        assert lines == set(range(2, n + 2))
        return steps(lambda: scan_instructions(engine, data, "Dockerfile", instructions))

    small, large = scan(200), scan(400)
    assert large < 2.3 * small
