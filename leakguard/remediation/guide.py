"""The remediation guide: what a pull request fixing a repository's leaks says.

Built from a scan of the work tree, the migration plan for it and a scan of
the history; grouped by fingerprint (one secret in six files and forty commits
is one entry). Holds redacted values and fingerprints only: the values stay in
the plan, which renders nothing but its redacted diff.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from leakguard.migrators.plan import Plan, SecretMove, Workspace, ensure_ignored, merge
from leakguard.models import Finding, ScanResult, SecretValue

# Found in a pull request's body to recognise the one opened before.
MARKER = "<!-- leakguard-remediate -->"
TITLE_PREFIX = "leakguard: "


@dataclass(frozen=True)
class Commit:
    sha: str
    date: str | None
    path: str | None  # None: the commit message


@dataclass(frozen=True)
class Exposure:
    """One secret (one fingerprint), everywhere it is."""

    fingerprint: str
    redacted: str
    rules: tuple[str, ...]
    what: str
    remediation: str
    at_head: tuple[str, ...]  # "path:line" in the checked-out tree
    commits: tuple[Commit, ...]  # every commit that added it, oldest first
    moves: tuple[SecretMove, ...]
    manual: tuple[str, ...]  # "`path:line`: reason", left for a person
    images: tuple[str, ...] = ()  # "image, layer …: path" from a sweep report


@dataclass(frozen=True)
class Guide:
    title: str
    body: str
    exposures: tuple[Exposure, ...]
    plan: Plan  # the migration, with the ignore-file lines added
    manual: tuple[str, ...]
    values: tuple[SecretValue, ...]  # every value found: for the purge plan and scrubbing
    root: Path = Path(".")
    done: tuple[str, ...] = ()  # findings the pull request's own change resolves
    notes: tuple[str, ...] = ()  # about where the pull request starts (a sweep's revision)

    @property
    def nothing_to_fix(self) -> bool:
        return not self.exposures and not self.manual and not self.done

    def scrub(self, text: str) -> str:
        """`text` with any value found (of 4 characters or more) replaced by its
        redacted form, longer values first (a last guard)."""
        from leakguard.migrators.plan import redact_values

        return redact_values(text, (v for v in self.values if len(v.reveal()) >= 4))


def relative(root: Path, path: str | None) -> str:
    if not path:
        return "(commit message)"
    full = Path(path) if os.path.isabs(path) else Path.cwd() / path
    try:
        return full.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def with_ignore_lines(
    root: Path, plan: Plan, findings: Sequence[Finding]
) -> tuple[Plan, tuple[str, ...], frozenset[Finding]]:
    """The plan plus .gitignore/.dockerignore lines for credential files found.

    Also: (what those lines fix, said for the pull request; the
    `dockerfile-context-credential-file` findings they resolve).
    """
    from leakguard.engine import kind_of_path
    from leakguard.rules.filekinds import credential_file_kind

    ws = Workspace()
    for edit in plan.edits:
        ws.write(edit.path, edit.after_text)
    files = sorted({relative(root, f.location.path) for f in findings if f.location.path})
    credential = [p for p in files if credential_file_kind(p) and "/" not in p.rstrip("/")]
    has_dockerfile = any(kind_of_path(p.name) == "dockerfile" for p in root.iterdir())
    why = "a credential file leakguard found: keep it out of {}"
    for name in credential:
        ensure_ignored(ws, root / ".gitignore", f"/{name}", why.format("commits"))
        if has_dockerfile:
            ensure_ignored(ws, root / ".dockerignore", f"/{name}", why.format("images"))
    done, resolved = _ignore_context_files(root, ws, findings, why.format("images"))
    planned = {e.path for e in plan.edits}
    extra = [e for e in ws.edits() if e.path not in planned or _changed(plan, e.path, e.after_text)]
    if not extra:
        return plan, done, resolved
    chained = merge([plan, Plan(edits=tuple(extra))])
    return replace(plan, edits=chained.edits), done, resolved


def _ignore_context_files(
    root: Path, ws: Workspace, findings: Sequence[Finding], comment: str
) -> tuple[tuple[str, ...], frozenset[Finding]]:
    """Exclude each credential file a broad COPY takes from its build context.

    Only for a COPY that does not name the file itself (that one is migrated,
    or left as a manual task: excluding the file would break its build).
    """
    from leakguard.detectors.context import RULE_ID, DockerIgnore, parse_dockerignore

    named = {(f.location.path, f.location.line) for f in findings
             if f.rule_id == "dockerfile-copy-credential-file"}  # fmt: skip
    done: list[str] = []
    resolved: set[Finding] = set()
    for f in findings:
        rel = f.redacted
        if f.rule_id != RULE_ID or (f.location.path, f.location.line) in named:
            continue
        if not rel or rel.startswith("/") or any(c in rel for c in "*?[\\\n\r"):
            continue  # a name .dockerignore cannot spell as it is: left as a manual task
        dockerfile = root / relative(root, f.location.path)
        own = dockerfile.with_name(dockerfile.name + ".dockerignore")
        ignore_file = own if ws.read(own) is not None else dockerfile.parent / ".dockerignore"
        ensure_ignored(ws, ignore_file, f"/{rel}", comment)
        try:
            excluded = DockerIgnore(tuple(parse_dockerignore(ws.read(ignore_file) or ""))).excluded(
                rel
            )
        except ValueError:  # an ignore file Docker rejects: leave it to a person
            continue
        if excluded:
            resolved.add(f)
            shown = relative(root, str(ignore_file))
            done.append(f"`{relative(root, f.location.path)}:{f.location.line}` "
                        f"(`{RULE_ID}`): keeps `{rel}` out of the build context "
                        f"(`/{rel}` in `{shown}`)")  # fmt: skip
    return tuple(done), frozenset(resolved)


def _changed(plan: Plan, path: Path, text: str) -> bool:
    return any(e.path == path and e.after_text != text for e in plan.edits)


def build(
    root: Path,
    worktree: ScanResult,
    plan: Plan,
    history: ScanResult,
    sightings: dict[tuple[object, ...], list[tuple[str, str | None]]],
    *,
    repo_name: str | None = None,
    images: Mapping[str, Sequence[str]] | None = None,
    notes: Sequence[str] = (),
) -> Guide:
    """The guide for `root`: exposures grouped by fingerprint, and the PR's text."""
    root = Path(root)
    plan, done, resolved = with_ignore_lines(root, plan, worktree.findings)
    by_fp: dict[str, list[Finding]] = {}
    for f in (*worktree.findings, *history.findings):
        if _is_secret(f):
            by_fp.setdefault(f.fingerprint, []).append(f)
    skipped_by_loc = {(s.finding.rule_id, s.finding.location): s.reason for s in plan.skipped}
    exposures = []
    for fp, group in by_fp.items():
        current = [f for f in group if f in worktree.findings]
        past = [f for f in group if f not in worktree.findings]
        at_head = sorted({f"{relative(root, f.location.path)}:{f.location.line}" for f in current}
                         | {f"{f.location.path}" for f in past if f.location.present_in_head
                            and not any(relative(root, c.location.path) == f.location.path
                                        for c in current)})  # fmt: skip
        commits: dict[str, Commit] = {}
        for f in past:
            ident = (f.rule_id, f.location.path, f.fingerprint)
            for sha, date in sightings.get(ident, [(f.location.commit or "", f.location.date)]):
                if sha and sha not in commits:
                    commits[sha] = Commit(sha, date, f.location.path)
        ordered = tuple(sorted(commits.values(), key=lambda c: c.date or ""))
        manual = tuple(
            f"`{relative(root, f.location.path)}:{f.location.line}`: {reason}"
            for f in current
            if (reason := skipped_by_loc.get((f.rule_id, f.location))) is not None
        )
        first = group[0]
        exposures.append(
            Exposure(
                fingerprint=fp,
                redacted=first.redacted,
                rules=tuple(sorted({f.rule_id for f in group})),
                what=first.message.split(" (")[0],
                remediation=first.remediation,
                at_head=tuple(at_head),
                commits=ordered,
                moves=tuple(m for m in plan.moves if m.fingerprint == fp),
                manual=manual,
                images=tuple((images or {}).get(fp, ())),
            )
        )
    exposures.sort(key=lambda e: (not e.at_head, e.rules, e.fingerprint))
    manual_all = tuple(
        f"`{relative(root, s.finding.location.path)}:{s.finding.location.line}` "
        f"(`{s.finding.rule_id}`): {s.reason}"
        for s in plan.skipped
        if not _is_secret(s.finding) and s.finding not in resolved
    )
    values = tuple({f.secret for f in (*worktree.findings, *history.findings) if _is_secret(f)})
    title = _title(exposures, plan, done)
    guide = Guide(title, "", tuple(exposures), plan, manual_all, values, root, done, tuple(notes))
    body = render_body(guide, repo_name or root.name)
    return replace(guide, body=guide.scrub(body))


