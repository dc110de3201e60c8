"""Properties over generated Compose files and Dockerfiles: after `migrate --apply`,
everything outside the changed spans is as it was, a second run plans nothing, and
no migrated value is left in the file."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakguard.detectors.dockerfile import parse_dockerfile
from tests.conftest import fake
from tests.migrators.conftest import Run

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

TOKENS = [fake("gh" + "p_", 36, seed=100 + i) for i in range(12)]
PLAIN = [("LOG_LEVEL", "debug"), ("PORT", "8000"), ("MODE", "'prod'"), ("TZ", '"UTC"')]
SECRET_KEYS = ["GITHUB_TOKEN", "API_TOKEN", "POSTGRES_PASSWORD", "MYSQL_PASSWORD", "CI_TOKEN"]


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


@st.composite
def compose_files(draw: st.DrawFn) -> tuple[str, list[str]]:
    names = draw(st.lists(st.sampled_from(["web", "api", "db", "worker"]), min_size=1,
                          max_size=3, unique=True))  # fmt: skip
    tokens = iter(TOKENS)
    used: list[str] = []
    out = ["# generated stack\n", "services:\n"]
    for name in names:
        out.append(f"  {name}:\n")
        if draw(st.booleans()):
            out.append("    # a comment that stays\n")
        image = draw(st.sampled_from(["example/app:1", "postgres:16", "mysql:8", "redis"]))
        out.append(f"    image: {image}\n")
        if draw(st.booleans()):
            out.append("    ports: ['127.0.0.1::80']  # flow style\n")
        keys = draw(st.lists(st.sampled_from(SECRET_KEYS), min_size=1, max_size=3, unique=True))
        plain = draw(st.lists(st.sampled_from(PLAIN), max_size=2, unique=True))
        as_list = draw(st.booleans())
        out.append("    environment:\n")
        entries = [(k, next(tokens)) for k in keys] + plain
        entries = draw(st.permutations(entries))
        for key, value in entries:
            if value in TOKENS:
                used.append(value)
            out.append(f"      - {key}={value.strip(chr(39) + chr(34))}\n" if as_list
                       else f"      {key}: {value}\n")  # fmt: skip
        if draw(st.booleans()):
            out.append("    restart: unless-stopped\n")
        if draw(st.booleans()):
            out.append("\n")
    if draw(st.booleans()):
        out.append("volumes:\n  data: {}\n")
    return "".join(out), used


@pytest.mark.slow
@given(compose_files())
@SETTINGS
def test_compose_migration_changes_only_the_secret_lines(
    leakguard: Callable[..., Run], case: tuple[str, list[str]]
) -> None:
    text, secrets = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "docker-compose.yml"
        path.write_text(text)
        run = leakguard("migrate", "--apply", str(root))
        assert run.code == 0, run.err
        new = path.read_text()
        assert not [s for s in secrets if s in new]
        kept = [ln for ln in text.splitlines() if not any(s in ln for s in secrets)]
        kept_without_env = [ln for ln in kept if ln.strip() != "environment:"]
        assert is_subsequence(kept_without_env, new.splitlines())
        stored = b"".join(p.read_bytes() for p in (root / "secrets").iterdir())
        assert all(s.encode() in stored for s in secrets)
        again = leakguard("migrate", "--apply", str(root))
        assert again.code == 0 and "moved 0 secret(s); wrote 0 file(s)" in again.err
        check = subprocess.run(["docker-compose", "-f", str(path), "config", "-q"],
                               capture_output=True, text=True)  # fmt: skip
        assert check.returncode == 0, check.stderr


@st.composite
def dockerfiles(draw: st.DrawFn) -> tuple[str, list[str]]:
    tokens = iter(TOKENS)
    out = ["FROM example/base:1\n"]
    secrets: list[str] = []
    for k in range(draw(st.integers(1, 3))):
        var = f"TOKEN_{k}"
        value = next(tokens)
        secrets.append(value)
        kind = draw(st.sampled_from(["arg", "env", "env-multi", "env-two", "inline"]))
        if draw(st.booleans()):
            out.append(f"# step {k}\n")
        if kind == "arg":
            out.append(f"ARG {var}={value}\n")
        elif kind == "env":
            out.append(f"ENV {var}={value}\n")
        elif kind == "env-multi":
            out.append(f"ENV MODE_{k}=prod \\\n    {var}={value} \\\n    LEVEL_{k}=3\n")
        elif kind == "env-two":
            other = next(tokens)
            secrets.append(other)
            out.append(f"ENV {var}={value} \\\n    {var}_B={other}\n")
        if draw(st.booleans()):
            out.append("WORKDIR /app\n")
        if kind == "inline":
            quote = draw(st.sampled_from(["'", '"', ""]))
            out.append(f"RUN echo {quote}Authorization: token {value}{quote} | wc -c\n")
        else:
            uses = draw(st.integers(1, 2))
            out.extend(f'RUN echo "${var}" | sha256sum > /{var.lower()}\n' for _ in range(uses))
            if kind == "env-two":
                out.append(f'RUN echo "${{{var}_B}}" | wc -c\n')
        if draw(st.booleans()):
            out.append("\n")
    out.append('CMD ["sh"]\n')
    return "".join(out), secrets


_MOUNT = re.compile(r" --mount=type=secret,id=\w+")
_EXPORT = re.compile(r'export \w+="\$\(cat /run/secrets/\w+\)" && ')


@pytest.mark.slow
@given(dockerfiles())
@SETTINGS
def test_dockerfile_migration_changes_only_the_secret_spans(
    leakguard: Callable[..., Run], case: tuple[str, list[str]]
) -> None:
    text, secrets = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "Dockerfile"
        path.write_text(text)
        run = leakguard("migrate", "--apply", str(root))
        assert run.code == 0, run.err
        new = path.read_text()
        parse_dockerfile(new)
        assert not [s for s in secrets if s in new]
        # Lines without a secret stay, in order; RUN lines only gain mounts and exports.
        unmounted = [_EXPORT.sub("", _MOUNT.sub("", ln)) for ln in new.splitlines()]
        kept = [ln for ln in text.splitlines() if not any(s in ln for s in secrets)]
        assert is_subsequence(kept, unmounted)
        assert leakguard("migrate", str(root)).code == 0


@pytest.mark.parametrize("n", [1])
def test_subsequence_helper_can_fail(n: int) -> None:
    assert not is_subsequence(["b", "a"], ["a", "b"])
    assert is_subsequence(["a", "c"], ["a", "b", "c"]) is bool(n)
