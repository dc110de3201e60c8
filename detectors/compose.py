"""The Compose surface: what a Compose file puts into containers and images.

The file's text goes to the one engine as it is written (so a literal shows
where it is typed, and a YAML anchor's value once, at the anchor). The YAML
structure, read with PyYAML's node API (libyaml when present) (line numbers kept, aliases
never expanded, so a "billion laughs" file costs no more than its size),
adds what plain text cannot show:

- where a literal lands (a service's `environment`, `build.args`, `labels`, a
  top-level `x-` block), said in the finding's message;
- secret defaults in variable interpolation (`${DB_PASSWORD:-hunter2}`);
- credentials in `command`, `entrypoint` and `healthcheck.test`;
- top-level `secrets` whose value is written inline with `content:`;
- the files it pulls in: each service's `env_file`, the project's `.env`
  (used for interpolation), `include:` and `extends.file`, each scanned and
  reported with its own file and line. Those files are read from the tree the
  caller gives: the disk for a scan of files, the same commit (or the index)
  for git, so a git-ignored `.env` on disk never counts against a commit. A
  file that cannot be read, or that includes itself, is a skip note (a file
  the commit does not hold is a note, not an error); the rest of the scan goes on.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from leakguard.detectors import AS_PLAIN_TEXT
from leakguard.detectors.shell import (
    command_credentials,
    interpolation_defaults,
    is_literal,
    shell_commands,
)
from leakguard.fsutil import managed_secret_files, open_regular
from leakguard.models import (
    Confidence,
    Finding,
    Location,
    RuleId,
    ScanResult,
    SecretValue,
    Skipped,
    Surface,
    fingerprint,
    redact,
)
from leakguard.rules import Context
from leakguard.rules.container import COMPOSE_CHECKS
from leakguard.tree import DISK

if TYPE_CHECKING:
    from leakguard.engine import Engine
    from leakguard.tree import SourceTree

# More nodes than this is not a Compose file anyone wrote by hand.
MAX_NODES = 200_000
MAX_INCLUDE_DEPTH = 16
# Bytes read of a file a Compose file names (env_file, include, extends).
MAX_LOADED = 64 * 1024 * 1024

# The Compose-only checks, by rule id (stable: baselines keep them).
CHECKS = COMPOSE_CHECKS


@dataclass(frozen=True, slots=True)
class _Section:
    first: int
    last: int
    label: str
    note: str


@dataclass
class _Walk:
    engine: Engine
    path: str
    display_dir: str
    text: str
    tree: SourceTree
    result: ScanResult = field(default_factory=ScanResult)
    sections: list[_Section] = field(default_factory=list)
    visited: set[int] = field(default_factory=set)
    named: set[int] = field(default_factory=set)
    nodes: int = 0


class ComposeError(Exception):
    pass


def scan(engine: Engine, data: bytes, path: str, tree: SourceTree = DISK) -> ScanResult:
    """Findings in one Compose file and the files it loads from `tree` (the
    `STRUCTURED` entry point)."""
    return scan_compose(engine, data, path, (), tree)


def scan_compose(
    engine: Engine, data: bytes, path: str, including: tuple[str, ...], tree: SourceTree
) -> ScanResult:
    text = data.decode("utf-8", "replace")
    walk = _Walk(engine, path, os.path.dirname(path), text, tree)
    try:
        root = _compose(data)
    except ComposeError as e:
        # Still scanned as plain text: a YAML typo must not hide the secrets in it.
        walk.result.skipped.append(
            Skipped(path, f"not a valid Compose file ({e}): {AS_PLAIN_TEXT}")
        )
        location = Location(surface=Surface.COMPOSE, path=path)
        walk.result.findings.extend(engine.scan_bytes(data, location, Context(path=path)))
        return walk.result
    location = Location(surface=Surface.COMPOSE, path=path)
    findings = engine.scan_bytes(data, location, Context(path=path, kind="compose"))
    try:
        _walk_root(walk, root, including)
    except ComposeError as e:
        walk.result.skipped.append(Skipped(path, f"not scanned in full: {e}"))
    walk.result.findings[:0] = _annotated(walk, findings)
    _dedupe(walk.result)
    return walk.result


def _compose(data: bytes) -> Any:
    """The document's node graph: line numbers kept, aliases shared (never expanded)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ComposeError(f"not UTF-8 text (byte {e.start})") from None
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = "; ".join(p.strip() for p in (e.context, e.problem) if p) or "syntax error"
        raise ComposeError(f"invalid YAML{where}: {what}") from None
    except (yaml.YAMLError, RecursionError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ComposeError(f"invalid YAML: {first}") from None
    if root is None:
        raise ComposeError("empty document")
    if not isinstance(root, yaml.MappingNode):
        raise ComposeError("the top level is not a mapping")
    return root


# -- node helpers ----------------------------------------------------------------------


def _items(walk: _Walk, node: Any) -> Iterator[tuple[str, Any, Any]]:
    """(key, key node, value node) of a mapping, merge keys (`<<`) resolved."""
    from yaml import MappingNode, SequenceNode

    if not isinstance(node, MappingNode):
        return
    own: set[str] = set()
    merged: list[Any] = []
    for key_node, value_node in node.value:
        walk.nodes += 1
        if walk.nodes > MAX_NODES:
            raise ComposeError(f"more than {MAX_NODES} YAML nodes (a YAML bomb?)")
        if key_node.tag.endswith(":merge") or key_node.value == "<<":
            merged.extend(
                value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            )
            continue
        key = str(key_node.value)
        own.add(key)
        yield key, key_node, value_node
    for source in merged:
        if id(source) in walk.visited:
            continue
        walk.visited.add(id(source))
        for key, key_node, value_node in _items(walk, source):
            if key not in own:
                yield key, key_node, value_node
        walk.visited.discard(id(source))


def _get(walk: _Walk, node: Any, key: str) -> Any:
    for k, _, value in _items(walk, node):
        if k == key:
            return value
    return None


def _scalar(node: Any) -> str | None:
    from yaml import ScalarNode

    return str(node.value) if isinstance(node, ScalarNode) else None


def _strings(node: Any) -> list[tuple[str, Any]]:
    """A scalar or a sequence of scalars, as (text, node)."""
    from yaml import ScalarNode, SequenceNode

    if isinstance(node, ScalarNode):
        return [(str(node.value), node)]
    if isinstance(node, SequenceNode):
        return [(str(n.value), n) for n in node.value if isinstance(n, ScalarNode)]
    return []


def _lines(node: Any) -> tuple[int, int]:
    return node.start_mark.line + 1, max(node.start_mark.line + 1, node.end_mark.line)


def _section(walk: _Walk, node: Any, label: str, note: str) -> None:
    """Name the lines of `node`; an aliased node keeps the name it got first."""
    if node is None or id(node) in walk.named:
        return
    walk.named.add(id(node))
    first, last = _lines(node)
    walk.sections.append(_Section(first, last, label, note))


# -- the walk ----------------------------------------------------------------------------

_ENV_NOTE = "every container of the service gets it; `docker inspect` shows it"


def _walk_root(walk: _Walk, root: Any, including: tuple[str, ...]) -> None:
    from yaml import MappingNode

    top = list(_items(walk, root))
    for key, _, value in top:
        if key.startswith("x-"):
            _section(walk, value, f"extension block {key}", "reused wherever it is merged")
    for key, _, value in top:
        if key == "services" and isinstance(value, MappingNode):
            for name, _, service in _items(walk, value):
                _service(walk, name, service, including)
        elif key == "secrets" and isinstance(value, MappingNode):
            for name, _, secret in _items(walk, value):
                _inline_secret(walk, name, secret)
        elif key == "include":
            for text, node in _include_paths(walk, value):
                _follow(walk, text, node, including, "include")
    if "${" in walk.text:  # the walk below looks only for `${NAME:-default}`
        _interpolation(walk, root)
    dotenv = os.path.join(walk.display_dir, ".env")
    if walk.tree.is_file(dotenv):
        _env_file(walk, dotenv, None, "the project's .env (used for interpolation)", False)


def _service(walk: _Walk, name: str, service: Any, including: tuple[str, ...]) -> None:
    label = f"service {name}"
    for key, _, value in _items(walk, service):
        if key == "environment":
            _section(walk, value, f"{label} environment", _ENV_NOTE)
        elif key == "labels":
            _section(walk, value, f"{label} labels", "`docker inspect` shows labels")
        elif key == "build":
            args = _get(walk, value, "args")
            _section(walk, args, f"{label} build.args",
                     "build args are recorded in the image history")  # fmt: skip
            _section(walk, _get(walk, value, "labels"), f"{label} build.labels",
                     "stored in the image config")  # fmt: skip
        elif key in ("command", "entrypoint"):
            _command(walk, label, key, value)
        elif key == "healthcheck":
            test = _get(walk, value, "test")
            if test is not None:
                _command(walk, label, "healthcheck.test", test)
        elif key == "env_file":
            for text, node, required in _env_file_entries(walk, value):
                target = os.path.normpath(os.path.join(walk.display_dir, text))
                _env_file(walk, target, node, f"env_file of {label}", required)
        elif key == "extends":
            file_node = _get(walk, value, "file")
            if file_node is not None and _scalar(file_node):
                _follow(walk, str(_scalar(file_node)), file_node, including, "extends")


def _env_file_entries(walk: _Walk, node: Any) -> list[tuple[str, Any, bool]]:
    from yaml import MappingNode, SequenceNode

    out: list[tuple[str, Any, bool]] = [(t, n, True) for t, n in _strings(node)]
    if isinstance(node, SequenceNode):
        for item in node.value:
            if isinstance(item, MappingNode):
                path = _get(walk, item, "path")
                required = _scalar(_get(walk, item, "required")) or "true"
                if path is not None and _scalar(path):
                    out.append((str(_scalar(path)), path, required.lower() != "false"))
    return out


def _include_paths(walk: _Walk, node: Any) -> list[tuple[str, Any]]:
    from yaml import MappingNode, SequenceNode

    out = list(_strings(node))
    if isinstance(node, SequenceNode):
        for item in node.value:
            if isinstance(item, MappingNode):
                out.extend(_strings(_get(walk, item, "path")))
    return out


def _command(walk: _Walk, label: str, key: str, node: Any) -> None:
    from yaml import SequenceNode

    items = _strings(node)
    if not items:
        return
    if isinstance(node, SequenceNode):
        words = [t for t, _ in items]
        shell_form = words[:1] == ["CMD-SHELL"]
        if words and words[0] in ("CMD", "CMD-SHELL", "NONE"):
            words = words[1:]
        if words and (shell_form or len(words) >= 2 and words[-2] == "-c"):
            scripts = shell_commands(words[-1])
        else:
            scripts = [words]
    else:
        scripts = shell_commands(items[0][0])
    for words in scripts:
        for leak in command_credentials(words):
            line, column = _position(walk, node, leak.secret)
            _add(walk, "compose-command-credential", line, column, leak.secret.encode(),
                 f"{leak.what} in the {key} of {label}: the Compose file and "
                 f"`docker inspect` show it")  # fmt: skip


def _inline_secret(walk: _Walk, name: str, node: Any) -> None:
    content = _get(walk, node, "content")
    text = _scalar(content) if content is not None else None
    if text is None or not text.strip():
        return
    stripped = text.strip()
    if "${" in stripped and stripped.startswith("$") or not is_literal(stripped):
        return
    line, column = _lines(content)[0], content.start_mark.column + 1
    message = f"secret {name} is written inline (`content:`): the Compose file holds its value"
    _add(walk, "compose-inline-secret", line, column, stripped.encode(), message)


def _interpolation(walk: _Walk, root: Any) -> None:
    """`${NAME:-default}` in any scalar: a default that holds a secret is a literal."""
    from yaml import MappingNode, ScalarNode, SequenceNode

    if next(interpolation_defaults(walk.text), None) is None:
        return  # no default anywhere in the file: no node to visit for one
    stack = [root]
    seen: set[int] = set()
    context = Context(path=walk.path, kind="compose")
    location = Location(surface=Surface.COMPOSE, path=walk.path)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        walk.nodes += 1
        if walk.nodes > MAX_NODES:
            raise ComposeError(f"more than {MAX_NODES} YAML nodes (a YAML bomb?)")
        if isinstance(node, MappingNode):
            for k, v in node.value:
                stack.extend((k, v))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, ScalarNode) and "${" in str(node.value):
            for _, name, default in interpolation_defaults(str(node.value)):
                text = f"{name}={default}".encode()
                for f in walk.engine.scan_bytes(text, location, context):
                    line, column = _position(walk, node, default)
                    walk.result.findings.append(replace(
                        f, location=f.location.at(line, column),
                        message=f"{f.message} (default of ${{{name}}}: used whenever "
                                f"{name} is not set)",
                    ))  # fmt: skip


