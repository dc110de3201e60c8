"""BuildKit: build-time secrets in a Dockerfile become `RUN --mount=type=secret`.

- `ARG NAME=literal` / `ENV NAME=literal` that later `RUN`s of the stage use:
  the pair goes, and each of those `RUN`s mounts the secret and sets `NAME`
  from it for its own shell only (`export NAME="$(cat /run/secrets/name)"`),
  the form that Docker Engine 20.10 and later builds with its built-in
  frontend, offline. With `syntax="1.10"`: `--mount=type=secret,id=name,env=NAME`
  and a `# syntax=docker/dockerfile:1.10` line.
- a literal typed into a `RUN`: replaced by `$(cat /run/secrets/name)`, quoted
  for where it stands, and the `RUN` mounts the secret.
- `COPY .npmrc /root/.npmrc` and a later `RUN ... && rm -f /root/.npmrc`: the
  COPY and the `rm` go, and the `RUN`s from the COPY to the `rm` mount the file
  where it was copied (`--mount=type=secret,id=npmrc,target=/root/.npmrc`), so it
  is in no layer. Its content becomes the secret's value.

The text is changed by span edits located by the Dockerfile parser; the
result is parsed again, and a file whose rewrite does not parse, or a use
leakguard cannot rewrite safely (exec form, heredoc, an `ENV` that copies the
value, a global `ARG`), is left alone and reported as needing a manual change.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from leakguard.detectors.dockerfile import (
    DockerfileSyntaxError,
    Instruction,
    KeyValue,
    parse_directives,
    parse_dockerfile,
    referenced_names,
)
from leakguard.migrators.plan import SECRETS_DIR, Plan, SecretMove, Skipped, Workspace
from leakguard.models import Finding, SecretValue

SECRET_DIR_IN_BUILD = "/run/secrets"
# A credential file copied by name, or taken along by the COPY a build context check names.
COPY_RULES = ("dockerfile-copy-credential-file", "dockerfile-context-credential-file")
TARGET = "\0target="  # in `mounts`: the secret is mounted at a path, not read into a variable
SYNTAX_LINE = "# syntax=docker/dockerfile:{version}\n"


@dataclass
class _Spans:
    """Character edits on physical lines (0-based line, 0-based columns)."""

    edits: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    prepend: list[str] = field(default_factory=list)

    def add(self, line: int, start: int, end: int, text: str) -> None:
        self.edits.setdefault(line, []).append((start, end, text))

    def apply(self, lines: list[str]) -> str:
        out = []
        for i, line in enumerate(lines):
            if i in self.deleted:
                continue
            for start, end, text in sorted(self.edits.get(i, []), reverse=True):
                line = line[:start] + text + line[end:]
            out.append(line)
        return "".join(self.prepend) + "".join(out)


def _quote_state(command: str, offset: int, escape: str = "\\") -> str:
    """'' outside quotes, "'" or '"' inside them, at `offset` of a shell command."""
    state = ""
    i = 0
    while i < offset:
        c = command[i]
        if state == "'":
            if c == "'":
                state = ""
        elif c == escape and state != "'":
            i += 1
        elif c == '"':
            state = "" if state == '"' else '"'
        elif c == "'" and state == "":
            state = "'"
        i += 1
    return state


def _reference(name: str, state: str) -> str:
    sub = f"$(cat {SECRET_DIR_IN_BUILD}/{name})"
    if state == "'":
        return f"'\"{sub}\"'"
    if state == '"':
        return sub
    return f'"{sub}"'


class BuildKitSecrets:
    target: ClassVar[str] = "buildkit"

    def __init__(
        self,
        root: Path,
        workspace: Workspace,
        *,
        syntax: str | None = None,
        vault_path: str | None = None,
        compose_files: Sequence[Path] = (),
    ) -> None:
        self.root = Path(root)
        self.ws = workspace
        self.syntax = syntax
        self.vault_path = vault_path
        # Compose files whose services may build a Dockerfile: a runtime ENV
        # secret moves to the service that runs the image.
        self.compose_files = list(compose_files)
        self._path = Path()
        # instruction line -> (line, column) of its pairs removed so far
        self._removed: dict[int, set[tuple[int, int]]] = {}

    def plan(self, findings: Sequence[Finding]) -> Plan:
        from leakguard.engine import kind_of_path

        by_file: dict[str, list[Finding]] = {}
        for f in findings:
            if f.location.path and kind_of_path(f.location.path) == "dockerfile":
                by_file.setdefault(f.location.path, []).append(f)
        plans = [self._plan_file(Path(p), group) for p, group in by_file.items()]
        moves = tuple(m for p in plans for m in p.moves)
        skipped = tuple(s for p in plans for s in p.skipped)
        values = {k: v for p in plans for k, v in p.values.items()}
        notes = tuple(n for p in plans for n in p.notes)
        return Plan((), moves, skipped, values, notes)

    def _plan_file(self, path: Path, findings: list[Finding]) -> Plan:
        text = self.ws.read(path)
        if text is None:
            return Plan(skipped=tuple(Skipped(f, "the file is gone") for f in findings))
        try:
            instructions = parse_dockerfile(text)
        except DockerfileSyntaxError as e:
            return Plan(skipped=tuple(Skipped(f, f"does not parse: {e.message}") for f in findings))
        self._path = path
        self._removed = {}
        lines = text.splitlines(keepends=True)
        escape = parse_directives(text.split("\n")).get("escape", "\\")
        spans = _Spans()
        mounts: dict[int, dict[str, str | None]] = {}  # RUN index -> {secret: env var}
        moves: list[SecretMove] = []
        skipped: list[Skipped] = []
        values: dict[str, SecretValue] = {}
        done_pairs: set[tuple[int, int, int]] = set()
        copies: dict[int, str | None] = {}  # COPY index -> why it stays (None: it goes)
        rel = os.path.relpath(path, self.root).replace(os.sep, "/")

        for f in sorted(findings, key=lambda f: (f.location.line or 0, f.location.column or 0)):
            line = f.location.line or 0
            index = next((k for k, ins in enumerate(instructions)
                          if ins.line <= line <= ins.end_line), None)  # fmt: skip
            if index is None:
                skipped.append(Skipped(f, "not inside an instruction (a comment?): "
                                          "needs manual change"))  # fmt: skip
                continue
            ins = instructions[index]
            if ins.instruction in ("ARG", "ENV"):
                pair = next((p for p in ins.pairs if p.value_line == line and p.value
                             and f.secret.reveal() in p.value), None)  # fmt: skip
                if pair is None:
                    skipped.append(Skipped(f, f"not the value of an {ins.instruction}: "
                                              "needs manual change"))  # fmt: skip
                    continue
                if (index, pair.line, pair.column) in done_pairs:
                    continue
                why = self._plan_pair(instructions, index, pair, f, lines, escape, spans, mounts,
                                      moves, values, rel)  # fmt: skip
                if why:
                    skipped.append(Skipped(f, why))
                else:
                    done_pairs.add((index, pair.line, pair.column))
            elif ins.instruction == "RUN":
                why = self._plan_inline(ins, index, f, lines, spans, mounts, moves, values, rel)
                if why:
                    skipped.append(Skipped(f, why))
            elif ins.instruction in ("COPY", "ADD") and f.rule_id in COPY_RULES:
                if index not in copies:  # one plan per COPY, whichever finding names it
                    copies[index] = self._plan_copy(instructions, index, lines, spans, mounts,
                                                    moves, values, rel)  # fmt: skip
                why = copies[index]
                if why:
                    skipped.append(Skipped(f, why))
            else:
                skipped.append(Skipped(f, f"in a {ins.instruction} instruction: needs manual "
                                          "change"))  # fmt: skip

        for index, secrets in mounts.items():
            if instructions[index].line - 1 not in spans.deleted:
                self._add_mounts(instructions[index], secrets, lines, spans)
        if mounts and self.syntax and not parse_directives(text.split("\n")).get("syntax"):
            spans.prepend.append(SYNTAX_LINE.format(version=self.syntax))
        new_text = spans.apply(lines)
        if new_text == text:
            return Plan(skipped=tuple(skipped))
        try:
            parse_dockerfile(new_text)
        except DockerfileSyntaxError as e:
            reason = f"the rewrite would not parse ({e.message}): needs manual change"
            return Plan(skipped=tuple(skipped) + tuple(Skipped(f, reason) for f in findings))
        self.ws.write(path, new_text)
        notes: tuple[str, ...] = ()
        built = [m for m in moves if any(c.startswith("build:") for c in m.consumers)]
        if built:
            flags = " ".join(f"--secret id={m.name},src={_rel(m.local_file, self.root)}"
                             for m in built if m.local_file)  # fmt: skip
            context = os.path.relpath(path.parent, self.root).replace(os.sep, "/")
            file_flag = "" if path.name == "Dockerfile" else f" -f {rel}"
            command, caveat = docker_build_command(shutil.which("docker"))
            notes = (f"build with: {command} {flags}{file_flag} {context}{caveat}",)
        return Plan((), tuple(moves), tuple(skipped), values, notes)

    def _move(
        self, name: str, value: SecretValue, consumer: str, moves: list[SecretMove],
        values: dict[str, SecretValue],
    ) -> str:  # fmt: skip
        base = name
        n = 2
        while name in values and values[name] != value:
            name = f"{base}_{n}"
            n += 1
        if name in values:
            for k, m in enumerate(moves):
                if m.name == name and consumer not in m.consumers:
                    moves[k] = SecretMove(m.name, m.destination, (*m.consumers, consumer),
                                          m.fingerprint, m.redacted, m.local_file)  # fmt: skip
            return name
        local = self.root / SECRETS_DIR / name
        destination = (f"vault:{self.vault_path}#{name}" if self.vault_path
                       else f"file:{_rel(local, self.root)}")  # fmt: skip
        values[name] = value
        moves.append(SecretMove(name, destination, (consumer,), value.fingerprint, value.redacted,
                                local_file=local))  # fmt: skip
        return name

    def _plan_pair(
        self, instructions: list[Instruction], index: int, pair: KeyValue, f: Finding,
        lines: list[str], escape: str, spans: _Spans, mounts: dict[int, dict[str, str | None]],
        moves: list[SecretMove], values: dict[str, SecretValue], rel: str,
    ) -> str | None:  # fmt: skip
        ins = instructions[index]
        assert pair.value is not None
        if "$" in pair.value:
            return "the value refers to another variable: needs manual change"
        if ins.stage < 0:
            return "a global ARG (before FROM): needs manual change"
        if pair.line != pair.value_line:
            return "the pair spans lines: needs manual change"
        users = []
        if ins.instruction == "ENV":
            later = [i for i in instructions if i.stage > ins.stage]
            if any(pair.key in referenced_names(i.command) for i in later):
                return f"a later build stage uses ${pair.key}: needs manual change"
        for k in range(index + 1, len(instructions)):
            other = instructions[k]
            if other.stage != ins.stage:
                break
            if other.instruction in ("ARG", "ENV") and any(p.key == pair.key for p in other.pairs):
                break  # redefined: later uses are not this value
            text = other.command + "".join(h.content for h in other.heredocs)
            if pair.key not in referenced_names(text) and not (
                other.instruction == "RUN" and ins.instruction == "ENV" and pair.key in text
            ):
                continue
            if other.instruction != "RUN":
                where = f"{other.instruction} on line {other.line}"
                return f"{where} uses ${pair.key}: needs manual change"
            if other.json_form or other.heredocs:
                return (
                    f"the RUN on line {other.line} is in exec or heredoc form: needs manual change"
                )
            users.append(k)
        value = SecretValue(pair.value.encode("utf-8", "surrogateescape"))
        final = ins.stage == max(i.stage for i in instructions)
        runtime = ins.instruction == "ENV" and final
        services = self._runtime_services() if runtime else []
        if not users and not services:
            if ins.instruction == "ENV":
                return (
                    "a runtime ENV secret (no RUN uses it, no Compose service builds this "
                    "Dockerfile): set it when the container runs: needs manual change"
                )
            return "no RUN uses this ARG: remove it by hand"
        for compose_path, service in services:
            why = self._to_service(compose_path, service, pair.key, value, moves, values, rel)
            if why:
                return why
        self._remove_pair(ins, pair, lines, escape, spans)
        if not users:
            return None
        stage = ins.stage_name or str(ins.stage)
        name = self._move(pair.key.lower(), value, f"build:{rel}:{stage}:{pair.key}", moves, values)
        if runtime and not services:
            k = next(i for i, m in enumerate(moves) if m.name == name)
            note = f"no longer in the image's ENV: set {pair.key} where the container runs"
            moves[k] = SecretMove(name, moves[k].destination, moves[k].consumers,
                                  moves[k].fingerprint, moves[k].redacted, moves[k].local_file,
                                  note=note)  # fmt: skip
        for k in users:
            mounts.setdefault(k, {})[name] = pair.key
        return None

    def _runtime_services(self) -> list[tuple[Path, str]]:
        from leakguard.migrators.compose_secrets import services_building

        found: list[tuple[Path, str]] = services_building(self.ws, self.compose_files, self._path)
        return found

    def _to_service(
        self, compose_path: Path, service: str, key: str, value: SecretValue,
        moves: list[SecretMove], values: dict[str, SecretValue], rel: str,
    ) -> str | None:  # fmt: skip
        """The ENV value moves to the git-ignored env file the service loads."""
        from leakguard.migrators.compose_secrets import ensure_env_file, secret_name

        local = self.root / SECRETS_DIR / f"{secret_name(service)}.env"
        why: str | None = ensure_env_file(self.ws, compose_path, service, local)
        if why:
            return why
        name = key.lower()
        if name in values and values[name] != value:
            name = f"{secret_name(service)}_{name}"
        if name in values:
            return None
        values[name] = value
        consumer = f"compose:{_rel(compose_path, self.root)}:{service}:{key}"
        destination = (f"vault:{self.vault_path}#{name}" if self.vault_path
                       else f"file:{_rel(local, self.root)}#{key}")  # fmt: skip
        moves.append(SecretMove(name, destination, (consumer, f"image:{rel}:ENV"),
                                value.fingerprint, value.redacted, local_file=local,
                                note=f"env_file: {key} leaves the image for the service's "
                                     "git-ignored env file", env_key=key))  # fmt: skip
        return None

    def _remove_pair(
        self, ins: Instruction, pair: KeyValue, lines: list[str], escape: str, spans: _Spans
    ) -> None:
        gone = self._removed.setdefault(ins.line, set())
        gone.add((pair.line, pair.column))
        if len(gone) == len(ins.pairs):  # nothing left: the whole instruction goes
            for i in range(ins.line - 1, ins.end_line):
                spans.deleted.add(i)
                spans.edits.pop(i, None)
            return
        i = pair.line - 1
        line = lines[i]
        start = pair.column - 1
        assert pair.raw_value is not None
        end = pair.value_column - 1 + len(pair.raw_value)
        while end < len(line) and line[end] in " \t":
            end += 1
        rest = (line[:start] + line[end:]).strip()
        if i == ins.line - 1 or rest not in ("", escape):
            spans.add(i, start, end, "")
            return
        spans.deleted.add(i)
        if rest == "":  # the pair ended the instruction: the line before must stop continuing
            j = i - 1
            while j >= ins.line - 1 and (j in spans.deleted or not lines[j].strip()
                                         or lines[j].lstrip().startswith("#")):  # fmt: skip
                j -= 1
            m = re.search(re.escape(escape) + r"[ \t]*(\r?\n)?$", lines[j])
            if m:
                spans.add(j, m.start(), m.start() + len(m.group(0)) - len(m.group(1) or ""), "")

    def _plan_inline(
        self, ins: Instruction, index: int, f: Finding, lines: list[str], spans: _Spans,
        mounts: dict[int, dict[str, str | None]], moves: list[SecretMove],
        values: dict[str, SecretValue], rel: str,
    ) -> str | None:  # fmt: skip
        secret = f.secret.reveal()
        if ins.json_form or ins.heredocs:
            return "a RUN in exec or heredoc form: needs manual change"
        if "credential-file" in str(f.rule_id):
            return (
                "the RUN writes a credential file into the layer: write it under a secret "
                "mount, or remove it in the same RUN: needs manual change"
            )
        if "$(" in secret or "${" in secret or SECRET_DIR_IN_BUILD in secret:
            return "not a literal (it reads a variable or a secret mount)"
        if len(secret) < 8 or secret not in ins.command:
            return "not a literal in the RUN command: needs manual change"
        consumer = f"build:{rel}:{ins.stage_name or ins.stage}:RUN"
        base = re.sub(r"[^a-z0-9_]", "_", str(f.rule_id).lower())
        name = self._move(base, f.secret, consumer, moves, values)
        start = 0
        while (offset := ins.command.find(secret, start)) >= 0:
            start = offset + len(secret)
            line, col = ins.locate(offset)
            end_line, end_col = ins.locate(offset + len(secret) - 1)
            if end_line != line or end_col != col + len(secret) - 1:
                return "the literal is split across lines: needs manual change"
            if any(s[0] <= col - 1 < s[1] for s in spans.edits.get(line - 1, [])):
                continue
            state = _quote_state(ins.command, offset)
            end = col - 1 + len(secret)
            text = _reference(name, state)
            if state == "'" and ins.command[offset + len(secret) : offset + len(secret) + 1] == "'":
                end, text = end + 1, text[:-1]  # the quote closed here: no empty '' after it
            spans.add(line - 1, col - 1, end, text)
        mounts.setdefault(index, {}).setdefault(name, None)
        return None

    def _plan_copy(
        self, instructions: list[Instruction], index: int, lines: list[str], spans: _Spans,
        mounts: dict[int, dict[str, str | None]], moves: list[SecretMove],
        values: dict[str, SecretValue], rel: str,
    ) -> str | None:  # fmt: skip
        """`COPY FILE DEST` ... `RUN ... rm DEST`: the RUNs between mount FILE at DEST."""
        ins = instructions[index]
        words = [w.value for w in ins.arguments]
        if ins.flags or ins.json_form or ins.heredocs or len(words) != 2:
            return (f"a {ins.instruction} with flags or more than one source: "
                    "needs manual change")  # fmt: skip
        source, dest = words
        if any(c in source for c in "*?[$") or "://" in source or "$" in dest:
            return "the source is a pattern, a URL or a variable: needs manual change"
        if ins.line != ins.end_line:
            return f"the {ins.instruction} spans lines: needs manual change"
        local = (self._path.parent / source).resolve()
        if local.is_dir():
            return (f"`{ins.instruction} {source}` takes a credential file along with the rest: "
                    "add the file to .dockerignore: needs manual change")  # fmt: skip
        if not local.is_file() or self.root.resolve() not in local.parents:
            return (f"{source} is not a file beside the Dockerfile (another build context?): "
                    "needs manual change")  # fmt: skip
        target = _copy_target(source, dest, _workdir(instructions, index))
        if target is None:
            return (f"cannot tell where `{ins.instruction} {source} {dest}` puts the file "
                    "(a relative folder, or an existing directory?): needs manual "
                    "change")  # fmt: skip
        later = _later_use(instructions, ins.stage, ins.stage_name)
        if later:
            return f"{later} builds on this stage and may need the file: needs manual change"
        users: list[int] = []
        removal: tuple[int, int, int, int] | None = None  # (RUN index, line, start, end)
        for k in range(index + 1, len(instructions)):
            other = instructions[k]
            if other.stage != ins.stage:
                break
            if other.instruction != "RUN":
                continue
            if other.json_form or other.heredocs:
                return (f"the RUN on line {other.line} is in exec or heredoc form: "
                        "needs manual change")  # fmt: skip
            users.append(k)
            found = _removal(other, target, _workdir(instructions, k))
            if found == "unsure":
                return (f"the RUN on line {other.line} removes {target} in a way leakguard "
                        "cannot rewrite: needs manual change")  # fmt: skip
            if found is not None:
                removal = (k, *found)
                break
        user = _user_before(instructions, users[-1]) if users else None
        if user is not None:
            return (f"the RUNs run as USER {user}, and a secret mount is root's alone: "
                    "needs manual change")  # fmt: skip
        if not users:
            return (f"no RUN uses {target} after the {ins.instruction}: if the program "
                    "needs it at run time, mount it when the container runs: needs manual "
                    "change")  # fmt: skip
        value = SecretValue(local.read_bytes())
        base = re.sub(r"[^a-z0-9_]", "_", os.path.basename(source).lstrip(".").lower())
        stage = ins.stage_name or str(ins.stage)
        name = self._move(base or "credentials", value, f"build:{rel}:{stage}:{target}", moves,
                          values)  # fmt: skip
        for i in range(ins.line - 1, ins.end_line):
            spans.deleted.add(i)
        if removal is not None:
            k, line, start, end = removal
            run = instructions[k]
            if start < 0:  # the whole RUN was the removal
                for i in range(run.line - 1, run.end_line):
                    spans.deleted.add(i)
                users.remove(k)
            else:
                spans.add(line - 1, start, end, "")
        for k in users:
            mounts.setdefault(k, {})[name] = TARGET + target
        return None

    def _add_mounts(
        self, ins: Instruction, secrets: dict[str, str | None], lines: list[str], spans: _Spans
    ) -> None:
        first = lines[ins.line - 1]
        m = re.match(r"[ \t]*RUN\b", first, re.IGNORECASE)
        assert m is not None
        flags = ""
        exports = []
        for name, var in secrets.items():
            mount = f"--mount=type=secret,id={name}"
            if var is not None and var.startswith(TARGET):
                mount += f",target={var.removeprefix(TARGET)}"
            elif var is not None and self.syntax:
                mount += f",env={var}"
            elif var is not None:
                exports.append(f'export {var}="$(cat {SECRET_DIR_IN_BUILD}/{name})"')
            flags += " " + mount
        spans.add(ins.line - 1, m.end(), m.end(), flags)
        if exports:
            _, line, col = ins.segments[0]
            spans.add(line - 1, col - 1, col - 1, " && ".join(exports) + " && ")


def _set_before(instructions: list[Instruction], index: int, keyword: str) -> Iterator[str]:
    """The first argument of each `keyword` instruction of the stage before `index`."""
    stage = instructions[index].stage
    for ins in instructions[:index]:
        if ins.stage == stage and ins.instruction == keyword and ins.arguments:
            yield ins.arguments[0].value


def _workdir(instructions: list[Instruction], index: int) -> str | None:
    """The stage's WORKDIR at instruction `index`, when the Dockerfile sets it absolutely."""
    current: str | None = None
    for path in _set_before(instructions, index, "WORKDIR"):
        if "$" in path:
            current = None
        elif path.startswith("/"):
            current = path
        elif current is not None:
            current = os.path.join(current, path)
    return current