def _is_secret(finding: Finding) -> bool:
    """A finding about a value (not about a credential file's presence)."""
    return finding.has_secret and "credential-file" not in finding.rule_id


def _title(exposures: Sequence[Exposure], plan: Plan, done: Sequence[str] = ()) -> str:
    n = len(exposures)
    if not n and done:
        return f"{TITLE_PREFIX}keep {len(done)} credential file(s) out of the build context"
    if plan.moves:
        return f"{TITLE_PREFIX}move {len(plan.moves)} secret(s) out of the repository, rotate {n}"
    return f"{TITLE_PREFIX}rotate {n} leaked secret(s) and purge them from history"


def _flags_hint(move: SecretMove) -> str:
    where = move.destination
    local = f"`{move.local_file.name}`" if move.local_file else ""
    if where.startswith("vault:"):
        return f"write the new value to Vault at `{where[6:]}`, then `leakguard secrets pull`"
    if where.startswith("swarm:"):
        return f"create the Swarm secret `{where[6:]}` with the new value (`docker secret create`)"
    kind = f" as `{move.env_key}=…`" if move.env_key else ""
    used = ", ".join(f"`{c}`" for c in move.consumers[:3])
    return (
        f"put the new value{kind} in the git-ignored local file {local or '`secrets/`'} "
        f"(read by {used}); builds take it with "
        "`docker build $(leakguard secrets docker-flags) .`; in CI, set it as a masked variable"
    )