def _position(walk: _Walk, node: Any, needle: str) -> tuple[int, int]:
    """Line and column of `needle` in the file, searched from the node's start."""
    lines = walk.text.split("\n")
    first, last = _lines(node)
    for k in range(first - 1, min(last, len(lines))):
        at = lines[k].find(needle)
        if at >= 0:
            return k + 1, at + 1
    return first, node.start_mark.column + 1


def _add(walk: _Walk, rule_id: str, line: int, column: int, secret: bytes, message: str) -> None:
    info = CHECKS[rule_id]
    severity, remediation = info.severity, info.remediation
    walk.result.findings.append(Finding(
        rule_id=RuleId(rule_id), severity=severity, confidence=Confidence.HIGH,
        location=Location(surface=Surface.COMPOSE, path=walk.path, line=line, column=column),
        fingerprint=fingerprint(secret), redacted=redact(secret), message=message,
        remediation=remediation, secret=SecretValue(secret),
    ))  # fmt: skip


def _env_file(walk: _Walk, target: str, node: Any, what: str, required: bool) -> None:
    where = f" ({walk.path}:{_lines(node)[0]})" if node is not None else ""
    tree = walk.tree
    # A secret file `leakguard migrate` made (git-ignored) is where the secret belongs;
    # one that a commit holds is a leak like any other.
    if tree.on_disk and tree.canonical(target) in managed_secret_files(
        os.path.dirname(walk.path) or "."
    ):
        return
    try:
        data = tree.read(target, MAX_LOADED)
    except FileNotFoundError as e:
        if required:
            walk.result.skipped.append(_absent(walk, target, f"{what}{where}", e))
        return
    except OSError as e:
        reason = (e.strerror or str(e)).lower()
        # (in git the file's own lines are scanned where its commits add them)
        error = walk.tree.missing_is_error
        walk.result.skipped.append(
            Skipped(target, f"cannot read {what}{where}: {reason}", error=error)
        )
        return
    location = Location(surface=Surface.COMPOSE, path=target)
    for f in walk.engine.scan_bytes(data, location, Context(path=target, kind="config")):
        walk.result.findings.append(replace(f, message=f"{f.message} (in {what})"))


