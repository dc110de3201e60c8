"""The Dockerfile surface: what a Dockerfile bakes into an image.

`parse_dockerfile` reads a Dockerfile the way BuildKit's parser does (parser
directives, line continuations with the file's escape character, comments
inside continuations, JSON and shell forms, flags, heredocs, `ARG`/`ENV`/
`LABEL` in their key=value and legacy forms) and keeps the physical line and
column of every piece, so findings point at what a person sees in the editor.

`scan` hands the text to the one engine: values of `ENV`, `ARG` and `LABEL`
one pair at a time (as `KEY=value`), everything else as it is written. On top
of that, a few checks that only make sense for a Dockerfile, each with a rule
id of its own: a secret-named build argument in scope of a `RUN` (its value is
recorded in the image history), a build argument copied into `ENV` (stored in
the image config), credentials typed into a `RUN` command or written by it to a
credential file, and `COPY`/`ADD` of credential files. Multi-stage builds are
followed: a secret that stays in a build stage the final image does not
inherit is reported one severity lower, naming the stage; one copied into the
final stage with `COPY --from` is reported at full severity with the copy line.
"""

from __future__ import annotations

import itertools
import json
import posixpath
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from leakguard import safejson
from leakguard.detectors import AS_PLAIN_TEXT
from leakguard.detectors.shell import (
    REDIRECTS,
    command_credentials,
    interpolation_defaults,
    is_literal,
    referenced_names,
    removed_files,
    secret_name_reason,
    shell_commands,
    written_files,
)
from leakguard.errors import TargetUnreadable
from leakguard.fsutil import open_regular
from leakguard.models import (
    Confidence,
    Finding,
    Location,
    RuleId,
    ScanResult,
    SecretValue,
    Severity,
    Skipped,
    Surface,
    fingerprint,
    redact,
)
from leakguard.rules import Context
from leakguard.rules.container import DOCKERFILE_CHECKS
from leakguard.tree import DISK

if TYPE_CHECKING:
    from leakguard.engine import Engine
    from leakguard.tree import SourceTree

# -- the parsed form ----------------------------------------------------------------


class DockerfileSyntaxError(TargetUnreadable):
    """The Dockerfile is not one BuildKit would accept."""

    def __init__(self, message: str, line: int | None = None):
        where = f"line {line}: " if line else ""
        super().__init__(
            f"{where}{message}", hint="fix the Dockerfile; `docker build` rejects it too"
        )
        self.line = line


@dataclass(frozen=True, slots=True)
class Flag:
    """`--name=value` (or a bare `--name`) before an instruction's arguments."""

    name: str
    value: str | None
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Word:
    """One argument: `raw` as written (quotes kept), `value` with quotes removed."""

    raw: str
    value: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One `ARG`, `ENV` or `LABEL` entry. `value` is None for `ARG NAME`."""

    key: str
    value: str | None
    raw_value: str | None
    line: int
    column: int
    value_line: int
    value_column: int
    legacy: bool = False  # `ENV KEY value` (no "=")


@dataclass(frozen=True, slots=True)
class Heredoc:
    """`<<EOF` ... `EOF` after a RUN, COPY or ADD."""

    name: str
    content: str
    line: int  # physical line of the `<<NAME` marker
    first_line: int  # first line of the body (== end_line for an empty body)
    end_line: int  # line of the terminator
    strip_tabs: bool  # `<<-NAME`
    expand: bool  # False when the name is quoted: no variable expansion


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction, with where every part of it sits in the file.

    `line`..`end_line` are the physical lines it covers (continuations and
    heredoc bodies included). `stage` is the index of its build stage (-1 for
    `ARG`s before the first `FROM`), `stage_name` the stage's `AS` name.
    """

    instruction: str  # upper case: "RUN", "COPY", ...
    arguments: tuple[Word, ...]
    flags: tuple[Flag, ...]
    line: int
    end_line: int
    stage: int
    stage_name: str | None
    json_form: bool = False
    # The arguments as one string (after flags), as written, continuations joined.
    command: str = ""
    pairs: tuple[KeyValue, ...] = ()
    heredocs: tuple[Heredoc, ...] = ()
    # (offset in `command`, line, column) at each physical piece's start.
    segments: tuple[tuple[int, int, int], ...] = field(default=(), repr=False, compare=False)

    def locate(self, offset: int) -> tuple[int, int]:
        """Physical (line, column) of a character offset in `command`."""
        if not self.segments:
            return self.line, 1
        i = max(0, bisect_right(self.segments, offset, key=_segment_start) - 1)
        start, line, column = self.segments[i]
        return line, column + max(0, offset - start)

    def flag(self, name: str) -> str | None:
        for f in self.flags:
            if f.name == name:
                return f.value if f.value is not None else ""
        return None


@dataclass(frozen=True, slots=True)
class Stage:
    index: int
    name: str | None
    base: str
    base_stage: int | None  # index of the stage it is built FROM, if any
    line: int


