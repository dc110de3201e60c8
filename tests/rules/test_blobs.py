"""Random base64 text (certificates, data blobs, JSON `data` fields) spells every
provider's prefix now and then: a token glued to more base64 on either side is a
slice of the blob, and no provider rule reports it. A token written as tokens are
(assigned, quoted, alone on a line, inside a URL) is still reported.
"""

from __future__ import annotations

import base64
import json
import random
import re
from pathlib import Path

from leakguard.cli import main
from leakguard.engine import Engine
from leakguard.models import Location
from leakguard.rules import builtin_rules
from leakguard.rules.checks import crc32_base62
from tests.conftest import fake

ENGINE = Engine(builtin_rules())
PROVIDER_IDS = {rule.id for rule in ENGINE.ruleset if "provider" in rule.tags}
# The literal start of a provider token's pattern: `ghp_`, `EAACEdEose0cBA`, `GR1348941`.
_LITERAL_START = re.compile(r"\(\?P<secret>((?:\\[-_.]|[A-Za-z0-9_-])+)")


def provider_prefixes() -> list[bytes]:
    """The literal prefix of every provider rule whose token starts with one."""
    found = set()
    for rule in ENGINE.ruleset:
        if "provider" not in rule.tags:
            continue
        match = _LITERAL_START.search(rule.pattern)
        if match and len(match.group(1).replace("\\", "")) >= 2:
            found.add(match.group(1).replace("\\", "").encode())
    return sorted(found)


def blob_text(rng: random.Random, size: int) -> bytes:
    """`size` random bytes as base64 in every way files hold it: standard and URL-safe,
    wrapped at 64 and 76 columns and on one line, and inside JSON strings; with every
    provider prefix planted in it, at a line's start and glued inside a line."""
    raw = rng.randbytes(size)
    standard = base64.b64encode(raw)
    urlsafe = base64.urlsafe_b64encode(raw)
    prefixes = provider_prefixes()
    assert len(prefixes) > 100  # the planting reaches most provider rules

    def planted(text: bytes) -> bytes:
        # only what that alphabet can spell: `_` and `-` in URL-safe base64, `+` and `/`
        # in the standard one, `.` in neither
        alphabet = set(text)
        fits = [p for p in prefixes if set(p) <= alphabet]
        out = bytearray(text)
        step = max(1, len(out) // (len(fits) * 6))
        for i, at in enumerate(range(0, len(out) - 200, step)):
            prefix = fits[i % len(fits)]
            out[at : at + len(prefix)] = prefix
        return bytes(out)

    def wrapped(text: bytes, width: int) -> bytes:
        return b"\n".join(text[i : i + width] for i in range(0, len(text), width))

    # Wrapping after planting puts some prefixes at a line's start, the rest mid-line.
    parts = [
        wrapped(planted(standard), 64),
        wrapped(planted(standard[::-1]), 76),
        wrapped(planted(urlsafe), 64),
        wrapped(planted(urlsafe[::-1]), 76),
        planted(standard[: len(standard) // 4]),
        planted(urlsafe[: len(urlsafe) // 4]),
        b"\n".join(
            json.dumps({"data": chunk.decode(), "kind": "blob"}).encode()
            for chunk in wrapped(planted(standard[len(standard) // 2 :]), 3000).split(b"\n")
        ),
    ]
    return b"\n".join(parts) + b"\n"


def test_random_base64_blobs_give_no_provider_finding(tmp_path: Path) -> None:
    rng = random.Random(14)
    data = blob_text(rng, 700_000)
    assert len(data) > 3_000_000
    found = ENGINE.scan_bytes(data, Location(path="layer/data.b64"))
    assert sorted({f.rule_id for f in found if f.rule_id in PROVIDER_IDS}) == []


def test_the_same_tokens_written_as_tokens_are_reported(tmp_path: Path) -> None:
    """The blob guard looks at what touches a token, not at the token: assigned,
    quoted, alone on a line, in a URL's user or path, it is found."""
    body = fake("", 30, seed=171)
    pat = "gh" + "p_" + body + crc32_base62(body.encode()).decode()
    lines = [
        f"GITHUB_TOKEN={pat}",
        f'{{"token": "{pat}"}}',
        pat,
        f"git clone https://{pat}@github.com/acme/app.git",
        f"https://x-access-token:{pat}@github.com/acme/app.git",
        f"curl https://api.example.com/v1/keys/{pat}/revoke",
        f"Authorization: token {pat}",
    ]
    for line in lines:
        found = ENGINE.scan_bytes(line.encode() + b"\n", Location(path="deploy/run.sh"))
        assert [f.rule_id for f in found] == ["github-pat"], line
    for glued in (f"AAAA{pat}", f"x+{pat}", f"{pat}+Zm9v", f"{pat}==", f"Zm9v/{pat}/YmFy"):
        found = ENGINE.scan_bytes(glued.encode() + b"\n", Location(path="deploy/run.sh"))
        assert [f.rule_id for f in found if f.rule_id in PROVIDER_IDS] == [], glued


def test_a_layer_of_base64_is_clean_from_the_command_line(tmp_path: Path) -> None:
    root = tmp_path / "layer"
    root.mkdir()
    (root / "cert.txt").write_bytes(blob_text(random.Random(15), 200_000))
    out = tmp_path / "report.json"
    code = main(["scan", str(root), "-f", "json", "-o", str(out), "--no-baseline"])
    rules = {f["rule_id"] for f in json.loads(out.read_text())["findings"]}
    assert code in (0, 1)
    assert sorted(rules & PROVIDER_IDS) == []
