"""One detection engine that every surface feeds text into.

How a scan works, and where its speed comes from:

1. All rules' prefilters (literal keywords, or Hyperscan expressions) are
   compiled into one Hyperscan database, which finds every candidate in a
   single pass over the bytes, whatever the number of rules.
2. Each candidate names a rule and an offset. Only that rule's Python regex
   runs, and only on the line around that offset (a window of it, for very
   long lines).
3. The rule's `check` does the value analysis; inline markers suppress; when
   two rules claim the same bytes, the more specific (earlier) rule wins.

Text is handled as bytes from end to end: no decoding of whole files, and
non-UTF-8 files scan like any other. Large inputs go through `scan_stream`
in bounded chunks cut at line ends.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from leakguard.models import Confidence, Finding, Location
from leakguard.models import SecretValue as _SecretValue
from leakguard.models import fingerprint as _sha256
from leakguard.models import redact as _redact
from leakguard.rules import Context, Rule, RuleSet
from leakguard.rules.checks import placeholder_token
from leakguard.rules.filekinds import credential_file_kind
from leakguard.rules.values import is_sample_path, is_test_data_name


class Readable(Protocol):
    """What scan_stream reads from: a binary file or anything with its read()."""

    def read(self, n: int = -1, /) -> bytes: ...


log = logging.getLogger(__name__)

INLINE_MARKERS = (b"leakguard:allow", b"pragma: allowlist secret")
CHUNK_SIZE = 8 * 1024 * 1024
OVERLAP = 64 * 1024  # re-scanned across the cut of an endless line: longer than any secret
# Lines longer than this (minified code, base64 blobs) are examined in a
# window around each candidate instead of whole.
LONG_LINE = 4096
WINDOW = 1024
MULTILINE_WINDOW = 64 * 1024
# Past one hit per this many bytes, a rule's regex runs once over the whole buffer.
DENSE_HIT_COST = 256
# Findings reported from one buffer (scan_bytes) or one stream (scan_stream): a
# file of nothing but assignments gives one a line, each a report entry of its
# own. Past the bound the rest is cut, and said so (take_gave_up).
MAX_FINDINGS = 10_000

_CODE = {
    ".py", ".pyi", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".go", ".java", ".kt", ".kts",
    ".scala", ".groovy", ".gradle", ".rb", ".php", ".pl", ".pm", ".t", ".c", ".h", ".cc", ".cpp",
    ".hpp", ".cxx", ".cs", ".rs", ".swift", ".m", ".lua", ".r", ".dart", ".ex", ".exs", ".erl",
    ".vue", ".svelte", ".cls",
}  # fmt: skip
_CONFIG = {
    ".env", ".ini", ".cfg", ".conf", ".cnf", ".properties", ".toml", ".yaml", ".yml", ".json",
    ".tfvars", ".hcl", ".tf", ".xml", ".npmrc", ".pypirc", ".netrc", ".pgpass", ".config",
}  # fmt: skip
_SHELL = {".sh", ".bash", ".zsh", ".ksh", ".fish", ".ps1", ".bat", ".cmd"}


_KNOWN_EXTENSIONS = _CODE | _CONFIG | _SHELL | {".md", ".rst", ".txt", ".json", ".dockerignore"}


# Interpreters whose scripts are program code (a shell script is not: its
# assignments are commands, and the shell analysis reads them).
_CODE_INTERPRETERS = re.compile(
    rb"#![ \t]*\S*?(?:/env[ \t]+(?:-\S+[ \t]+)*)?\b(?:perl|python[0-9.]*|ruby|node|nodejs|php|"
    rb"lua|Rscript|groovy|deno|bun)\b"
)


def shebang_kind(head: bytes) -> str | None:
    """ "code" for a file with no telling name whose `#!` line names a programming
    language's interpreter (`#!/usr/bin/perl`, `#!/usr/bin/env python3`): its
    `$pwd = getcwd()` is a call, not a password."""
    return "code" if _CODE_INTERPRETERS.match(head[:200]) else None


def named_dockerfile(path: str) -> bool:
    """`Dockerfile`, `Containerfile` or `*.dockerfile`: a Dockerfile by its name
    alone (`Dockerfile.prod` is one too, by `kind_of_path`, if it reads like one)."""
    name = os.path.basename(path).lower()
    return name in ("dockerfile", "containerfile") or name.endswith(".dockerfile")


@functools.lru_cache(maxsize=4096)  # asked by the surface, then by the engine, per file
def kind_of_path(path: str | None) -> str | None:
    """The syntax a file is written in, as far as its name tells.

    Credential files get their own kind ("npmrc", "kubeconfig", "dotenv", ...:
    see leakguard.detectors.credfiles), which rules for those files look for.
    """
    if not path:
        return None
    credential: str | None = credential_file_kind(path)
    if credential is not None:
        return credential
    name = os.path.basename(path).lower()
    if name.startswith(".env") or name.endswith(".env"):
        return "config"
    ext = os.path.splitext(name)[1] or ("." + name.lstrip(".") if name.startswith(".") else "")
    if named_dockerfile(name):
        return "dockerfile"
    # Dockerfile.prod, Containerfile.alpine; but dockerfile.py is Python
    if name.startswith(("dockerfile.", "containerfile.")) and ext not in _KNOWN_EXTENSIONS:
        return "dockerfile"
    if name.startswith(("docker-compose", "compose")) and name.endswith((".yml", ".yaml")):
        return "compose"
    if ext in _CODE:
        return "code"
    if ext in _CONFIG:
        return "config"
    if ext in _SHELL:
        return "shell"
    return None


@dataclass(frozen=True, slots=True)
class _Candidate:
    start: int  # absolute offset of the secret in the buffer
    end: int
    rule_index: int
    finding: Finding


def _compiled(expressions: list[bytes], flags: list[int]) -> Any:
    """One Hyperscan block database for all expressions, cached on disk.

    Compiling takes tens of milliseconds per hundred rules: too much for a git
    hook that runs on every push. The cache key covers the expressions, their
    flags and the Hyperscan build; an unreadable or stale entry is recompiled.
    """
    import hashlib

    import hyperscan

    build = getattr(hyperscan, "__version__", "")
    key = hashlib.sha256(repr((build, expressions, flags)).encode()).hexdigest()
    folder = _cache_dir()
    cache = folder / f"hs-{key[:32]}.db" if folder is not None else None
    if cache is not None:
        try:
            db = hyperscan.loadb(cache.read_bytes(), mode=hyperscan.HS_MODE_BLOCK)
            db.scratch = hyperscan.Scratch(db)
            log.debug("loaded %d prefilter expression(s) from %s", len(expressions), cache)
            return db
        except FileNotFoundError:
            pass
        except Exception as e:  # a truncated or foreign cache entry: compile afresh
            log.debug("ignoring cache %s: %s", cache, e)
    started = time.perf_counter()
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    try:
        db.compile(expressions=expressions, ids=list(range(len(expressions))),
                   elements=len(expressions), flags=flags)  # fmt: skip
    except hyperscan.error as e:  # pragma: no cover - rules are validated in tests
        raise ValueError(f"a rule's prefilter does not compile: {e}") from e
    log.debug("compiled %d prefilter expression(s) in %.3fs", len(expressions),
              time.perf_counter() - started)  # fmt: skip
    if cache is not None:
        try:
            from leakguard.fsutil import atomic_write

            cache.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(cache, hyperscan.dumpb(db))
        except OSError as e:
            log.debug("cannot write cache %s: %s", cache, e)
    return db


def _cache_dir() -> Path | None:
    """Where compiled rule databases are kept; LEAKGUARD_CACHE_DIR="" turns it off."""
    explicit = os.environ.get("LEAKGUARD_CACHE_DIR")
    if explicit is not None:
        return Path(explicit) if explicit else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "leakguard"


class Engine:
    """Compiled rules; scan text from any surface into findings."""

    def __init__(self, ruleset: RuleSet):
        import hyperscan

        self.ruleset = ruleset
        self.rules: tuple[Rule, ...] = tuple(ruleset)
        self._gave_up: list[str] = []
        self._cut = False  # the last _scan stopped at MAX_FINDINGS
        expressions: list[bytes] = []
        flags: list[int] = []
        owners: list[int] = []
        for index, rule in enumerate(self.rules):
            if rule.keywords:
                for keyword in rule.keywords:
                    expressions.append(re.escape(keyword.encode()))
                    flags.append(hyperscan.HS_FLAG_CASELESS)
                    owners.append(index)
            elif rule.prefilter:
                expressions.append(rule.prefilter.encode())
                flags.append(0)
                owners.append(index)
            else:
                expressions.append(rule.pattern.encode())
                flags.append(hyperscan.HS_FLAG_PREFILTER)
                owners.append(index)
        self._owners = owners
        self._db = _compiled(expressions, flags)

    # -- public API ---------------------------------------------------------

    def take_gave_up(self) -> list[str]:
        """Why rules stopped short since last asked (a surface turns each into a skip)."""
        out, self._gave_up = self._gave_up, []
        return out

    def scan_bytes(
        self, data: bytes, location: Location, context: Context | None = None
    ) -> list[Finding]:
        """Findings in `data`, with lines counted from the start of `data`."""
        context = context or Context(path=location.path)
        found = self._scan(data, location, context, 1)
        if b"Secret" in data:  # a Kubernetes Secret's base64 `data:` values
            decoded = self._secret_manifest(data, location, context)
            if decoded:
                # the decoded value stands for its encoded form
                places = {(f.location.line, f.location.column) for f in decoded}
                found = [f for f in found if (f.location.line, f.location.column) not in places]
                found.extend(decoded)
                found.sort(key=lambda f: (f.location.line or 0, f.location.column or 0))
        return found

    def scan_text(
        self, text: str, location: Location, context: Context | None = None
    ) -> list[Finding]:
        try:
            data = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate a JSON document spelled (image config)
            data = text.encode("utf-8", "surrogatepass")
        return self.scan_bytes(data, location, context)

    def scan_stream(
        self,
        stream: Readable,
        location: Location,
        context: Context | None = None,
        *,
        chunk_size: int = CHUNK_SIZE,
        on_bytes: Callable[[int], None] | None = None,
    ) -> Iterator[Finding]:
        """Scan a stream in bounded memory: chunks cut after a line end.

        A line longer than four chunks is scanned in windows that overlap by
        OVERLAP bytes, so that a secret across a window's edge is still found
        (once), with its column counted from the start of the line.
        """
        context = context or Context(path=location.path)
        line = 1
        column = 0  # bytes of `line` before `data` (a line cut without a line end)
        skip = 0  # findings starting before this offset of `data` were reported already
        carry = b""

        def offset(f: Finding) -> int:
            """Where `f` starts in `data` (`skip` for lines after the first)."""
            if f.location.line != line or f.location.column is None:
                return skip
            return f.location.column - 1 - column

        def fresh(found: list[Finding], edge: int | None = None) -> Iterator[Finding]:
            for f in found:
                start = offset(f)
                if start >= skip and (edge is None or start < edge):
                    yield f

        budget = MAX_FINDINGS
        stopped = False  # at MAX_FINDINGS: the rest of the stream is not read

        def scan(data: bytes) -> list[Finding]:
            nonlocal budget, stopped
            found = self._scan(data, location, context, line, column, budget)
            budget -= len(found)
            stopped = self._cut
            return found

        while not stopped:
            block = stream.read(chunk_size)
            if not block:
                break
            if on_bytes is not None:
                on_bytes(len(block))
            data = carry + block if carry else block
            cut = data.rfind(b"\n")
            if cut >= 0:
                head, carry = data[: cut + 1], data[cut + 1 :]
                yield from fresh(scan(head))
                line += head.count(b"\n")
                column = skip = 0
            elif len(data) <= 4 * chunk_size:
                carry = data  # a long line: wait for its end, up to four chunks
            else:
                # No line end in sight: scan what we have rather than grow without
                # bound, and keep its tail to scan again with what follows.
                edge = len(data) - min(OVERLAP, chunk_size)
                found = scan(data)
                reported = list(fresh(found, edge))
                yield from reported
                ends = [offset(f) + len(f.secret.raw) for f in reported if f.secret]
                skip = max([edge, *ends]) - edge
                column += edge
                carry = data[edge:]
        if carry and not stopped:
            yield from fresh(scan(carry))

    # -- internals ----------------------------------------------------------

    def _secret_manifest(self, data: bytes, location: Location, context: Context) -> list[Finding]:
        """Findings in the decoded `data:` values of Kubernetes Secret manifests, each
        reported at its entry's line and column. A one-line value is scanned as the
        line `name: value`, so that a password under a secret-like name is found the way
        it would be in plain YAML; a longer one (a config file, a key) as a file of
        its own."""
        from leakguard.rules.kubernetes import secret_data

        out: list[Finding] = []
        for entry in secret_data(data):
            line_start = data.rfind(b"\n", 0, entry.offset) + 1
            where = location.at(data.count(b"\n", 0, line_start) + 1, entry.offset - line_start + 1)
            value = entry.value.rstrip(b"\r\n")
            text = value if b"\n" in value else entry.name + b": " + value
            name = entry.name.decode("ascii", "replace")
            kind = kind_of_path(name) or "config"
            found = self._scan(text, location, Context(path=context.path, kind=kind), 1)
            out.extend(replace(f, location=where) for f in found)
        return out

    def _hits(self, data: bytes) -> dict[int, list[int]]:
        """Where each rule's prefilter matched in `data`: rule index -> end offsets."""
        by_rule: dict[int, list[int]] = {}
        get = by_rule.get
        owners = self._owners

        def on_match(expr_id: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            owner = owners[expr_id]
            ends = get(owner)
            if ends is None:
                by_rule[owner] = [to]
            else:
                ends.append(to)

        self._db.scan(data, match_event_handler=on_match)
        return by_rule

    def _scan(
        self,
        data: bytes,
        location: Location,
        context: Context,
        first_line: int,
        first_column: int = 0,
        budget: int = MAX_FINDINGS,
    ) -> list[Finding]:
        """Findings in `data`, which starts at `first_line`, `first_column` bytes into it;
        at most `budget` of them (then `_cut` is set, and why is kept for take_gave_up)."""
        self._cut = False
        if not data:
            return []
        by_rule = self._hits(data)
        if not by_rule:
            return []
        if context.kind is None:
            kind = kind_of_path(context.path)
            if kind is None and first_line == 1 and first_column == 0:
                kind = shebang_kind(data)
            context = Context(path=context.path, kind=kind)
        matches: list[tuple[int, int, bytes]] = []  # (start, rule index, secret)
        for rule_index, ends in by_rule.items():
            rule = self.rules[rule_index]
            try:
                confirmed = (
                    self._confirm(rule, data, ends)
                    if rule.find is None
                    else _confirm_lines(rule.find, data, ends, context)
                )
                for start, secret in confirmed:
                    matches.append((start, rule_index, secret))
            except TimeoutError:  # a rule from config that backtracks without end
                log.debug("rule %s gave up on %s", rule.id, location.path)
                self._gave_up.append(
                    f"rule {rule.id} gave up after {rule.time_limit or 0:.0f}s (its pattern "
                    "backtracks too much): not every match here is reported"
                )
        if not matches:
            return []
        matches.sort()
        candidates: list[_Candidate] = []
        vetoed: list[tuple[int, int]] = []  # spans of provider tokens that are placeholders
        line_no = first_line
        counted_to = 0
        # Matches come in order: the line around one is found from the last
        # one's, so a file (or a line of many megabytes) is searched once.
        line_start, line_end = 0, -1
        for start, rule_index, secret in matches:
            rule = self.rules[rule_index]
            if start > line_end:  # on a later line than the last match
                newline = data.rfind(b"\n", line_end + 1, start)
                line_start = newline + 1 if newline >= 0 else line_end + 1
                line_end = data.find(b"\n", start)
                if line_end < 0:
                    line_end = len(data)
            if line_end - line_start > LONG_LINE:
                lo = max(line_start, start - WINDOW)
                line = data[lo : min(line_end, start + len(secret) + WINDOW)]
            else:
                lo = line_start
                line = data[line_start:line_end]
            at = start - lo  # the secret's offset in `line`
            end = start + len(secret)
            if rule.decode is not None:
                decoded = rule.decode(secret)
                if not decoded:
                    continue
                secret = decoded
            confidence = rule.confidence
            if rule.check is not None:
                checked = rule.check(secret, line, context)
                if checked is None:
                    if "provider" in rule.tags and placeholder_token(secret):
                        vetoed.append((start, end))
                    continue
                confidence = checked
            if _suppressed_inline(line):
                continue
            made_up = _test_data(context, line, at)  # a test's wrong input: never reported
            if made_up:  # and a low note where the flag is not kept (a cached image layer)
                confidence = Confidence.LOW
            if line_start > counted_to:
                line_no += data.count(b"\n", counted_to, line_start)
                counted_to = line_start
            if len(candidates) >= budget:
                self._cut = True
                self._gave_up.append(
                    f"stopped at {MAX_FINDINGS:,} findings (a bound): nothing from line "
                    f"{line_no} on is reported"
                )
                break
            finding = Finding(
                rule_id=rule.id,
                severity=rule.severity,
                confidence=confidence,
                location=location.at(
                    line_no, start - line_start + 1 + (first_column if line_start == 0 else 0)
                ),
                fingerprint=_sha256(secret),
                redacted=_redact(secret),
                message=rule.description,
                remediation=rule.remediation,
                secret=_SecretValue(secret),
                made_up=made_up,
            )
            candidates.append(_Candidate(start, end, rule_index, finding))
        if vetoed:
            vetoed_spans = _Spans(sorted(vetoed))
            # A provider's own format filled with a placeholder (`xoxp-` and a counting
            # run) is not a secret under a generic rule either.
            candidates = [c for c in candidates if "provider" in self.rules[c.rule_index].tags
                          or not _overlaps(vetoed_spans, c.start, c.end)]  # fmt: skip
        return _resolve_overlaps(candidates)

    @staticmethod
    def _confirm(rule: Rule, data: bytes, ends: list[int]) -> Iterator[tuple[int, bytes]]:
        """(offset, secret) of each match of `rule` near the prefilter's hits.

        Few hits: the rule's regex runs on the line (or a window of a long line)
        around each. Many hits: one pass over the whole buffer is cheaper.
        """
        regex = rule.regex
        secret_of = rule.secret_of
        if rule.starts_within is not None:
            yield from Engine._confirm_near(rule, rule.starts_within, data, ends)
            return
        if not rule.multiline and len(ends) * DENSE_HIT_COST >= len(data):
            for match in regex.finditer(data):
                secret, offset = secret_of(match)
                if secret:
                    yield offset, secret
            return
        seen_windows: set[int] = set()
        seen_starts: set[int] = set()
        covered = -1  # multiline: hits before this offset were searched with a window
        for to in sorted(ends) if rule.multiline else ends:
            if rule.multiline:
                # From the line's start, or near the hit on a line longer than a
                # window; a hit in the first half of the last window was searched
                # with it (hits come in order).
                if to < covered:
                    continue
                anchor = max(0, to - 1)
                floor = max(0, anchor - MULTILINE_WINDOW)
                newline = data.rfind(b"\n", floor, anchor)
                lo = newline + 1 if newline >= 0 else 0 if floor == 0 else max(0, to - WINDOW)
                hi = min(len(data), lo + MULTILINE_WINDOW)
                covered = lo + MULTILINE_WINDOW // 2
            else:
                lo, hi = _line_window(data, to)
                for _ in range(rule.lines - 1):  # the lines a match may run on to
                    nxt = data.find(b"\n", hi + 1)
                    hi = len(data) if nxt < 0 else min(nxt, hi + LONG_LINE)
            if lo in seen_windows:
                continue
            seen_windows.add(lo)
            for match in regex.finditer(data, lo, hi):
                secret, offset = secret_of(match)
                if secret and offset not in seen_starts:
                    seen_starts.add(offset)
                    yield offset, secret

    @staticmethod
    def _confirm_near(
        rule: Rule, back: int, data: bytes, ends: list[int]
    ) -> Iterator[tuple[int, bytes]]:
        """Like _confirm, for a rule whose matches start at most `back` bytes before
        its prefilter's hits end: the regex is searched from there rather than from
        the start of the line. Where that finds no match starting before the hit (a
        name padded far from its `=`, or only a later assignment), the line is
        searched as _confirm would (a window of it, for a long line)."""
        regex = rule.regex
        secret_of = rule.secret_of
        # Matches are taken in order and never overlap (as with finditer): each one
        # starts after the last one's end, so none is reported twice.
        done_to = -1  # a search already answered for hits before this offset
        for to in sorted(ends):
            if to <= done_to:
                continue
            window_lo, hi = _line_window(data, to)
            first = max(window_lo, done_to)
            lo = max(first, to - back)
            match = regex.search(data, lo, hi)
            if (match is None or match.start() >= to) and lo > first:
                match = regex.search(data, first, hi)
            if match is None or match.start() >= to:
                continue  # a later match is found from its own hit
            done_to = match.end()
            secret, offset = secret_of(match)
            if secret:
                yield offset, secret


class _Spans:
    """Spans sorted by start, asked whether any overlaps [start, end) in O(log n)."""

    def __init__(self, spans: Sequence[tuple[int, int]]):
        self.starts = [lo for lo, _ in spans]
        self.reach: list[int] = []  # the furthest end among the spans up to each one
        furthest = -1
        for _, hi in spans:
            furthest = max(furthest, hi)
            self.reach.append(furthest)


def _overlaps(spans: _Spans, start: int, end: int) -> bool:
    k = bisect_left(spans.starts, end)  # the spans that start before `end`
    return k > 0 and spans.reach[k - 1] > start


def _line_window(data: bytes, to: int) -> tuple[int, int]:
    """The line around a prefilter hit that ends at `to`: (start, end) offsets, or a
    window of WINDOW bytes each side of the hit on a line longer than LONG_LINE.

    Line ends are looked for no further than LONG_LINE bytes away: on a line of
    many megabytes, each hit costs a window's work, not the line's.
    """
    anchor = max(0, to - 1)
    floor = max(0, anchor - LONG_LINE - 1)
    line_start = data.rfind(b"\n", floor, anchor) + 1
    ceiling = min(len(data), anchor + LONG_LINE + 1)
    line_end = data.find(b"\n", anchor, ceiling)
    if line_end < 0:
        line_end = len(data) if ceiling == len(data) else -1
    if (line_start or floor == 0) and line_end >= 0 and line_end - line_start <= LONG_LINE:
        return line_start, line_end
    lo = data.rfind(b"\n", max(0, to - WINDOW), anchor) + 1 or max(0, to - WINDOW)
    hi = data.find(b"\n", anchor, to + WINDOW)
    return lo, hi if hi >= 0 else min(len(data), to + WINDOW)


def _confirm_lines(
    find: Callable[[bytes, Context], Iterable[tuple[int, bytes]]],
    data: bytes,
    ends: list[int],
    context: Context,
) -> Iterator[tuple[int, bytes]]:
    """(offset, secret) of what a rule made of code finds on the lines around its
    prefilter's hits: each line (a window of a long one) is given to it once."""
    seen: set[int] = set()
    for to in sorted(ends):
        lo, hi = _line_window(data, to)
        if lo in seen:
            continue
        seen.add(lo)
        for at, secret in find(data[lo:hi], context):
            if secret:
                yield lo + at, secret


def _test_data(context: Context, line: bytes, at: int) -> bool:
    """A value in a test, example or doc file under a name for a test's wrong input."""
    return is_sample_path(context.path) and is_test_data_name(line[: max(0, at)])


def _suppressed_inline(line: bytes) -> bool:
    return any(marker in line for marker in INLINE_MARKERS)


def _resolve_overlaps(candidates: list[_Candidate]) -> list[Finding]:
    """Where two rules claim overlapping bytes, keep the earlier (more specific) rule.

    Candidates are decided rule by rule (earliest first, then by offset): one is
    kept when it overlaps none kept before it. Candidates that overlap nothing
    are kept outright; the rest fall into clusters (runs of candidates linked
    by overlaps), and within a cluster the question "does a kept candidate
    overlap this one?" is one prefix-maximum query on a Fenwick tree, so the
    whole costs O(n log n) however many candidates pile up on the same bytes.
    """
    if len(candidates) < 2:
        return [c.finding for c in candidates]
    ordered = sorted(candidates, key=lambda c: c.start)  # stable: rule order kept on ties
    kept: list[_Candidate] = []
    cluster: list[_Candidate] = []
    reach = -1
    for cand in ordered:
        if cluster and cand.start >= reach:
            kept.extend(_resolve_cluster(cluster))
            cluster = []
        cluster.append(cand)
        reach = cand.end if len(cluster) == 1 else max(reach, cand.end)
    kept.extend(_resolve_cluster(cluster))
    kept.sort(key=lambda c: c.start)
    return [c.finding for c in kept]


def _resolve_cluster(cluster: list[_Candidate]) -> list[_Candidate]:
    """_resolve_overlaps for one run of candidates sorted by start."""
    if len(cluster) == 1:
        return cluster
    order = sorted(range(len(cluster)), key=lambda i: cluster[i].rule_index)
    kept = keep_disjoint([(c.start, c.end) for c in cluster], order)
    return [cluster[i] for i in kept]


def keep_disjoint(spans: Sequence[tuple[int, int]], order: Iterable[int]) -> list[int]:
    """The spans kept when they are taken in `order` (indices into `spans`, which
    are sorted by start) and each is kept if it overlaps none kept before it.

    "Does a kept span overlap this one?" is one prefix-maximum query on a
    Fenwick tree over the spans' ranks: O(n log n) in all.
    """
    starts = [start for start, _ in spans]
    size = len(spans)
    # tree[i]: the largest end of a kept span among the ranks it covers; 0 where
    # none is kept (spans are not empty, so every end is at least 1).
    tree = [0] * (size + 1)
    kept: list[int] = []
    for position in order:
        start, end = spans[position]
        # Kept spans that start before this one ends: the one reaching furthest
        # overlaps it if it ends after this one starts.
        i = bisect_left(starts, end)
        furthest = 0
        while i > 0:
            if tree[i] > furthest:
                furthest = tree[i]
            i &= i - 1
        if furthest > start:
            continue
        kept.append(position)
        i = position + 1
        while i <= size:
            if tree[i] < end:
                tree[i] = end
            i += i & -i
    return kept


def scan_all(
    engine: Engine, chunks: Iterable[tuple[Location, bytes, Context | None]]
) -> list[Finding]:
    """Scan `(location, text, context)` chunks, the shape every surface produces."""
    out: list[Finding] = []
    for location, data, context in chunks:
        out.extend(engine.scan_bytes(data, location, context))
    return out