def _copy_target(source: str, dest: str, workdir: str | None) -> str | None:
    """Where `COPY source dest` puts a single file, if the Dockerfile alone tells."""
    name = os.path.basename(source.rstrip("/"))
    if dest.endswith("/") or dest in (".", "./"):
        folder = dest
    elif os.path.basename(dest) == name:
        folder, name = os.path.dirname(dest) or ".", name
    else:
        return None  # DEST may be a file of that name or an existing folder
    if not folder.startswith("/"):
        if workdir is None:
            return None  # relative to a WORKDIR the base image may have set
        folder = os.path.join(workdir, folder)
    return os.path.normpath(os.path.join(folder, name))


_CHANGES = re.compile(r"\b(?:rm|mv|chmod|chown|tee|truncate|shred|unlink)\b|\bsed[ \t]+-i")


def _later_use(instructions: list[Instruction], stage: int, name: str | None) -> str | None:
    """The first instruction of a later stage that starts from this one or copies from it."""
    refs = {str(stage)} | ({name} if name else set())
    for other in instructions:
        if other.stage <= stage:
            continue
        base = other.arguments[0].value.lower() if other.arguments else ""
        if other.instruction == "FROM" and base in refs:
            return f"FROM {base} on line {other.line}"
        source = (other.flag("from") or "").lower()
        if other.instruction in ("COPY", "ADD") and source in refs:
            return f"{other.instruction} --from={source} on line {other.line}"
    return None


