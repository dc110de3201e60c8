"""`--format detect-secrets` writes a `.secrets.baseline` that the real detect-secrets
opens: `detect-secrets audit --report` shows its secrets, and `detect-secrets scan
--baseline` keeps the entries it finds again as they are."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from tests.clirun import lg
from tests.conftest import GITHUB_PAT, PASSWORD, STRIPE_KEY
from tests.rules.test_detect_secrets_plugins import ACME, PLUGINS

DETECT_SECRETS = str(Path(sys.executable).with_name("detect-secrets"))


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def detect_secrets(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DETECT_SECRETS, *args], cwd=cwd, capture_output=True, text=True)


def entries(doc: dict[str, object], key: str = "results") -> dict[tuple[str, str], list[object]]:
    out: dict[tuple[str, str], list[object]] = {}
    for filename, found in doc.get(key, {}).items():  # type: ignore[attr-defined]
        for e in found:
            out.setdefault((filename, e["type"]), []).append(e)
    return out


def test_audit_report_opens_it_and_shows_the_secrets(leaky_tree: Path) -> None:
    proc = lg("scan", "--no-baseline", "-f", "detect-secrets", "-o", ".secrets.baseline", ".",
              cwd=leaky_tree)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    text = (leaky_tree / ".secrets.baseline").read_text()
    for secret in (GITHUB_PAT, STRIPE_KEY, PASSWORD):
        assert secret not in text
    doc = json.loads(text)
    assert doc["version"] and doc["generated_at"]
    assert {"name": "GitHubTokenDetector"} in doc["plugins_used"]
    assert all("verification" not in f["path"] for f in doc["filters_used"])
    found = entries(doc)
    [github] = found[("app/settings.py", "GitHub Token")]
    [stripe] = found[(".env", "Stripe Access Key")]
    # detect-secrets' hashes: the GitHub plugin hashes only the token's prefix
    assert github == {"type": "GitHub Token", "filename": "app/settings.py",
                      "hashed_secret": sha1(GITHUB_PAT[:3]), "is_verified": False,
                      "line_number": 2}  # fmt: skip
    assert stripe["hashed_secret"] == sha1(STRIPE_KEY) and stripe["line_number"] == 1

    audit = detect_secrets("audit", "--report", ".secrets.baseline", cwd=leaky_tree)
    assert audit.returncode == 0, audit.stderr
    report = json.loads(audit.stdout)["results"]
    shown = {(r["filename"], t): r for r in report for t in r["types"]}
    assert shown[("app/settings.py", "GitHub Token")]["lines"] == {
        "2": f'GITHUB_TOKEN = "{GITHUB_PAT}"'
    }
    assert list(shown[(".env", "Stripe Access Key")]["lines"]) == ["1"]


def test_detect_secrets_scan_keeps_the_entries_it_finds_again(leaky_tree: Path) -> None:
    lg("scan", "--no-baseline", "-f", "detect-secrets", "-o", ".secrets.baseline", ".",
       cwd=leaky_tree)  # fmt: skip
    before = entries(json.loads((leaky_tree / ".secrets.baseline").read_text()))
    proc = detect_secrets("scan", "--all-files", "--baseline", ".secrets.baseline", cwd=leaky_tree)
    assert proc.returncode == 0, proc.stderr
    after = entries(json.loads((leaky_tree / ".secrets.baseline").read_text()))
    for key in (("app/settings.py", "GitHub Token"), (".env", "Stripe Access Key")):
        assert after[key] == before[key]  # the same hash: no second entry


def test_custom_plugin_findings_name_their_plugin_file(leaky_tree: Path, tmp_path: Path) -> None:
    plugin = tmp_path / "team_plugins.py"
    plugin.write_text(PLUGINS)
    (leaky_tree / "acme.py").write_text(f'KEY = "{ACME}"\n')
    proc = lg("scan", "--no-baseline", "-f", "detect-secrets", "-o", ".secrets.baseline",
              "--detect-secrets-plugin", str(plugin), ".", cwd=leaky_tree)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    doc = json.loads((leaky_tree / ".secrets.baseline").read_text())
    assert {"name": "AcmeDetector", "path": f"file://{plugin}"} in doc["plugins_used"]
    [acme] = entries(doc)[("acme.py", "Acme API Token")]
    assert acme["hashed_secret"] == sha1(ACME.split("_")[-1])
    # detect-secrets loads the plugin from the baseline and finds the same secret
    proc = detect_secrets("scan", "--all-files", "--baseline", ".secrets.baseline", cwd=leaky_tree)
    assert proc.returncode == 0, proc.stderr
    after = entries(json.loads((leaky_tree / ".secrets.baseline").read_text()))
    assert after[("acme.py", "Acme API Token")] == [acme]


def test_findings_no_detect_secrets_plugin_makes_are_listed_apart(tmp_path: Path) -> None:
    """detect-secrets audit stops at a type no plugin it knows has: such findings go
    under `leakguard_only`, where detect-secrets does not look, and audit still opens."""
    (tmp_path / "Dockerfile").write_text("FROM alpine\nCOPY .env /app/.env\n")
    (tmp_path / ".env").write_text("X=1\n")
    proc = lg("context", "--no-baseline", "-f", "detect-secrets", "-o", "out.baseline", ".",
              cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    doc = json.loads((tmp_path / "out.baseline").read_text())
    only = entries(doc, "leakguard_only")
    assert only and all(not t.startswith(("GitHub", "AWS")) for _, t in only)
    audit = detect_secrets("audit", "--report", "out.baseline", cwd=tmp_path)
    assert audit.returncode == 0, audit.stderr