KNOWN = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})  # fmt: skip
_JSON_FORMS = frozenset({"RUN", "CMD", "ENTRYPOINT", "COPY", "ADD", "VOLUME", "SHELL"})
_HEREDOC_FORMS = frozenset({"RUN", "COPY", "ADD"})
_NO_ARGS_OK = frozenset({"HEALTHCHECK"})
_DIRECTIVE = re.compile(r"^#[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*=[ \t]*(.*?)[ \t]*$")
_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)(.+)$")
_FLAG = re.compile(r"--([A-Za-z][A-Za-z0-9-]*)(?:=(\S*))?")


@dataclass
class _Logical:
    text: str
    segments: list[tuple[int, int, int]]
    line: int
    end_line: int


def parse_directives(lines: Sequence[str]) -> dict[str, str]:
    """`# syntax=...`, `# escape=...`, `# check=...` at the very top of the file."""
    out: dict[str, str] = {}
    for text in lines:
        m = _DIRECTIVE.match(text.lstrip("\ufeff"))
        if m is None:
            break
        name = m.group(1).lower()
        if name in out:
            break  # a repeated directive is a comment (BuildKit rejects it; be lenient)
        out[name] = m.group(2)
    return out


def parse_dockerfile(text: str) -> list[Instruction]:
    """Every instruction of a Dockerfile, in order. Raises DockerfileSyntaxError."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    directives = parse_directives(lines)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileSyntaxError(f"invalid escape character {_shown(escape)}: use \\ or `", 1)
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[Instruction] = []
    stage, stage_name = -1, None
    i = 0
    n = len(lines)
    while i < n:
        raw = lines[i].lstrip("\ufeff") if i == 0 else lines[i]
        stripped = raw.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        column = len(raw) - len(stripped) + 1
        logical = _Logical("", [], start + 1, start + 1)
        piece, more = _cut_continuation(stripped, continuation)
        logical.segments.append((0, start + 1, column))
        pieces = [piece]  # joined once: adding to a string per line is quadratic
        length = len(piece)
        i += 1
        while more and i < n:
            nxt = lines[i]
            i += 1
            if nxt.lstrip(" \t").startswith("#") or not nxt.strip():
                continue
            piece, more = _cut_continuation(nxt, continuation)
            logical.segments.append((length, i, 1))
            pieces.append(piece)
            length += len(piece)
            logical.end_line = i
        logical.text = "".join(pieces)
        if not logical.text.strip():
            continue  # only continuation characters: BuildKit skips it too
        instruction, i = _instruction(logical, lines, i, escape, stage, stage_name)
        if instruction.instruction == "FROM":
            stage += 1
            stage_name = _stage_name(instruction)
            instruction = replace(instruction, stage=stage, stage_name=stage_name)
        elif stage < 0 and instruction.instruction != "ARG":
            raise DockerfileSyntaxError(
                f"{instruction.instruction} before the first FROM (only ARG may come first)",
                instruction.line,
            )
        out.append(instruction)
    if stage < 0:
        raise DockerfileSyntaxError("no FROM instruction: nothing to build")
    return out


_SHOWN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,23}")


def _shown(word: str) -> str:
    """A word of the file fit for an error message: a name in full, anything else cut.

    A syntax error often sits on the line that holds a secret (a stray `--token=…`
    after a broken continuation), and error messages are printed and logged.
    """
    if _SHOWN.fullmatch(word) and not _looks_like_token(word):
        return repr(word)
    return repr(word[:3] + "…") if len(word) > 3 else repr(word)


def _looks_like_token(word: str) -> bool:
    return any(c.isdigit() for c in word) and len(word) > 12


def _cut_continuation(text: str, continuation: re.Pattern[str]) -> tuple[str, bool]:
    m = continuation.search(text)
    if m is None:
        return text, False
    return text[: m.start()], True


def _stage_name(instruction: Instruction) -> str | None:
    words = [w.value for w in instruction.arguments]
    if len(words) >= 3 and words[1].lower() == "as":
        return words[2].lower()
    return None


def _instruction(
    logical: _Logical, lines: list[str], i: int, escape: str, stage: int, stage_name: str | None
) -> tuple[Instruction, int]:
    text = logical.text
    m = re.compile(r"(\S+)(\s*)").search(text)
    assert m is not None
    keyword = m.group(1).upper()
    if keyword not in KNOWN:
        raise DockerfileSyntaxError(f"unknown instruction: {_shown(m.group(1))}", logical.line)
    offset = m.end()
    flags: list[Flag] = []
    while True:
        fm = _FLAG.match(text, offset)
        if fm is None or (fm.end() < len(text) and not text[fm.end()].isspace()):
            break
        if fm.group(0) == "--":
            break
        line, col = _locate(logical, fm.start())
        flags.append(Flag(fm.group(1), fm.group(2), line, col))
        offset = fm.end()
        while offset < len(text) and text[offset] in " \t":
            offset += 1
    rest = text[offset:]
    base = Instruction(
        instruction=keyword, arguments=(), flags=tuple(flags), line=logical.line,
        end_line=logical.end_line, stage=stage, stage_name=stage_name, command=rest,
        segments=_rebase(logical, offset),
    )  # fmt: skip
    if not rest.strip() and keyword not in _NO_ARGS_OK:
        raise DockerfileSyntaxError(f"{keyword} requires at least one argument", logical.line)
    json_form = False
    words: list[Word] = []
    if keyword in _JSON_FORMS and rest.lstrip().startswith("["):
        words_json = _json_words(base, rest)
        if words_json is not None:
            json_form, words = True, words_json
    if not json_form:
        locate = _walker(base)
        words = [
            Word(raw, _unquote(raw, escape), *locate(start))
            for start, raw in _split_words(rest, escape)
        ]
    pairs: tuple[KeyValue, ...] = ()
    if keyword in ("ENV", "LABEL"):
        pairs = _name_values(base, rest, escape)
    elif keyword == "ARG":
        pairs = _arg_pairs(base, rest, escape)
    heredocs: list[Heredoc] = []
    if keyword in _HEREDOC_FORMS and not json_form and "<<" in rest:
        for word in words:
            hm = _HEREDOC_WORD.match(word.raw)
            if hm is None or hm.group(3).startswith("<"):
                continue
            name_raw = hm.group(3)
            name = _unquote(name_raw, escape)
            if not name or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                continue
            body, i, first, end = _read_heredoc(lines, i, name, bool(hm.group(2)), word.line)
            heredocs.append(Heredoc(
                name=name, content=body, line=word.line, first_line=first, end_line=end,
                strip_tabs=bool(hm.group(2)), expand=name_raw == name,
            ))  # fmt: skip
    end_line = heredocs[-1].end_line if heredocs else logical.end_line
    return (
        replace(base, arguments=tuple(words), json_form=json_form, pairs=pairs,
                heredocs=tuple(heredocs), end_line=end_line),
        i,
    )  # fmt: skip


def _segment_start(segment: tuple[int, int, int]) -> int:
    return segment[0]


def _walker(ins: Instruction) -> Callable[[int], tuple[int, int]]:
    """`ins.locate` for offsets that mostly come in order: each steps on from the last."""
    segments = ins.segments
    k = 0

    def locate(offset: int) -> tuple[int, int]:
        nonlocal k
        if not segments:
            return ins.line, 1
        if offset < segments[k][0]:
            k = max(0, bisect_right(segments, offset, key=_segment_start) - 1)
        while k + 1 < len(segments) and segments[k + 1][0] <= offset:
            k += 1
        start, line, column = segments[k]
        return line, column + max(0, offset - start)

    return locate


def _rebase(logical: _Logical, offset: int) -> tuple[tuple[int, int, int], ...]:
    """Segments of `logical.text[offset:]`."""
    out: list[tuple[int, int, int]] = []
    segments = logical.segments
    last = len(segments) - 1
    for k, (start, line, column) in enumerate(segments):
        end = segments[k + 1][0] if k < last else len(logical.text)
        if end <= offset and k != last:
            continue
        if start <= offset:
            out.append((0, line, column + offset - start))
        else:
            out.append((start - offset, line, column))
    return tuple(out)


def _locate(logical: _Logical, offset: int) -> tuple[int, int]:
    k = max(0, bisect_right(logical.segments, offset, key=_segment_start) - 1)
    start, line, column = logical.segments[k]
    return line, column + offset - start


def _read_heredoc(
    lines: list[str], i: int, name: str, strip_tabs: bool, marker_line: int
) -> tuple[str, int, int, int]:
    first = i + 1
    body: list[str] = []
    while i < len(lines):
        text = lines[i]
        i += 1
        check = text.lstrip("\t") if strip_tabs else text
        if check == name:
            return "".join(b + "\n" for b in body), i, first, i
        body.append(check)
    raise DockerfileSyntaxError(f"heredoc <<{name} is never closed (no line `{name}`)", marker_line)


def _json_words(base: Instruction, rest: str) -> list[Word] | None:
    try:
        value = safejson.loads(rest)
    except ValueError:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    spans = list(re.finditer(r'"(?:[^"\\]|\\.)*"', rest))
    words = []
    for k, item in enumerate(value):
        start = spans[k].start() + 1 if len(spans) == len(value) else 0
        raw = spans[k].group(0) if len(spans) == len(value) else json.dumps(item)
        words.append(Word(raw, item, *base.locate(start)))
    return words


def _split_words(text: str, escape: str) -> Iterator[tuple[int, str]]:
    """Whitespace-separated words with quotes kept, as (offset, raw)."""
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return
        start = i
        quote = ""
        while i < n:
            ch = text[i]
            if quote:
                if ch == escape and quote == '"' and i + 1 < n:
                    i += 2
                    continue
                if ch == quote:
                    quote = ""
            elif ch == escape and i + 1 < n:
                i += 2
                continue
            elif ch in "\"'":
                quote = ch
            elif ch in " \t\r\n":
                break
            i += 1
        yield start, text[start:i]


def _unquote(raw: str, escape: str = "\\") -> str:
    """Remove quotes and escapes the way the Dockerfile word processor does
    (variables are left as written)."""
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch == "'":
            end = raw.find("'", i + 1)
            end = n if end < 0 else end
            out.append(raw[i + 1 : end])
            i = end + 1
        elif ch == '"':
            i += 1
            while i < n and raw[i] != '"':
                if raw[i] == escape and i + 1 < n and raw[i + 1] in ('"', escape, "$"):
                    out.append(raw[i + 1])
                    i += 2
                    continue
                out.append(raw[i])
                i += 1
            i += 1
        elif ch == escape and i + 1 < n:
            out.append(raw[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _value_start(raw: str) -> int:
    """Offset of a raw value's first character inside its quotes."""
    return 1 if raw[:1] in ("'", '"') else 0