def _follow(walk: _Walk, text: str, node: Any, including: tuple[str, ...], how: str) -> None:
    target = os.path.normpath(os.path.join(walk.display_dir, text))
    chain = (*including, walk.tree.canonical(walk.path))
    if walk.tree.canonical(target) in chain:
        names = " -> ".join(os.path.basename(p) for p in (*chain, target))
        walk.result.skipped.append(
            Skipped(walk.path, f"{how} at line {_lines(node)[0]} includes itself ({names})")
        )
        return
    if len(chain) > MAX_INCLUDE_DEPTH:
        walk.result.skipped.append(Skipped(target, f"{how} nested deeper than {len(chain)}"))
        return
    named = f"the file named by {how} ({walk.path}:{_lines(node)[0]})"
    try:
        data = walk.tree.read(target, MAX_LOADED)
    except FileNotFoundError as e:
        walk.result.skipped.append(_absent(walk, target, named, e))
        return
    except OSError as e:
        reason = (e.strerror or str(e)).lower()
        error = walk.tree.missing_is_error
        walk.result.skipped.append(Skipped(target, f"cannot read {named}: {reason}", error=error))
        return
    walk.result.extend(scan_compose(walk.engine, data, target, chain, walk.tree))


def _absent(walk: _Walk, target: str, what: str, error: OSError) -> Skipped:
    """A named file that is not there: an error on disk; a note when the commit
    (or the index) being judged does not hold it, never a read of anything else."""
    if walk.tree.missing_is_error:
        return Skipped(target, f"{what} does not exist")
    reason = error.strerror or f"not in {walk.tree.label}"
    return Skipped(target, f"{what} was not read: {reason}", error=False)


