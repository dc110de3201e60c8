"""A team's own detect-secrets plugins, loaded with --detect-secrets-plugin (or the
config's `detect_secrets_plugins`), report as leakguard rules on every text surface."""

from __future__ import annotations

import hashlib
import json
import string
from pathlib import Path

import pytest

from leakguard.models import fingerprint
from tests.clirun import lg
from tests.conftest import fake
from tests.detectors.test_git_history import Repo
from tests.detectors.test_image import Spec, file, layer_tar, write_archive
from tests.test_cli import run

LOWER = string.ascii_lowercase + string.digits
ACME = fake("acme_" + "live_", 24, LOWER, seed=11)
VTOK = fake("vtok" + ".", 28, seed=12)

PLUGINS = '''
import os
import re

from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.aws import AWSKeyDetector  # imported, not defined here: no rule


class AcmeDetector(RegexBasedDetector):
    """A regex plugin: its group is the secret, as detect-secrets reads it."""

    secret_type = "Acme API Token"
    denylist = (re.compile(r"acme_(?:live|test)_([a-z0-9]{24})"),)


class VaultishDetector(BasePlugin):
    """Code, not a regex: runs only on lines that hold one of its keywords."""

    secret_type = "Vaultish Token"
    keywords = ["vtok."]

    def analyze_string(self, string):
        log = os.environ.get("DS_LINES_LOG")
        if log:
            with open(log, "a") as fh:
                fh.write(string.rstrip("\\n") + "\\n")
        for m in re.finditer(r"vtok\\.([A-Za-z0-9]{20,})", string):
            yield m.group(1)
'''

EVERY_LINE_PLUGIN = '''
from detect_secrets.plugins.base import BasePlugin


class ShoutedDetector(BasePlugin):
    """No keywords: sees every line."""

    secret_type = "Shouted Word"

    def analyze_string(self, string):
        for word in string.split():
            if len(word) > 12 and word.isupper() and word.isalpha():
                yield word
'''


@pytest.fixture
def plugin_file(tmp_path: Path) -> Path:
    path = tmp_path / "plugins" / "team_plugins.py"
    path.parent.mkdir()
    path.write_text(PLUGINS)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    (root / "app.py").write_text(f'ACME = "{ACME}"\nx = 1\n')
    (root / "vault.cfg").write_text(f"# vault\nurl = https://vault\ntoken = {VTOK}\n")
    return root


def _findings(out: str) -> dict[str, dict[str, object]]:
    return {f["rule_id"]: f for f in json.loads(out)["findings"]}


def test_regex_and_code_plugins_report_as_rules_with_fingerprints(plugin_file, tree):
    code, out, err = run(
        "scan", "--no-baseline", "-f", "json", "--detect-secrets-plugin", str(plugin_file),
        str(tree),
    )  # fmt: skip
    assert code == 1, err
    found = _findings(out)
    acme = found["detect-secrets:acme-api-token"]
    vault = found["detect-secrets:vaultish-token"]
    # The value detect-secrets' own plugin takes (the regex's group), hashed as every
    # leakguard fingerprint is, shown redacted, never in full.
    group = ACME.split("_")[-1]
    assert acme["fingerprint"] == fingerprint(group.encode())
    assert vault["fingerprint"] == fingerprint(VTOK.split(".")[1].encode())
    assert acme["location"]["line"] == 1 and vault["location"]["line"] == 3
    assert acme["location"]["column"] == len('ACME = "acme_live_') + 1
    assert group not in out + err and VTOK not in out + err
    assert acme["message"] == "Acme API Token"
    # a plugin the file only imports is not loaded as a rule of its own
    assert not any("aws" in rule for rule in found)


def test_the_value_is_the_one_detect_secrets_reports(plugin_file, tree):
    """The same file scanned by detect-secrets itself with the same plugin: its
    hashed_secret is the SHA-1 of the value leakguard fingerprints."""
    import subprocess
    import sys

    proc = subprocess.run(
        [Path(sys.executable).with_name("detect-secrets"), "scan", "--all-files",
         "--plugin", str(plugin_file), "app.py"],
        cwd=tree, capture_output=True, text=True, check=True,
    )  # fmt: skip
    [entry] = [e for e in json.loads(proc.stdout)["results"]["app.py"]
               if e["type"] == "Acme API Token"]  # fmt: skip
    value = ACME.split("_")[-1].encode()
    assert entry["hashed_secret"] == hashlib.sha1(value, usedforsecurity=False).hexdigest()


def test_a_code_plugin_runs_only_on_lines_with_its_keywords(
    plugin_file, tree, tmp_path, monkeypatch
):
    log = tmp_path / "lines.log"
    monkeypatch.setenv("DS_LINES_LOG", str(log))
    code, _, err = run(
        "scan", "--no-baseline", "--detect-secrets-plugin", str(plugin_file), str(tree)
    )
    assert code == 1, err
    assert log.read_text().splitlines() == [f"token = {VTOK}"]


def test_a_plugin_without_keywords_sees_every_line(tmp_path):
    plugin = tmp_path / "shout.py"
    plugin.write_text(EVERY_LINE_PLUGIN)
    target = tmp_path / "notes.txt"
    word = "ABCDEFGHIJKLMNOP"
    target.write_text(f"first\n\nsecond line\nlast {word}")  # the last line has no line end
    code, out, err = run(
        "scan", "--no-baseline", "-f", "json", "--detect-secrets-plugin", str(plugin), str(target)
    )
    assert code == 1, err
    [finding] = json.loads(out)["findings"]
    assert finding["rule_id"] == "detect-secrets:shouted-word"
    assert (finding["location"]["line"], finding["location"]["column"]) == (4, 6)