def _name_values(base: Instruction, rest: str, escape: str) -> tuple[KeyValue, ...]:
    words = list(_split_words(rest, escape))
    if not words:
        raise DockerfileSyntaxError(f"{base.instruction} requires at least one argument", base.line)
    first_start, first = words[0]
    if "=" not in first:
        # legacy `ENV KEY value with spaces`
        m = re.match(r"(\S+)[ \t]+(.*\S)", rest.strip())
        if m is None:
            message = f"{base.instruction} {_shown(first)} has no value"
            raise DockerfileSyntaxError(message, base.line)
        lead = len(rest) - len(rest.lstrip())
        value_offset = lead + m.start(2)
        raw_value = m.group(2)
        line, col = base.locate(first_start)
        vline, vcol = base.locate(value_offset + _value_start(raw_value))
        key = _unquote(m.group(1), escape)
        return (
            KeyValue(key, _unquote(raw_value, escape), raw_value, line, col, vline, vcol, True),
        )
    pairs = []
    for start, word in words:
        key_raw, eq, raw_value = _split_key(word, escape)
        if not eq:
            message = f"{base.instruction}: {_shown(word)} is not of the form name=value"
            raise DockerfileSyntaxError(message, base.locate(start)[0])
        line, col = base.locate(start)
        value_offset = start + len(key_raw) + 1
        vline, vcol = base.locate(value_offset + _value_start(raw_value))
        pairs.append(KeyValue(_unquote(key_raw, escape), _unquote(raw_value, escape), raw_value,
                              line, col, vline, vcol))  # fmt: skip
    return tuple(pairs)


