"""`--format detect-secrets` writes a `.secrets.baseline` that the real detect-secrets
opens: `detect-secrets audit --report` shows its secrets, and `detect-secrets scan
--baseline` keeps the entries it finds again as they are."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

from leakguard.models import fingerprint
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


# -- baseline import -------------------------------------------------------------


def _ds_baseline(tree: Path) -> dict[str, Any]:
    proc = detect_secrets("scan", "--all-files", ".", cwd=tree)
    assert proc.returncode == 0, proc.stderr
    return cast(dict[str, Any], json.loads(proc.stdout))


def _reported(tree: Path, *args: str) -> set[tuple[str, str]]:
    proc = lg("scan", "-f", "json", "--exclude", ".secrets.baseline", *args, ".", cwd=tree)
    return {(f["location"]["path"], f["rule_id"]) for f in json.loads(proc.stdout)["findings"]}


def test_import_keeps_real_secrets_reported_and_accepts_false_positives(leaky_tree: Path) -> None:
    doc = _ds_baseline(leaky_tree)
    [github] = [e for e in doc["results"]["app/settings.py"] if e["type"] == "GitHub Token"]
    [stripe] = [e for e in doc["results"][".env"] if e["type"] == "Stripe Access Key"]
    github["is_secret"] = True  # audited: a real secret, still to be dealt with
    stripe["is_secret"] = False  # audited: a false positive
    (leaky_tree / ".secrets.baseline").write_text(json.dumps(doc))
    proc = lg("baseline", "import", ".secrets.baseline", cwd=leaky_tree)
    assert proc.returncode == 0, proc.stderr
    assert "1 marked is_secret left out" in proc.stderr
    reported = _reported(leaky_tree, "--baseline", ".leakguard-baseline.json")
    assert ("app/settings.py", "github-pat") in reported
    assert not any(path == ".env" and "stripe" in rule for path, rule in reported)


def test_import_stores_leakguard_fingerprints_for_the_secrets_it_finds_again(
    leaky_tree: Path,
) -> None:
    doc = _ds_baseline(leaky_tree)
    unknown = {"type": "Secret Keyword", "filename": ".env", "hashed_secret": sha1("gone"),
               "is_verified": False, "line_number": 9}  # fmt: skip
    doc["results"][".env"].append(unknown)
    (leaky_tree / ".secrets.baseline").write_text(json.dumps(doc))
    proc = lg("baseline", "import", ".secrets.baseline", "-o", "lg.json", cwd=leaky_tree)
    assert proc.returncode == 0, proc.stderr
    assert "1 kept by SHA-1" in proc.stderr
    entries = json.loads((leaky_tree / "lg.json").read_text())["entries"]
    by_fingerprint = {e["fingerprint"]: e for e in entries if "fingerprint" in e}
    github = by_fingerprint[fingerprint(GITHUB_PAT.encode())]
    assert github["rule_id"] == "github-pat" and github["path"] == "app/settings.py"
    assert fingerprint(STRIPE_KEY.encode()) in by_fingerprint
    assert [e for e in entries if "sha1" in e] == [
        {"surface": "file", "path": ".env", "sha1": sha1("gone"), "line": 9}
    ]


def test_a_leakguard_written_secrets_baseline_imports_back(leaky_tree: Path) -> None:
    lg("scan", "--no-baseline", "-f", "detect-secrets", "-o", ".secrets.baseline", ".",
       cwd=leaky_tree)  # fmt: skip
    proc = lg("baseline", "import", ".secrets.baseline", cwd=leaky_tree)
    assert proc.returncode == 0, proc.stderr
    assert _reported(leaky_tree, "--no-baseline")
    assert _reported(leaky_tree) == set()


def test_a_file_detect_secrets_cannot_read_as_a_baseline_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text(json.dumps({"results": {"a.py": []}}))  # no version
    proc = lg("baseline", "import", "b.json", cwd=tmp_path)
    assert proc.returncode == 2
    assert "detect-secrets cannot read this baseline" in proc.stderr
    assert not (tmp_path / ".leakguard-baseline.json").exists()