def _user_before(instructions: list[Instruction], index: int) -> str | None:
    """The stage's USER at instruction `index` when it is not root (None for root)."""
    users = list(_set_before(instructions, index, "USER"))
    user = users[-1] if users else None  # the last USER counts
    if user is None or user.split(":")[0] in ("root", "0"):
        return None
    return user


_RM = re.compile(r"rm(?:[ \t]+-[A-Za-z]+)*[ \t]+(?P<path>[^\s;&|]+)")


def _removal(
    run: Instruction, target: str, workdir: str | None
) -> tuple[int, int, int] | str | None:
    """Where in `run` an `rm` of `target` stands: (line, start, end) of the text to cut,
    (0, -1, -1) when it is the whole command, "unsure" when `target` is removed in a way
    this cannot cut out, None when it is not removed here."""
    command = run.command
    base = os.path.basename(target)
    names = {target}
    if target.startswith("/root/"):
        names.add("~/" + target.removeprefix("/root/"))
    if workdir is not None and os.path.dirname(target) == os.path.normpath(workdir):
        names |= {base, "./" + base}
    hits = [m for m in _RM.finditer(command) if m.group("path") in names]
    if base in command:
        writes = len(_CHANGES.findall(command))
        writes += len(re.findall(r">>?[ \t]*\S*" + re.escape(base), command))
        if writes > len(hits):
            # removed, moved or written some other way (`rm $HOME/.npmrc`, `cd && rm`,
            # `>> .npmrc`): a mounted secret is read-only, so that would fail
            return "unsure"
    if not hits:
        return None
    if len(hits) > 1:
        return "unsure"
    m = hits[0]
    before, after = command[: m.start()], command[m.end() :]
    if not before.strip() and not after.strip():
        return (0, -1, -1)
    if not after.strip() and (b := re.search(r"[ \t]*(?:&&|;)[ \t]*$", before)):
        start, end = b.start(), len(command.rstrip())
    elif not before.strip() and (a := re.match(r"[ \t]*(?:&&|;)[ \t]*", after)):
        start, end = m.start(), m.end() + a.end()
    else:
        return "unsure"
    line, col = run.locate(start)
    end_line, end_col = run.locate(end - 1)
    if end_line != line or end_col - col != end - 1 - start:
        return "unsure"  # the cut would cross a line continuation
    return (line, col - 1, col - 1 + end - start)