# -- reporting ---------------------------------------------------------------------------


def _annotated(walk: _Walk, findings: list[Finding]) -> list[Finding]:
    """Each finding with the note of the smallest section around its line (of equal
    ones, the last recorded): one sweep over lines, not every section per finding."""
    sections = walk.sections
    by_first = sorted(range(len(sections)), key=lambda k: sections[k].first)
    out = list(findings)
    around: list[tuple[int, int]] = []  # heap of (size, -index) of sections begun
    opened = 0
    for k in sorted(range(len(findings)), key=lambda k: findings[k].location.line or 0):
        line = findings[k].location.line or 0
        while opened < len(by_first) and sections[by_first[opened]].first <= line:
            section = sections[by_first[opened]]
            heapq.heappush(around, (section.last - section.first, -by_first[opened]))
            opened += 1
        while around and sections[-around[0][1]].last < line:
            heapq.heappop(around)  # ended before this line, so before every later one
        if around:
            best = sections[-around[0][1]]
            out[k] = replace(out[k], message=f"{out[k].message} (in {best.label}: {best.note})")
    return out


def _dedupe(result: ScanResult) -> None:
    seen: set[tuple[str | None, int | None, str]] = set()
    kept = []
    for f in result.findings:
        key = (f.location.path, f.location.line, f.fingerprint)
        if key not in seen:
            seen.add(key)
            kept.append(f)
    result.findings = kept