def _short(sha: str) -> str:
    return sha[:12]


def render_body(guide: Guide, repo: str) -> str:
    out: list[str] = [MARKER, ""]
    exposures = guide.exposures
    at_head = sum(1 for e in exposures if e.at_head)
    in_history = sum(1 for e in exposures if e.commits)
    plan = guide.plan
    out.append("## Summary")
    out.append("")
    out.append(
        f"leakguard found **{len(exposures)} secret(s)** in `{repo}`: {at_head} in the files "
        f"at the tip of the branch, {in_history} in the history."
    )
    files = sorted({f"`{relative(guide.root, str(e.path))}`" for e in plan.edits})
    if plan.moves or files:
        out.append(
            f"This pull request moves {len(plan.moves)} of them out of the files into "
            "secrets that builds and deployments read at run time, and keeps local secret "
            f"files out of git and the build context. Files changed: {', '.join(files)}."
        )
    out.append(
        "It cannot undo the leak: every secret that reached a commit or a pushed image must "
        "be treated as compromised. Rotate each one at its provider (below), then purge "
        "the history."
    )
    manual = sum(len(e.manual) for e in exposures) + len(guide.manual)
    if manual:
        out.append(f"{manual} place(s) need a manual change: they are listed as tasks below.")
    if guide.notes:
        out.append("")
        out.extend(f"> {n}" for n in guide.notes)
    if guide.done:
        out.append("")
        out.append("Other findings this pull request fixes:")
        out.extend(f"- [x] {d}" for d in guide.done)
    if guide.manual:
        out.append("")
        out.append("Other findings to fix by hand:")
        out.extend(f"- [ ] {m}" for m in guide.manual)
    out.append("")
    out.append("## Secrets")
    for i, e in enumerate(exposures, 1):
        out.append("")
        out.append(f"### {i}. {e.what} `{e.redacted}`")
        out.append("")
        out.append(f"- rule: {', '.join(f'`{r}`' for r in e.rules)}")
        out.append(f"- fingerprint: `sha256:{e.fingerprint[:16]}…`")
        if e.at_head:
            out.append(f"- exposed now in: {', '.join(f'`{p}`' for p in e.at_head)}")
        else:
            out.append("- no longer in the files at the tip of the branch")
        if e.commits:
            out.append(f"- added by {len(e.commits)} commit(s), oldest first:")
            out.extend(
                f"  - {_short(c.sha)} ({(c.date or '')[:10]}) `{c.path or 'commit message'}`"
                for c in e.commits
            )
        if e.images:
            out.append(f"- in {len(e.images)} place(s) of the swept images:")
            out.extend(f"  - {where}" for where in e.images)
        out.append("")
        out.append(f"1. [ ] Revoke or rotate it at the provider: {e.remediation}")
        if e.moves or e.manual:
            out.append("2. [ ] Put the new value where the code reads it:")
            out.extend(f"   - [ ] `{m.name}`: {_flags_hint(m)}." for m in e.moves)
            out.extend(f"   - [ ] {m}" for m in e.manual)
        else:
            out.append("2. [ ] Nothing to change in the files: it is only in the history.")
        out.append("3. [ ] Merge this pull request.")
        out.append("4. [ ] Purge it from the history (below).")
        if e.images:
            out.append("5. [ ] Delete or rebuild the image tags that carry it (listed above).")
        else:
            out.append("5. [ ] Delete or rebuild every image tag built from an affected commit.")
    out.append("")
    out.append("## History purge plan")
    out.append("")
    out.append(
        "Merging does not remove the values from earlier commits. After rotating, rewrite "
        "the history on a fresh mirror clone (never on a working checkout):"
    )
    out.append("")
    out.append("```sh")
    out.append("leakguard remediate --purge-plan ~/leakguard-replacements.txt  # 0600, local only")
    out.append("git clone --mirror <this repository's URL> repo-mirror.git")
    out.append("leakguard remediate --purge --mirror repo-mirror.git "
               "--purge-plan ~/leakguard-replacements.txt")  # fmt: skip
    out.append("git -C repo-mirror.git push --force --mirror <this repository's URL>")
    out.append("```")
    out.append("")
    out.append(
        "The purge runs `git filter-repo --replace-text` and then scans the rewritten "
        "history: it fails unless none of the fingerprints above remains. Afterwards every "
        "collaborator must re-clone (or `git fetch` and `git reset --hard origin/BRANCH` on "
        "each branch): a push from an old clone brings the values back. Ask the forge to "
        "drop cached views of old commits and pull requests."
    )
    if plan.notes:
        out.append("")
        out.append("## After merging")
        out.append("")
        out.append("```sh")
        out.extend(plan.notes)
        out.append("```")
    out.append("")
    out.append(
        "<sub>Generated by leakguard. Values are redacted; fingerprints are sha256 of the "
        "value. Running `leakguard remediate --push --open` again updates this pull "
        "request.</sub>"
    )
    return "\n".join(out) + "\n"