@functools.cache
def docker_build_command(docker: str | None) -> tuple[str, str]:
    """The BuildKit build command that works with the Docker CLI at `docker`, and a
    caveat to print after it ("" when there is none).

    `docker buildx build` where the buildx plugin answers; a CLI older than 23
    without it builds with BuildKit through `DOCKER_BUILDKIT=1 docker build`,
    while 23 and later refuse that form without buildx, so the plugin has to be
    installed. Asked once per CLI, and only when a plan has a build to describe.
    """
    if docker is None:
        return "docker buildx build", ""
    try:
        if (
            subprocess.run(
                [docker, "buildx", "version"], capture_output=True, timeout=10
            ).returncode
            == 0
        ):
            return "docker buildx build", ""
        version = subprocess.run(
            [docker, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "docker buildx build", ""
    match = re.search(r"\bversion v?(\d+)\.(\d+)", version)
    if match is not None and int(match.group(1)) < 23:
        return "DOCKER_BUILDKIT=1 docker build", ""
    shown = f" {match.group(1)}.{match.group(2)}" if match is not None else ""
    return "docker buildx build", (
        f"  (the docker{shown} CLI found has no buildx plugin: install it first,"
        " e.g. the docker-buildx-plugin or docker-buildx package)"
    )


def _rel(path: Path | None, root: Path) -> str:
    return os.path.relpath(path or root, root).replace(os.sep, "/")