# -- build contexts ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuildTarget:
    service: str
    context: str  # folder
    dockerfile: str  # path of the Dockerfile


def build_targets(path: str) -> list[BuildTarget]:
    """The `build:` of every service: its context folder and Dockerfile.

    Raises TargetUnreadable when the file cannot be read or is not Compose YAML.
    """
    from leakguard.errors import TargetUnreadable
    from leakguard.models import ScanResult as _Result

    try:
        with open_regular(path) as fh:
            data = fh.read()
        root = _compose(data)
    except OSError as e:
        raise TargetUnreadable(f"cannot read {path}: {(e.strerror or str(e)).lower()}") from e
    except ComposeError as e:
        raise TargetUnreadable(f"{path}: not a valid Compose file: {e}") from e
    walk = _Walk(None, path, os.path.dirname(path), "", DISK, _Result())  # type: ignore[arg-type]
    out = []
    services = _get(walk, root, "services")
    for name, _, service in _items(walk, services):
        build = _get(walk, service, "build")
        if build is None:
            continue
        context_text = _scalar(build)
        dockerfile_text = None
        if context_text is None:
            context_text = _scalar(_get(walk, build, "context")) or "."
            dockerfile_text = _scalar(_get(walk, build, "dockerfile"))
        if "://" in context_text or context_text.startswith("git@"):
            continue  # a remote context: nothing on disk to check
        context = os.path.normpath(os.path.join(walk.display_dir, context_text))
        dockerfile = os.path.join(context, dockerfile_text or "Dockerfile")
        out.append(BuildTarget(name, context, os.path.normpath(dockerfile)))
    return out
