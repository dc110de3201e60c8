"""The history purge: a replacements file, and git-filter-repo on a mirror clone.

The replacements file holds the secret values (that is its point), so it is
written 0600, outside the repository, and never committed or sent anywhere.
The purge runs only on a bare mirror clone, never on a working checkout, and
is verified by scanning the rewritten history again.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from leakguard.errors import ChangeRefused, TargetUnreadable, UsageError
from leakguard.fsutil import atomic_write
from leakguard.models import Finding, SecretValue
from leakguard.remediation.gitops import git

log = logging.getLogger(__name__)

# What a purged value becomes: a placeholder the rules recognise as one, so the
# rewritten history scans clean instead of reporting the placeholder.
REPLACED = "<removed-by-leakguard>"


def replacement_lines(values: Iterable[SecretValue]) -> bytes:
    """git-filter-repo `--replace-text` lines: each value (longest first) → a placeholder."""
    out = []
    for value in sorted(set(values), key=lambda v: (-len(v.raw), v.raw)):
        raw = value.raw
        if len(raw) < 6:
            continue  # too short to replace blindly across a whole history
        if b"\n" in raw or b"==>" in raw or raw.startswith((b"regex:", b"glob:", b"literal:")):
            line = b"regex:" + re.escape(raw).replace(b"\n", b"\\n")
        else:
            line = b"literal:" + raw
        out.append(line + b"==>" + REPLACED.encode() + b"\n")
    return b"".join(out)


def write_plan(path: Path, root: Path, values: Sequence[SecretValue]) -> int:
    """Write the replacements file (0600); refuses a path inside the repository."""
    target = path.expanduser().absolute()
    base = root.resolve()
    if target.resolve() == base or base in target.resolve().parents:
        raise UsageError(
            f"{path} is inside the repository; the purge plan holds the secret values",
            hint="write it outside, e.g. --purge-plan ~/leakguard-replacements.txt",
        )
    data = replacement_lines(values)
    try:
        atomic_write(target, data, mode=0o600)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from e
    return data.count(b"\n")


def check_mirror(mirror: Path, checkout: Path | None) -> Path:
    """`mirror` must be a bare repository (a mirror clone), not the user's checkout."""
    if not mirror.is_dir():
        raise TargetUnreadable(f"{mirror} does not exist",
                               hint="make it with `git clone --mirror URL DIR`")  # fmt: skip
    proc = git(mirror, "rev-parse", "--is-bare-repository")
    if proc.returncode != 0 or proc.stdout.strip() != "true":
        raise ChangeRefused(
            f"{mirror} is not a bare mirror clone; refusing to rewrite its history",
            hint="purge a fresh `git clone --mirror URL DIR`, never a working checkout",
        )
    if checkout is not None and mirror.resolve() == (checkout / ".git").resolve():
        raise ChangeRefused(f"{mirror} is the git folder of {checkout}; refusing")
    return mirror


@dataclass(frozen=True)
class Purged:
    replaced: int  # lines in the replacements file
    remaining: tuple[Finding, ...]  # purged fingerprints still found after the rewrite


def run_filter_repo(mirror: Path, replacements: Path) -> None:
    # --no-gc: the old objects are dropped below, with git's stdin closed.
    command = [sys.executable, "-m", "git_filter_repo", "--replace-text", str(replacements),
               "--force", "--quiet", "--no-gc"]  # fmt: skip
    proc = subprocess.run(command, cwd=mirror, capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.lower().startswith(("error", "fatal", "abort"))]
        reason = (errors or lines or [f"exit status {proc.returncode}"])[-1]
        raise ChangeRefused(f"git filter-repo failed: {reason[:200]}",
                            hint="the mirror may be partly rewritten: clone it afresh")  # fmt: skip
    # The rewritten-away objects are unreachable (a push does not send them);
    # dropping them now keeps the values out of this folder too.
    for args in (["reflog", "expire", "--expire=now", "--all"], ["gc", "--quiet", "--prune=now"]):
        if git(mirror, *args).returncode != 0:
            log.warning("git %s failed in %s; the old objects stay until the next gc",
                        args[0], mirror)  # fmt: skip


def purge(
    mirror: Path,
    values: Sequence[SecretValue],
    plan_file: Path | None,
    rescan: Callable[[Path], Sequence[Finding]],
) -> Purged:
    """Rewrite the mirror's history without `values`, then scan it again."""
    fingerprints = {v.fingerprint for v in values}
    with tempfile.TemporaryDirectory(prefix="leakguard-purge-") as private:
        if plan_file is not None and plan_file.is_file():
            replacements = plan_file.absolute()  # filter-repo runs in the mirror
            lines = plan_file.read_bytes().count(b"\n")
        else:
            replacements = Path(private) / "replacements.txt"
            data = replacement_lines(values)
            atomic_write(replacements, data, mode=0o600, follow_links=False)
            lines = data.count(b"\n")
        run_filter_repo(mirror, replacements)
    remaining = tuple(f for f in rescan(mirror) if f.fingerprint in fingerprints)
    return Purged(lines, remaining)