def sweep_findings(path: Path) -> list[Any]:
    """The `findings` of a sweep (or image) JSON report; clear errors for anything else."""
    from leakguard import safejson
    from leakguard.errors import TargetUnreadable, UsageError

    try:
        report = safejson.loads(path.read_bytes())
    except OSError as e:
        raise TargetUnreadable(f"cannot read {path}: {e.strerror}") from e
    except ValueError as e:
        raise UsageError(
            f"{path} is not JSON", hint="give a `leakguard sweep -f json` report"
        ) from e
    findings = report.get("findings") if isinstance(report, dict) else None
    if not isinstance(findings, list):
        raise UsageError(f"{path} is not a leakguard JSON report",
                         hint="give a `leakguard sweep -f json` report")  # fmt: skip
    return findings


def load_sweep(path: Path) -> dict[str, list[str]]:
    """fingerprint -> where a sweep (or image) JSON report saw it: image, layer, path."""
    findings = sweep_findings(path)
    out: dict[str, list[str]] = {}
    for f in findings:
        loc = f.get("location") or {} if isinstance(f, dict) else {}
        if not isinstance(f, dict) or not loc.get("image") or not f.get("fingerprint"):
            continue
        layer = str(loc.get("layer") or "")
        where = f"`{loc['image']}`"
        if layer:
            where += f" layer `{layer[:19]}…`"
        what = loc.get("path") or loc.get("origin")
        if what:
            where += f": `{what}`"
        seen = out.setdefault(str(f["fingerprint"]), [])
        if where not in seen:
            seen.append(where)
    return out
