"""What custom detect-secrets plugins (`--detect-secrets-plugin`) cost a scan.

Scans the same text (the Python standard library's sources, up to --size-mb) with
leakguard's engine: the built-in rules alone, then with one plugin of each kind
added. Prints MB/s and the ratio against the built-in rules alone:

- a regex plugin (`RegexBasedDetector`): behind the Hyperscan prefilter;
- a code plugin that declares `keywords`: its analyze_line runs on lines holding one;
- a code plugin without keywords: its analyze_line runs on every line;
- the peer, for scale: detect-secrets itself with its own plugins and the
  every-line one (`detect-secrets scan --all-files --plugin FILE ...`), one run.

    python3 bench/detect_secrets_plugins.py [--size-mb 20] [--repeat 3] [--skip-detect-secrets]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

PLUGINS = {
    "regex": """
import re
from detect_secrets.plugins.base import RegexBasedDetector

class AcmeDetector(RegexBasedDetector):
    secret_type = "Acme API Token"
    denylist = (re.compile(r"acme_(?:live|test)_([a-z0-9]{24})"),)
""",
    "keywords": """
import re
from detect_secrets.plugins.base import BasePlugin

class VaultishDetector(BasePlugin):
    secret_type = "Vaultish Token"
    keywords = ["vtok."]

    def analyze_string(self, string):
        for m in re.finditer(r"vtok\\.([A-Za-z0-9]{20,})", string):
            yield m.group(1)
""",
    "every-line": """
from detect_secrets.plugins.base import BasePlugin

class ShoutedDetector(BasePlugin):
    secret_type = "Shouted Word"

    def analyze_string(self, string):
        if "ZZZZ" in string:
            yield string.strip()
""",
}


def corpus(limit: int) -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files, total = [], 0
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts or not path.is_file():
            continue
        files.append(path)
        total += path.stat().st_size
        if total >= limit:
            break
    return files


def engine_for(plugin: Path | None) -> Any:
    from leakguard.config import Config
    from leakguard.engine import Engine

    return Engine(Config(detect_secrets_plugins=(plugin,) if plugin else ()).ruleset())


def best_times(engines: dict[str, Any], files: list[Path], repeat: int) -> dict[str, float]:
    """Best of `repeat` in-process scans for each engine, the engines taking turns
    within each round (a busy machine slows them alike)."""
    from leakguard.models import Location

    data = [(str(p), p.read_bytes()) for p in files]
    best = dict.fromkeys(engines, float("inf"))
    for _ in range(repeat):
        for name, engine in engines.items():
            started = time.perf_counter()
            for path, blob in data:
                engine.scan_bytes(blob, Location(path=path))
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="best of N (leakguard)")
    parser.add_argument("--skip-detect-secrets", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("LEAKGUARD_CACHE_DIR", "")
    files = corpus(int(args.size_mb * 1e6))
    size = sum(p.stat().st_size for p in files) / 1e6
    print(f"corpus: {len(files)} files, {size:.1f} MB of the Python standard library")
    with tempfile.TemporaryDirectory() as tmp:
        plugin_files = {}
        engines = {"built-in rules alone": engine_for(None)}
        for name, source in PLUGINS.items():
            plugin_files[name] = path = Path(tmp) / f"bench_{name.replace('-', '_')}.py"
            path.write_text(source)
            engines[f"+ {name} plugin"] = engine_for(path)
        times = best_times(engines, files, args.repeat)
        base = times["built-in rules alone"]
        for label, took in times.items():
            print(f"{label:<28} {size / took:7.1f} MB/s  x{took / base:.2f} the time")
        peer = shutil.which("detect-secrets") or str(
            Path(sys.executable).with_name("detect-secrets")
        )
        if not args.skip_detect_secrets and os.path.exists(peer):
            # what a team runs today: detect-secrets' own plugins and the every-line one
            started = time.perf_counter()
            subprocess.run(
                [peer, "scan", "--all-files", "--plugin", str(plugin_files["every-line"]),
                 *map(str, files)],
                capture_output=True, check=False,
            )  # fmt: skip
            took = time.perf_counter() - started
            print(f"peer: detect-secrets + every-line plugin {size / took:7.1f} MB/s  "
                  f"x{took / base:.2f} the time of leakguard's built-in rules")  # fmt: skip


if __name__ == "__main__":
    main()
