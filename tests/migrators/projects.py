"""Leaky projects for the migrator tests, built at run time (no literal tokens here)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.conftest import GITHUB_PAT, PASSWORD

# A value with characters an env file or a shell would mangle if quoted carelessly.
TRICKY_PASSWORD = PASSWORD + " $x'\"!"


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root (relative path -> hash): 'nothing changed' checks."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def compose_project(root: Path, app_image: str, db_image: str) -> Path:
    """A Compose project: a literal token for a plain image, a password for one reading _FILE."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "docker-compose.yml").write_text(
        "# The demo stack.\n"
        "x-common: &common\n"
        '  restart: "no"\n'
        "services:\n"
        "  app:\n"
        "    <<: *common\n"
        f"    image: {app_image}\n"
        '    command: ["env"]\n'
        "    ports: ['127.0.0.1::8000']   # flow style stays\n"
        "    environment:\n"
        "      LOG_LEVEL: 'debug'\n"
        "      # issues bot\n"
        f"      GITHUB_TOKEN: {GITHUB_PAT}\n"
        "  db:\n"
        f"    image: {db_image}\n"
        '    command: ["sh", "-c", "echo pw=$$(cat $$POSTGRES_PASSWORD_FILE)"]\n'
        "    environment:\n"
        "      - POSTGRES_USER=app\n"
        f"      - POSTGRES_PASSWORD={PASSWORD}\n"
        "\n"
        "# end of file comment\n"
    )
    return root