def test_plugins_from_the_config_file(plugin_file, tree):
    (tree / ".leakguard.toml").write_text(
        'detect_secrets_plugins = ["../plugins/team_plugins.py"]\n'
    )
    code, out, err = run("scan", "--no-baseline", "-f", "json", str(tree))
    assert code == 1, err
    assert {"detect-secrets:acme-api-token", "detect-secrets:vaultish-token"} <= _findings(
        out
    ).keys()
    # a plugin's rule is a rule like any other: it can be switched off
    code, out, _ = run("scan", "--no-baseline", "-f", "json", "--disable",
                       "detect-secrets:acme-api-token", str(tree))  # fmt: skip
    assert "detect-secrets:acme-api-token" not in _findings(out)
    code, out, _ = run("rules", "-f", "json", cwd=tree)
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["detect-secrets:acme-api-token"]["detect_secrets_type"] == "Acme API Token"


def test_git_history_and_the_pre_commit_hook_use_the_plugins(plugin_file, tmp_path):
    repo = Repo(tmp_path / "repo")
    repo.commit("add", **{"app.py": f'ACME = "{ACME}"\n'})
    repo.commit("remove", **{"app.py": "ACME = None\n"})
    code, out, err = run(
        "git", "--no-baseline", "-f", "json", "--detect-secrets-plugin", str(plugin_file),
        str(repo.path),
    )  # fmt: skip
    assert code == 1, err
    assert "detect-secrets:acme-api-token" in _findings(out)
    repo.write("v.cfg", f"token = {VTOK}\n")
    repo.git("add", "v.cfg")
    proc = lg("hook", "pre-commit", "--detect-secrets-plugin", str(plugin_file), cwd=repo.path)
    assert proc.returncode == 1, proc.stderr
    assert "detect-secrets:vaultish-token" in proc.stdout


def test_image_layers_are_scanned_with_the_plugins(plugin_file, tmp_path):
    spec = Spec(layers=[layer_tar([file("app/settings.py", f'ACME = "{ACME}"\n')])])
    path = write_archive(tmp_path / "a.tar", spec)
    args = ("image", "--no-cache", "--no-baseline", "-f", "json", f"docker-archive:{path}")
    code, out, _ = run(*args)
    assert "detect-secrets:acme-api-token" not in _findings(out)
    code, out, err = run(*args, "--detect-secrets-plugin", str(plugin_file))
    assert code == 1, err
    assert _findings(out)["detect-secrets:acme-api-token"]["location"]["path"] == "/app/settings.py"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "cannot read detect-secrets plugin file"),
        ("def broken(:\n", "SyntaxError"),
        ("raise RuntimeError('no')\n", "RuntimeError: no"),
        ("x = 1\n", "defines no detect-secrets plugin"),
        (
            "from detect_secrets.plugins.base import RegexBasedDetector\n"
            "class P(RegexBasedDetector):\n    secret_type = 'p'\n    denylist = ()\n",
            "`denylist` is empty",
        ),
        (
            "import re\nfrom detect_secrets.plugins.base import RegexBasedDetector\n"
            "class P(RegexBasedDetector):\n    secret_type = 'p'\n"
            "    denylist = (re.compile('(?P<a>x)'), re.compile('(?P<a>y)'))\n",
            "does not compile as one pattern",
        ),
    ],
)
def test_a_bad_plugin_file_is_a_one_line_usage_error(tmp_path, source, message):
    plugin = tmp_path / "bad_plugin.py"
    if source is not None:
        plugin.write_text(source)
    (tmp_path / "a.txt").write_text("nothing\n")
    proc = lg("scan", "--detect-secrets-plugin", str(plugin), "a.txt", cwd=tmp_path)
    assert proc.returncode == 2
    error = [line for line in proc.stderr.splitlines() if not line.startswith("  hint:")]
    assert len(error) == 1 and message in error[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_readme_plugin_example_runs(tmp_path):
    """The plugin file and the command of the README's *Migrating from
    detect-secrets* section, run on a tree holding one secret for each plugin."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Migrating from detect-secrets", 1)[1].split("\n## ", 1)[0]
    source = section.split("```python\n", 1)[1].split("```", 1)[0]
    [command] = [line for line in section.splitlines() if "--detect-secrets-plugin" in line
                 and line.startswith("$ ")]  # fmt: skip
    (tmp_path / "acme_plugins.py").write_text(source)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(f'ACME = "{ACME}"\n')
    (tmp_path / "src" / "v.cfg").write_text(f"token = {VTOK}\n")
    args = command.removeprefix("$ leakguard ").split()
    proc = lg(*args, "-f", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    rules = {f["rule_id"] for f in json.loads(proc.stdout)["findings"]}
    assert {"detect-secrets:acme-api-token", "detect-secrets:vaultish-token"} <= rules


@pytest.mark.parametrize("command", ["context", "build-check"])
def test_a_build_context_is_checked_with_the_plugins_too(plugin_file, tree, command):
    (tree / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    args = ("--no-baseline", "-f", "json", str(tree))
    code, out, err = run(command, *args, "--detect-secrets-plugin", str(plugin_file))
    assert code == 1, err
    assert "detect-secrets:acme-api-token" in _findings(out)
    code, out, _ = run(command, *args)
    assert "detect-secrets:acme-api-token" not in _findings(out)
