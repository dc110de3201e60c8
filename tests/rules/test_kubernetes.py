"""Kubernetes Secret manifests: each base64 `data:` value is decoded and scanned, and
what it holds is reported at its entry's line with the fingerprint of the decoded
value; `stringData:` is scanned as written. Fakes are assembled at run time."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from leakguard.cli import main
from leakguard.engine import Engine
from leakguard.models import Location
from leakguard.rules import builtin_rules
from leakguard.rules.checks import crc32_base62
from tests.conftest import PASSWORD, fake

ENGINE = Engine(builtin_rules())
_BODY = fake("", 30, seed=41)
PAT = "gh" + "p_" + _BODY + crc32_base62(_BODY.encode()).decode()
TOKEN = fake("", 40, seed=42)


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def found(text: str, path: str = "deploy/secret.yaml") -> list[tuple[str, int | None, str]]:
    findings = ENGINE.scan_bytes(text.encode(), Location(path=path))
    return [(f.rule_id, f.location.line, f.fingerprint) for f in findings]


MANIFEST = f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  greeting: {b64("hello there, world")}
---
apiVersion: v1
kind: Secret
metadata:
  name: app
type: Opaque
data:
  username: {b64("app")}
  password: {b64(PASSWORD)}
  GITHUB_TOKEN: "{b64(PAT + chr(10))}"
  config.ini: {b64("[db]" + chr(10) + "host=db" + chr(10) + "api_token = " + TOKEN + chr(10))}
stringData:
  api_key: {TOKEN[::-1]}
"""


def test_each_data_value_is_decoded_and_reported_at_its_line() -> None:
    results = found(MANIFEST)
    assert ("keyword-secret", 15, sha(PASSWORD)) in results
    assert ("github-pat", 16, sha(PAT)) in results
    # a file held in a value is scanned as a file; its findings point at the entry
    assert ("keyword-secret", 17, sha(TOKEN)) in results
    assert ("keyword-secret", 19, sha(TOKEN[::-1])) in results  # stringData, as written
    # the encoded forms are not reported besides the decoded values
    assert all(f != sha(b64(PASSWORD)) for _, _, f in results)
    # a ConfigMap's data and a Secret's user name hold nothing
    assert {line for _, line, _ in results} == {15, 16, 17, 19}


def test_json_manifests_too() -> None:
    manifest = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "x"},
            "data": {"token": b64(PAT), "db-password": b64(PASSWORD)},
        },
        indent=2,
    )
    results = found(manifest, "secret.json")
    assert ("github-pat", 8, sha(PAT)) in results
    assert ("keyword-secret", 9, sha(PASSWORD)) in results


def test_only_secrets_are_decoded() -> None:
    text = MANIFEST.replace("kind: Secret", "kind: ConfigMap")
    assert ("github-pat", 16, sha(PAT)) not in found(text)
    # not base64: left to the ordinary rules, as written
    raw = "Xy7" + PASSWORD + "*"
    assert [f for _, _, f in found(f"kind: Secret\ndata:\n  password: {raw}\n")] == [sha(raw)]


def test_documented_example_passwords_are_not_reported(tmp_path: Path) -> None:
    """The Kubernetes docs' example Secret (its passwords are on the list of published
    fakes), next to a real one in the same manifest."""
    docs_password = bytes.fromhex("3166326431653265363764").decode() + "f"  # as the docs print it
    manifest = tmp_path / "secret.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: mysecret\ntype: Opaque\ndata:\n"
        f"  password: {b64(docs_password)}\n  db_password: {b64(PASSWORD)}\n"
    )
    out = tmp_path / "r.json"
    assert main(["scan", str(manifest), "-f", "json", "-o", str(out), "--no-baseline"]) == 1
    report = json.loads(out.read_text())
    assert [(f["location"]["line"], f["fingerprint"]) for f in report["findings"]] == [
        (8, sha(PASSWORD))
    ]
    assert report["stats"]["suppressed_examples"] == 1