def _split_key(word: str, escape: str) -> tuple[str, str, str]:
    """Split at the first `=` outside quotes."""
    quote = ""
    i = 0
    while i < len(word):
        ch = word[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch == escape:
            i += 1
        elif ch in "\"'":
            quote = ch
        elif ch == "=":
            return word[:i], "=", word[i + 1 :]
        i += 1
    return word, "", ""


def _arg_pairs(base: Instruction, rest: str, escape: str) -> tuple[KeyValue, ...]:
    pairs = []
    for start, word in _split_words(rest, escape):
        key_raw, eq, raw_value = _split_key(word, escape)
        line, col = base.locate(start)
        if eq:
            vline, vcol = base.locate(start + len(key_raw) + 1 + _value_start(raw_value))
            pairs.append(KeyValue(_unquote(key_raw, escape), _unquote(raw_value, escape),
                                  raw_value, line, col, vline, vcol))  # fmt: skip
        else:
            pairs.append(KeyValue(_unquote(key_raw, escape), None, None, line, col, line, col))
    return tuple(pairs)


def stages(instructions: Sequence[Instruction]) -> list[Stage]:
    """The build stages, each with the stage it is built on (FROM <stage>), if any."""
    out: list[Stage] = []
    for ins in instructions:
        if ins.instruction != "FROM" or not ins.arguments:
            continue
        base = ins.arguments[0].value
        base_stage = _stage_index(out, base)
        out.append(Stage(len(out), ins.stage_name, base, base_stage, ins.line))
    return out


def _stage_index(known: Sequence[Stage], ref: str) -> int | None:
    ref = ref.lower()
    for stage in known:
        if stage.name == ref:
            return stage.index
    if ref.isdigit() and int(ref) < len(known):
        return int(ref)
    return None


# -- checks ------------------------------------------------------------------------


CHECKS = DOCKERFILE_CHECKS


def _check_finding(
    rule_id: str,
    location: Location,
    secret: bytes,
    message: str,
    *,
    severity: Severity | None = None,
    confidence: Confidence = Confidence.HIGH,
    shown: str | None = None,
) -> Finding:
    info = CHECKS[rule_id]
    return Finding(
        rule_id=RuleId(rule_id),
        severity=severity or info.severity,
        confidence=confidence,
        location=location,
        fingerprint=fingerprint(secret),
        redacted=shown if shown is not None else redact(secret),
        message=message,
        remediation=info.remediation,
        secret=SecretValue(secret),
    )


def _absolute(path: str, workdir: str) -> str:
    path = path.replace("${HOME}", "/root").replace("$HOME", "/root")
    if path.startswith("~"):
        path = "/root" + path[1:]
    if not path.startswith("/"):
        path = posixpath.join(workdir, path)
    return posixpath.normpath(path)


# -- the scan ----------------------------------------------------------------------------


@dataclass
class _StageFacts:
    workdir: str = "/"
    # absolute paths of files the stage wrote or copied, -> the instruction line
    files: dict[str, int] = field(default_factory=dict)
    args: dict[str, KeyValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Reach:
    """How far what an instruction holds travels."""

    final: bool
    stage_label: str
    via: str = ""


@dataclass
class _Scan:
    engine: Engine
    path: str
    data: bytes
    instructions: list[Instruction]
    stages: list[Stage]
    location: Location
    findings: list[Finding] = field(default_factory=list)
    facts: dict[int, _StageFacts] = field(default_factory=dict)
    lines: list[bytes] = field(default_factory=list)
    scripts: dict[int, list[list[str]]] = field(default_factory=dict)
    # Instruction's first line -> the line (0-based) _find_in last found a word on.
    found_on: dict[int, int] = field(default_factory=dict)
    # (line, redacted) of state.findings[:reported_upto], for _secret_args.
    reported: set[tuple[int | None, str]] = field(default_factory=set)
    reported_upto: int = 0
    # Each instruction's first line, in order, for _instruction_at.
    starts: list[int] = field(default_factory=list)


def _starts_like_a_dockerfile(data: bytes) -> bool:
    """Whether the first line that is not blank or a comment starts with an instruction."""
    for line in data.split(b"\n"):
        words = line.split(None, 1)
        if words and not words[0].startswith(b"#"):
            return words[0].decode("latin-1").upper() in KNOWN
    return True


def scan(engine: Engine, data: bytes, path: str, tree: SourceTree = DISK) -> ScanResult:
    """Findings in one Dockerfile (the `STRUCTURED` entry point for "dockerfile" files);
    its build context is listed from `tree`."""
    result = ScanResult()
    try:
        instructions = parse_dockerfile(data.decode("utf-8", "surrogateescape"))
    except DockerfileSyntaxError as e:
        # A file docker would refuse still holds whatever secrets are written in it:
        # scan it as plain text so that a typo never hides them. A file only named
        # like one (`Dockerfile.5`, a man page) that does not start like one is
        # not a Dockerfile at all: plain text, with nothing to report about it.
        surface = Surface.FILE
        from leakguard.engine import named_dockerfile

        if named_dockerfile(path) or _starts_like_a_dockerfile(data):
            surface = Surface.DOCKERFILE
            result.skipped.append(
                Skipped(path, f"not a valid Dockerfile ({e.message}): {AS_PLAIN_TEXT}")
            )
        location = Location(surface=surface, path=path)
        result.findings.extend(engine.scan_bytes(data, location, Context(path=path)))
        return result
    result.findings.extend(scan_instructions(engine, data, path, instructions))
    # What `COPY . .` would take from the folder around it (the usual build context).
    from leakguard.detectors.context import scan_for_dockerfile

    result.extend(scan_for_dockerfile(engine, path, instructions, tree))
    return result


def scan_instructions(
    engine: Engine, data: bytes, path: str, instructions: list[Instruction]
) -> list[Finding]:
    state = _Scan(
        engine=engine, path=path, data=data, instructions=instructions,
        stages=stages(instructions), location=Location(surface=Surface.DOCKERFILE, path=path),
    )  # fmt: skip
    state.lines = data.split(b"\n")
    _collect_facts(state)
    raw = _engine_findings(state)
    raw.extend(_check_findings(state))
    return [_with_reach(state, f) for f in _dedupe(raw)]


def _engine_findings(state: _Scan) -> list[Finding]:
    """The engine over the text: ENV/ARG/LABEL values one pair at a time, the rest as is."""
    lines = state.data.split(b"\n")
    masked = list(lines)
    out: list[Finding] = []
    for ins in state.instructions:
        if ins.instruction not in ("ENV", "ARG", "LABEL"):
            continue
        for k in range(ins.line - 1, min(ins.end_line, len(lines))):
            masked[k] = b" " * len(lines[k])
        for pair in ins.pairs:
            out.extend(_scan_pair(state, ins, pair))
    context = Context(path=state.path, kind="dockerfile")
    out.extend(state.engine.scan_bytes(b"\n".join(masked), state.location, context))
    return out


def _scan_pair(state: _Scan, ins: Instruction, pair: KeyValue) -> list[Finding]:
    if pair.value is None:
        return []
    context = Context(path=state.path, kind="dockerfile-env")
    out: list[Finding] = []
    candidates = [(0, pair.value)]
    candidates.extend((off, f"{default}") for off, _, default in interpolation_defaults(pair.value))
    for offset, value in candidates:
        text = f"{pair.key}={value}".encode("utf-8", "surrogateescape")
        for f in state.engine.scan_bytes(text, state.location, context):
            col = (f.location.column or 1) - len(pair.key.encode("utf-8", "surrogateescape")) - 2
            if col < 0:
                line, column = pair.line, pair.column
            else:
                line, column = pair.value_line, pair.value_column + offset + col
            note = _pair_note(ins, pair, offset > 0 or value != pair.value)
            out.append(replace(f, location=f.location.at(line, column),
                               message=f"{f.message} {note}"))  # fmt: skip
    return out


def _pair_note(ins: Instruction, pair: KeyValue, is_default: bool) -> str:
    if ins.instruction == "ENV":
        where = "(in ENV: stored in the image config, visible to `docker inspect`)"
    elif ins.instruction == "LABEL":
        where = "(in LABEL: stored in the image config, visible to `docker inspect`)"
    else:
        where = "(ARG default: recorded in the image history of every RUN after it)"
    return f"{where[:-1]}; default of ${{{pair.key}}})" if is_default else where


def _collect_facts(state: _Scan) -> None:
    """Per stage: WORKDIR, build args, and the files written or copied (for COPY --from)."""
    for ins in state.instructions:
        facts = state.facts.setdefault(ins.stage, _StageFacts())
        if ins.instruction == "FROM":
            stage = state.stages[ins.stage] if 0 <= ins.stage < len(state.stages) else None
            if stage is not None and stage.base_stage is not None:
                parent = state.facts.get(stage.base_stage, _StageFacts())
                facts.workdir = parent.workdir
                facts.files.update(parent.files)
        elif ins.instruction == "WORKDIR" and ins.arguments:
            facts.workdir = _absolute(ins.arguments[0].value, facts.workdir)
        elif ins.instruction == "ARG":
            for pair in ins.pairs:
                facts.args[pair.key] = pair
        elif ins.instruction == "RUN":
            for words in _scripts(state, ins):
                for target in written_files(words):
                    line, _ = _find_in(state, ins, target)
                    facts.files[_absolute(target, facts.workdir)] = line
        elif ins.instruction in ("COPY", "ADD"):
            dest = _copy_dest(ins)
            if dest is not None:
                facts.files[_absolute(dest, facts.workdir)] = ins.line


def _copy_dest(ins: Instruction) -> str | None:
    words = [w.value for w in ins.arguments if not w.raw.startswith("<<")]
    if ins.heredocs and words:
        return words[-1]
    return words[-1] if len(words) >= 2 else None


def _copy_sources(ins: Instruction) -> list[Word]:
    words = [w for w in ins.arguments if not _HEREDOC_WORD.match(w.raw)]
    return words[:-1] if len(words) >= 2 else []


def _scripts(state: _Scan, ins: Instruction) -> list[list[str]]:
    cached = state.scripts.get(ins.line)
    if cached is None:
        cached = state.scripts[ins.line] = _run_scripts(ins)
    return cached


def _run_scripts(ins: Instruction) -> list[list[str]]:
    """The simple commands a RUN executes: its command line and its heredoc bodies."""
    if ins.json_form:
        words = [w.value for w in ins.arguments]
        if len(words) >= 3 and posixpath.basename(words[0]) in ("sh", "bash") and "-c" in words:
            return shell_commands(words[words.index("-c") + 1])
        return [words]
    text = ins.command
    for doc in ins.heredocs:
        text += "\n" + doc.content
    return shell_commands(text)


def _check_findings(state: _Scan) -> list[Finding]:
    out: list[Finding] = []
    args_in_scope: dict[str, KeyValue] = {}
    for ins in state.instructions:
        at = state.location
        if ins.instruction == "FROM":
            args_in_scope = {}
        elif ins.instruction == "ARG" and ins.stage >= 0:
            for pair in ins.pairs:
                args_in_scope[pair.key] = pair
        elif ins.instruction == "ENV":
            out.extend(_arg_in_env(state, ins, args_in_scope))
        elif ins.instruction == "RUN":
            out.extend(_secret_args(state, ins, args_in_scope))
            out.extend(_run_credentials(state, ins))
        elif ins.instruction in ("COPY", "ADD"):
            out.extend(_copied_credential_files(state, ins, at))
        elif ins.instruction in ("CMD", "ENTRYPOINT", "HEALTHCHECK"):
            out.extend(_command_credentials(state, ins))
    return out


def _command_credentials(state: _Scan, ins: Instruction) -> list[Finding]:
    """CMD, ENTRYPOINT and HEALTHCHECK CMD: their command line is in the image config."""
    if ins.json_form:
        words = [w.value for w in ins.arguments]
    else:
        text = ins.command
        if ins.instruction == "HEALTHCHECK":
            m = re.search(r"(?i)(?:^|\s)CMD\s+(.*)", text, re.S)
            text = m.group(1) if m else ""
        try:
            value = safejson.loads(text) if text.lstrip().startswith("[") else None
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            words = value
        else:
            words = ["sh", "-c", text]
    scripts = [words]
    if len(words) >= 3 and words[-2] == "-c":
        scripts = shell_commands(words[-1])
    out = []
    for script in scripts:
        for leak in command_credentials(script):
            line, col = _find_in(state, ins, leak.secret)
            out.append(_check_finding(
                "dockerfile-cmd-credential", state.location.at(line, col),
                leak.secret.encode("utf-8", "surrogateescape"),
                f"{leak.what} in {ins.instruction}: `docker inspect` shows it to anyone who can "
                f"pull the image",
            ))  # fmt: skip
    return out


def _secret_args(state: _Scan, ins: Instruction, scope: dict[str, KeyValue]) -> list[Finding]:
    out = []
    # The names this instruction uses, read once; the findings so far, kept up to
    # date rather than gathered again for every instruction.
    used = referenced_names(ins.command + "".join(d.content for d in ins.heredocs))
    reported = state.reported
    for f in state.findings[state.reported_upto :]:
        reported.add((f.location.line, f.redacted))
    # Only the names used (an ARG never used leaks nothing), in the order declared.
    names = sorted((n for n in used if n in scope), key=lambda n: (scope[n].line, scope[n].column))
    for name in names:
        pair = scope[name]
        reason = secret_name_reason(name)
        if reason is None or (pair.value is not None and not _from_build_arg(pair.value)):
            continue  # a literal default is the engine's finding
        if (pair.line, name) in reported:
            continue
        message = (
            f"Build argument {name} ({reason}) is used by the RUN at line {ins.line}: "
            f"`docker history` shows the value passed with --build-arg"
        )
        finding = _check_finding(
            "dockerfile-secret-arg", state.location.at(pair.line, pair.column),
            name.encode("utf-8", "surrogateescape"), message, shown=name,
        )  # fmt: skip
        state.findings.append(finding)
        out.append(finding)
    state.reported_upto = len(state.findings)
    reported.update((f.location.line, f.redacted) for f in out)
    return out


def _from_build_arg(value: str) -> bool:
    return not value or not is_literal(value)


def _arg_in_env(state: _Scan, ins: Instruction, scope: dict[str, KeyValue]) -> list[Finding]:
    out = []
    for pair in ins.pairs:
        if pair.value is None:
            continue
        for name in sorted(referenced_names(pair.value)):
            arg = scope.get(name)
            if arg is None:
                continue
            reason = secret_name_reason(name) or secret_name_reason(pair.key)
            if reason is None:
                continue
            message = (
                f"ENV {pair.key} copies build argument {name} ({reason}) into the image "
                f"config: anyone who can pull the image reads it with `docker inspect`"
            )
            out.append(_check_finding(
                "dockerfile-secret-arg-in-env", state.location.at(pair.line, pair.column),
                f"{pair.key}={name}".encode("utf-8", "surrogateescape"), message,
                shown=pair.key,
            ))  # fmt: skip
    return out


def _run_credentials(state: _Scan, ins: Instruction) -> list[Finding]:
    out: list[Finding] = []
    scripts = _scripts(state, ins)
    removed: set[str] = set()
    facts = state.facts.get(ins.stage, _StageFacts())
    for words in scripts:
        removed.update(_absolute(p, facts.workdir) for p in removed_files(words))
    secret_mount = any(
        f.name == "mount" and f.value and "type=secret" in f.value for f in ins.flags
    )
    for words in scripts:
        for leak in command_credentials(words):
            line, col = _find_in(state, ins, leak.secret)
            message = f"{leak.what} in a RUN command: the Dockerfile and the image history keep it"
            out.append(_check_finding(
                "dockerfile-run-credential", state.location.at(line, col),
                leak.secret.encode("utf-8", "surrogateescape"), message,
            ))  # fmt: skip
        for target in written_files(words):
            kind = _credential_kind(target)
            if kind is None or _absolute(target, facts.workdir) in removed:
                continue
            content = " ".join(w for w in words if w not in REDIRECTS and w != target)
            if not _carries_secret(content, secret_mount):
                continue
            line, col = _find_in(state, ins, target)
            message = (
                f"RUN writes {target} ({kind} credential file) and leaves it in the layer: "
                f"deleting it in a later step does not remove it from this one"
            )
            out.append(_check_finding(
                "dockerfile-run-credential-file", state.location.at(line, col),
                f"{target}\0{content}".encode("utf-8", "surrogateescape"), message, shown=target,
            ))  # fmt: skip
    return out


def _carries_secret(content: str, secret_mount: bool) -> bool:
    """Does the command that writes a credential file put a credential in it?"""
    lower = content.lower()
    if any(word in lower for word in ("token", "auth", "password", "secret", "_key", "login")):
        return True
    return "$" in content and not secret_mount


def _credential_kind(path: str) -> str | None:
    from leakguard.rules.filekinds import credential_file_kind

    kind: str | None = credential_file_kind(_absolute(path, "/"))
    return kind


def _copied_credential_files(state: _Scan, ins: Instruction, at: Location) -> list[Finding]:
    out = []
    for doc in ins.heredocs:
        dest = _copy_dest(ins)
        if dest and _credential_kind(dest) and doc.content.strip():
            kind = _credential_kind(dest)
            out.append(_check_finding(
                "dockerfile-copy-credential-file", at.at(ins.line, 1),
                doc.content.encode("utf-8", "surrogateescape"),
                f"{ins.instruction} writes a {kind} credential file to {dest} from a heredoc",
                shown=dest,
            ))  # fmt: skip
    for word in _copy_sources(ins):
        source = word.value
        if "://" in source or ins.heredocs:
            continue
        kind = _credential_kind(source)
        if kind is None:
            continue
        where = f" from stage {ins.flag('from')}" if ins.flag("from") else ""
        message = (
            f"{ins.instruction} copies {source} ({kind} credential file){where} into the image"
        )
        out.append(_check_finding(
            "dockerfile-copy-credential-file", at.at(word.line, word.column),
            f"{ins.flag('from') or ''}:{source}".encode("utf-8", "surrogateescape"), message,
            shown=source,
        ))  # fmt: skip
    return out


def _find_in(state: _Scan, ins: Instruction, needle: str) -> tuple[int, int]:
    """The first line of `ins` that holds `needle`, at or after the line the last
    word was found on (words are looked for in the order they are written, so
    a RUN of many thousand lines is read once, not once a word), else before it."""
    lines = state.lines
    raw = needle.encode("utf-8", "surrogateescape")
    first, end = ins.line - 1, min(ins.end_line, len(lines))
    cursor = min(max(first, state.found_on.get(ins.line, first)), end)
    for k in itertools.chain(range(cursor, end), range(first, cursor)):
        at = lines[k].find(raw)
        if at >= 0:
            state.found_on[ins.line] = k
            return k + 1, at + 1
    return ins.line, 1


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per (line, secret): a check does not repeat what a rule reported."""
    seen: set[tuple[int | None, str]] = set()
    out = []
    for f in findings:
        key = (f.location.line, f.fingerprint)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out


# -- multi-stage reach -------------------------------------------------------------------


def _instruction_at(state: _Scan, line: int | None) -> Instruction | None:
    """The instruction that spans `line`, found by bisection (instructions are in
    line order and never overlap): one lookup per finding, not a pass over them all."""
    if line is None:
        return None
    if len(state.starts) != len(state.instructions):
        state.starts = [ins.line for ins in state.instructions]
    k = bisect_right(state.starts, line) - 1
    if k >= 0 and line <= state.instructions[k].end_line:
        return state.instructions[k]
    return None


def _final_chain(state: _Scan) -> set[int]:
    """The final stage and the stages it is built FROM."""
    if not state.stages:
        return set()
    chain = set()
    index: int | None = len(state.stages) - 1
    while index is not None and index not in chain:
        chain.add(index)
        index = state.stages[index].base_stage
    return chain


def _copies_into(state: _Scan, targets: set[int]) -> list[tuple[int, str, Instruction]]:
    """(source stage, source path, instruction) of each COPY --from into `targets`."""
    out: list[tuple[int, str, Instruction]] = []
    for ins in state.instructions:
        if ins.instruction != "COPY" or ins.stage not in targets:
            continue
        ref = ins.flag("from")
        if not ref:
            continue
        source = _stage_index(state.stages[: ins.stage], ref)
        if source is None:
            continue
        out.extend((source, _absolute(w.value, "/"), ins) for w in _copy_sources(ins))
    return out


def _files_holding(state: _Scan, ins: Instruction, line: int, secret: str) -> list[str]:
    """Files of this stage that hold what was found at `line`: those written by the
    RUN's command that contains the secret, or the destination of a COPY."""
    facts = state.facts.get(ins.stage, _StageFacts())
    if ins.instruction == "RUN" and secret:
        holding = [words for words in _scripts(state, ins) if secret in " ".join(words)]
        if holding:
            return [_absolute(t, facts.workdir) for w in holding for t in written_files(w)]
    return [p for p, at in facts.files.items() if at == line]


def _reach(state: _Scan, ins: Instruction, line: int, secret: str = "") -> _Reach:
    if ins.stage < 0:
        # A global ARG's default carries into every stage that declares the ARG again.
        return _Reach(final=True, stage_label="global ARG")
    stage = state.stages[ins.stage]
    label = f"'{stage.name}'" if stage.name else f"#{stage.index}"
    final = _final_chain(state)
    if ins.stage in final:
        return _Reach(final=True, stage_label=label)
    mine = _files_holding(state, ins, line, secret)
    for source, pattern, copy in _copies_into(state, final):
        if source != ins.stage and state.stages[ins.stage].index not in _ancestors(state, source):
            continue
        for p in mine:
            if _covers(pattern, p):
                via = f"copied into the final image by COPY --from at line {copy.line}"
                return _Reach(final=True, stage_label=label, via=via)
    return _Reach(final=False, stage_label=label)


def _ancestors(state: _Scan, index: int) -> set[int]:
    out = set()
    current: int | None = index
    while current is not None and current not in out:
        out.add(current)
        current = state.stages[current].base_stage
    return out


def _covers(pattern: str, path: str) -> bool:
    if pattern in ("/", "/."):
        return True
    return (
        path == pattern or path.startswith(pattern.rstrip("/") + "/") or fnmatchcase(path, pattern)
    )


def _with_reach(state: _Scan, finding: Finding) -> Finding:
    ins = _instruction_at(state, finding.location.line)
    if ins is None or len(state.stages) < 2 and ins.stage >= 0:
        return finding
    reach = _reach(state, ins, finding.location.line or ins.line, finding.secret.reveal())
    if reach.via:
        return replace(finding, message=f"{finding.message} ({reach.via})")
    if reach.final:
        return finding
    return replace(
        finding,
        severity=finding.severity.lowered(),
        message=(
            f"{finding.message} (only in build stage {reach.stage_label}: not in the final "
            f"image, but in the build cache and in any image built or pushed from that stage)"
        ),
    )


def load(path: str) -> list[Instruction]:
    """Parse a Dockerfile on disk; unreadable or invalid -> TargetUnreadable."""
    try:
        with open_regular(path) as fh:
            data = fh.read()
    except OSError as e:
        raise TargetUnreadable(
            f"cannot read {path}: {(e.strerror or str(e)).lower()}", hint="check the path"
        ) from e
    try:
        return parse_dockerfile(data.decode("utf-8", "surrogateescape"))
    except DockerfileSyntaxError as e:
        raise DockerfileSyntaxError(f"{path}: {e.message}") from None


__all__ = [
    "CHECKS",
    "DockerfileSyntaxError",
    "Flag",
    "Heredoc",
    "Instruction",
    "KeyValue",
    "Stage",
    "Word",
    "interpolation_defaults",
    "is_literal",
    "load",
    "parse_dockerfile",
    "referenced_names",
    "scan",
    "secret_name_reason",
    "stages",
]
