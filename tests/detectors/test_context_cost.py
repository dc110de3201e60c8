"""`.dockerignore` patterns and COPY sources match in time linear in the path,
whatever the pattern (Docker's own matcher does not backtrack)."""

from __future__ import annotations

import json
import random
import subprocess
import sys

from leakguard.detectors.context import DockerIgnore, _Glob, compile_pattern, parse_dockerignore
from leakguard.detectors.context import _source_glob as source_glob

_HOSTILE = r"""
import json, sys
from leakguard.detectors.context import DockerIgnore, copied_from_context, parse_dockerignore
from leakguard.detectors.dockerfile import parse_dockerfile

deep = "a/b/c/d/e/f/g"
stars = "*a" * 30 + "b"
out = {
    "dirs": DockerIgnore(tuple(parse_dockerignore("**/" * 60 + "z"))).excluded(deep),
    "dirs_z": DockerIgnore(tuple(parse_dockerignore("**/" * 60 + "z"))).excluded(deep + "/z"),
    "mixed": DockerIgnore(tuple(parse_dockerignore("*/**/" * 30 + "z"))).excluded(deep),
    "stars": DockerIgnore(tuple(parse_dockerignore(stars))).excluded("a" * 60),
    "stars_b": DockerIgnore(tuple(parse_dockerignore(stars))).excluded("a" * 60 + "b"),
    "copy": sorted(copied_from_context(
        parse_dockerfile(f"FROM x\nCOPY {stars} /app/\n"), ["a" * 60, "a" * 60 + "b", "ab"]
    )),
}
json.dump(out, sys.stdout)
"""


def test_hostile_patterns_are_answered_at_once():
    # Each of these backtracked for minutes (sixty `**/` against a 7-deep path
    # is billions of ways to split the path); the answers do not change.
    done = subprocess.run(
        [sys.executable, "-c", _HOSTILE], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout) == {
        "dirs": False,
        "dirs_z": True,
        "mixed": False,
        "stars": False,
        "stars_b": True,
        "copy": ["a" * 60 + "b"],
    }


def test_repeated_double_stars_are_one():
    for text, regex in [("**/" * 60 + "z", "^(.*/)?z$"), ("a/**/**/b", "^a/(.*/)?b$")]:
        glob = compile_pattern(text, False, 1).glob
        assert glob is not None and glob.regex.pattern == regex


def _stepped(glob: _Glob, path: str) -> bool:
    assert glob._steps is not None
    return glob._match_steps(glob._steps, path)


def test_stepping_matcher_agrees_with_the_regex():
    # The regex is the reference (it is what Docker's matcher is translated to);
    # the stepping matcher, used where the regex could backtrack, must agree.
    rng = random.Random(11)
    atoms = ["a", "b", "/", "*", "**", "**/", "?", ".", "[ab]", "[!a]", "[a-b]", "\\*", "x"]
    checked = 0
    for _ in range(3000):
        text = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 8)))
        globs = [source_glob(text)]
        try:
            pattern = compile_pattern(text, False, 1)
        except ValueError:
            pass  # not a pattern Docker accepts either
        else:
            if pattern.glob is not None and pattern.glob._steps is not None:
                globs.append(pattern.glob)
        for glob in globs:
            for _ in range(6):
                path = "".join(rng.choice("ab/x.*") for _ in range(rng.randint(0, 10)))
                assert _stepped(glob, path) == (glob.regex.match(path) is not None), (text, path)
                checked += 1
    assert checked > 20_000


def test_long_paths_and_many_wildcards_give_docker_answers():
    ignore = DockerIgnore(tuple(parse_dockerignore("**/*.env\n*/*/*/*.key\n!keep/**")))
    long = "/".join(["d"] * 400)
    assert ignore.excluded(long + "/app.env")
    assert not ignore.excluded(long + "/app.txt")
    assert ignore.excluded("a/b/c/id.key") and not ignore.excluded("a/b/id.key")
    assert not ignore.excluded("keep/x/app.env")


def test_parent_folders_are_matched_in_one_pass(monkeypatch):
    # With the stepping matcher (forced here for every path), the prefixes a
    # pattern matches come out of one pass over the path; they must be the
    # parent folders the regex matches one by one.
    from leakguard.detectors import context

    monkeypatch.setattr(context, "_LONG_PATH", 0)
    rng = random.Random(12)
    atoms = ["a", "b", "/", "*", "**", "**/", "?", "[ab]", "x"]
    checked = 0
    for _ in range(2000):
        text = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 7)))
        glob = source_glob(text)
        if glob._steps is None:
            continue
        for _ in range(6):
            path = "".join(rng.choice("ab/x\n") for _ in range(rng.randint(1, 12)))
            prefixes = [path] + [path[:k] for k in range(len(path)) if path[k] == "/"]
            expected = any(glob.regex.match(p) is not None for p in prefixes)
            assert glob.match_here_or_above(path) == expected, (text, path)
            checked += 1
    assert checked > 5000
