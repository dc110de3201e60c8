"""Shared fixtures. Fake credentials are assembled at run time, so this tree
holds no literal token that a scanner (leakguard included) would report."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from pathlib import Path

import pytest

from leakguard.engine import Engine
from leakguard.models import Finding, Location
from leakguard.rules import RuleSet, builtin_rules

ALNUM = string.ascii_letters + string.digits


def fake(prefix: str, n: int, alphabet: str = ALNUM, seed: int | None = None) -> str:
    """A random, format-valid fake: `prefix` and `n` characters of `alphabet`."""
    rng = random.Random(seed if seed is not None else f"{prefix}{n}")
    return prefix + "".join(rng.choice(alphabet) for _ in range(n))


# Format-valid fakes used across tests.
GITHUB_PAT = fake("gh" + "p_", 36, seed=1)
AWS_KEY_ID = fake("AK" + "IA", 16, string.ascii_uppercase + "234567", seed=2)
STRIPE_KEY = fake("sk_" + "live_", 24, seed=3)
PASSWORD = "Tq9" + "vX2#mLp8wZ"


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine(builtin_rules())


@pytest.fixture
def scan_text(engine: Engine) -> Callable[..., list[Finding]]:
    def scan(
        text: str | bytes, path: str = "app.py", rules: RuleSet | None = None
    ) -> list[Finding]:
        data = text.encode() if isinstance(text, str) else text
        eng = Engine(rules) if rules is not None else engine
        return eng.scan_bytes(data, Location(path=path))

    return scan


@pytest.fixture
def leaky_tree(tmp_path: Path) -> Path:
    """A small project with three leaks and a clean file."""
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "app" / "settings.py").write_text(f'DEBUG = True\nGITHUB_TOKEN = "{GITHUB_PAT}"\n')
    (root / ".env").write_text(f"STRIPE_KEY={STRIPE_KEY}\nDB_PASSWORD={PASSWORD}\n")
    (root / "README.md").write_text("# demo\nNothing to see.\n")
    return root
