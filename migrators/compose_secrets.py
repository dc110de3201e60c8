"""Compose and Swarm: `environment:` literals become secrets.

ruamel.yaml (round-trip mode) finds which service and variable a finding is
in; the file itself is changed by line edits, so that every byte outside the
changed lines (comments, quoting, anchors, flow style) stays as it was.

For an image whose entrypoint reads `NAME_FILE` (the official postgres,
mysql, ... images: `FILE_ENV_IMAGES`), the variable becomes
`NAME_FILE: /run/secrets/name` and the service gets the Compose secret. For
other images the variable moves to a git-ignored env file that the service
loads with `env_file:` (Compose) or, for a Swarm stack, to a secret the
application must read from `/run/secrets/name` (said so in the plan).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from leakguard.engine import kind_of_path
from leakguard.migrators.plan import (
    SECRETS_DIR,
    Plan,
    SecretMove,
    Skipped,
    Workspace,
)
from leakguard.models import Finding, SecretValue

# Official images whose entrypoint reads VAR_FILE for these variables. Data,
# not code: add an image here when its documentation says it supports `_FILE`.
FILE_ENV_IMAGES: dict[str, frozenset[str]] = {
    "postgres": frozenset({"POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB",
                           "POSTGRES_INITDB_ARGS"}),
    "mysql": frozenset({"MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "MYSQL_USER",
                        "MYSQL_DATABASE", "MYSQL_ROOT_HOST"}),
    "mariadb": frozenset({"MARIADB_ROOT_PASSWORD", "MARIADB_PASSWORD", "MARIADB_USER",
                          "MARIADB_DATABASE", "MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD",
                          "MYSQL_USER", "MYSQL_DATABASE"}),
    "mongo": frozenset({"MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"}),
    "wordpress": frozenset({"WORDPRESS_DB_HOST", "WORDPRESS_DB_USER", "WORDPRESS_DB_PASSWORD",
                            "WORDPRESS_DB_NAME", "WORDPRESS_AUTH_KEY",
                            "WORDPRESS_SECURE_AUTH_KEY", "WORDPRESS_LOGGED_IN_KEY",
                            "WORDPRESS_NONCE_KEY", "WORDPRESS_AUTH_SALT",
                            "WORDPRESS_SECURE_AUTH_SALT", "WORDPRESS_LOGGED_IN_SALT",
                            "WORDPRESS_NONCE_SALT"}),
    "nextcloud": frozenset({"POSTGRES_PASSWORD", "POSTGRES_USER", "MYSQL_PASSWORD",
                            "MYSQL_USER", "NEXTCLOUD_ADMIN_USER", "NEXTCLOUD_ADMIN_PASSWORD",
                            "REDIS_HOST_PASSWORD", "SMTP_PASSWORD"}),
    "redmine": frozenset({"REDMINE_DB_PASSWORD", "REDMINE_DB_USERNAME",
                          "REDMINE_SECRET_KEY_BASE"}),
}  # fmt: skip

# The largest file (in YAML nodes: scalars, mappings, sequences, aliases) that
# migrate rewrites; about 4 seconds of ruamel.yaml's round trip.
MAX_NODES = 50_000

_SAFE_ENV_VALUE = re.compile(r"[A-Za-z0-9_./+=:@%^,~!*?\-]*")


def file_env_supported(image: str | None, variable: str) -> bool:
    """Whether an official image's entrypoint reads `variable + "_FILE"`."""
    if not image:
        return False
    name = image.split("@")[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":")[0]
    for prefix in ("docker.io/", "index.docker.io/", "library/"):
        name = name.removeprefix(prefix)
    return variable in FILE_ENV_IMAGES.get(name, frozenset())


def secret_name(variable: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", variable.lower()).strip("_") or "secret"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _block_end(lines: list[str], start: int, allow_same_indent_seq: bool = False) -> int:
    """Index of the last content line of the block whose key is on `start`."""
    key_indent = _indent(lines[start])
    last = start
    for j in range(start + 1, len(lines)):
        line = lines[j]
        if not _content(line):
            continue
        ind = _indent(line)
        if ind > key_indent or (
            allow_same_indent_seq and ind == key_indent and line.lstrip().startswith("- ")
        ):
            last = j
            continue
        break
    return last


def _child_indent(lines: list[str], start: int, default: int) -> int:
    for j in range(start + 1, len(lines)):
        if _content(lines[j]):
            ind = _indent(lines[j])
            return ind if ind > _indent(lines[start]) else default
    return default


@dataclass
class _Edits:
    """Line edits against the original lines, applied bottom-up."""

    replace: dict[int, list[str]] = field(default_factory=dict)  # line -> new lines ([]: delete)
    insert_after: dict[int, list[str]] = field(default_factory=dict)
    append: list[str] = field(default_factory=list)

    def apply(self, lines: list[str]) -> list[str]:
        """The edited lines, built in one pass (splicing a list per edit is quadratic)."""
        out: list[str] = []
        last = len(lines) - 1
        for i, line in enumerate(lines):
            if i == last and self.append and not line.endswith("\n"):
                line += "\n"
            replaced = self.replace.get(i)
            out.extend([line] if replaced is None else replaced)
            out.extend(self.insert_after.get(i, ()))
        out.extend(self.append)
        return out


@dataclass(frozen=True)
class _Hit:
    finding: Finding
    service: str
    variable: str
    line: int  # 0-based line of the entry
    form: str  # "map" | "seq"
    value: str  # the whole value as written (the finding may cover only part of it)


class ComposeSecrets:
    """`environment:` literals in Compose files become Compose (or Swarm) secrets."""

    target: ClassVar[str] = "compose"

    def __init__(
        self,
        root: Path,
        workspace: Workspace,
        *,
        swarm: bool = False,
        vault_path: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.ws = workspace
        self.swarm = swarm
        self.vault_path = vault_path  # "mount/path": values go to Vault, not to local files

    def plan(self, findings: Sequence[Finding]) -> Plan:
        by_file: dict[str, list[Finding]] = {}
        for f in findings:
            if f.location.path and kind_of_path(f.location.path) == "compose":
                by_file.setdefault(f.location.path, []).append(f)
        moves: list[SecretMove] = []
        skipped: list[Skipped] = []
        values: dict[str, SecretValue] = {}
        for path, group in by_file.items():
            self._plan_file(Path(path), group, moves, skipped, values)
        return Plan((), tuple(moves), tuple(skipped), values)

    # -- one file -------------------------------------------------------------

    def _plan_file(
        self,
        path: Path,
        findings: list[Finding],
        moves: list[SecretMove],
        skipped: list[Skipped],
        values: dict[str, SecretValue],
    ) -> None:
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError

        text = self.ws.read(path)
        if text is None:
            skipped.extend(Skipped(f, "the file is gone") for f in findings)
            return
        too_large = _too_large(text)
        if too_large:
            skipped.extend(Skipped(f, too_large) for f in findings)
            return
        try:
            data = YAML(typ="rt").load(text)
        except RecursionError:  # the parser recurses once per level
            skipped.extend(Skipped(f, "not valid YAML (nested too deep)") for f in findings)
            return
        except YAMLError as e:
            reason = f"not valid YAML ({str(e).splitlines()[0]})"
            skipped.extend(Skipped(f, reason) for f in findings)
            return
        services: Any = data.get("services") if hasattr(data, "get") else None
        if not hasattr(services, "items"):
            skipped.extend(Skipped(f, "no `services:` mapping") for f in findings)
            return
        is_swarm = self.swarm
        version = str(data.get("version", "3.9"))
        old_format = bool(re.match(r"^(1|2)(\.|$)|^3(\.0)?$", version))

        entries = _entries(services)
        build_args: set[int] | None = None
        hits: dict[int, _Hit] = {}
        for f in findings:
            hit = _locate(entries, f)
            if hit is None:
                if build_args is None:
                    build_args = _build_arg_lines(services)
                skipped.append(Skipped(f, _why_not(build_args, f)))
            elif hit.line not in hits:
                hits[hit.line] = hit
        if not hits:
            return
        by_service: dict[str, list[_Hit]] = {}
        for hit in hits.values():
            by_service.setdefault(hit.service, []).append(hit)

        lines = text.splitlines(keepends=True)
        edits = _Edits()
        compose_dir = path.parent
        top = data.get("secrets")
        first = services.lc.key(next(iter(services)))[0]
        unit = _child_indent(lines, first, 2) - _indent(lines[first]) or 2
        new_top: list[tuple[str, str]] = []  # (name, definition lines)
        service_new: dict[str, list[str]] = {}
        env_files: dict[str, Path] = {}
        emptied: dict[tuple[str, int], int] = {}

        for hit in sorted(hits.values(), key=lambda h: h.line):
            f = hit.finding
            svc = services[hit.service]
            image = svc.get("image") if hasattr(svc, "get") else None
            value_text, why = compose_value(hit.value)
            if why or f.secret.raw not in value_text.encode("utf-8", "surrogateescape"):
                skipped.append(
                    Skipped(
                        f, why or "the value is not written as a plain literal: needs manual change"
                    )
                )
                continue
            value = SecretValue(value_text.encode("utf-8", "surrogateescape"))
            use_file_env = file_env_supported(image, hit.variable)
            name = self._unique_name(secret_name(hit.variable), hit.service, value, values)
            line = lines[hit.line]
            ind = " " * _indent(line)
            consumer = f"compose:{_rel(path, self.root)}:{hit.service}:{hit.variable}"
            note = ""
            if is_swarm or (use_file_env and not old_format):
                if use_file_env:
                    target = f"/run/secrets/{name}"
                    new = (f"{ind}{hit.variable}_FILE: {target}\n" if hit.form == "map"
                           else f"{ind}- {hit.variable}_FILE={target}\n")  # fmt: skip
                    edits.replace[hit.line] = [new]
                else:
                    edits.replace[hit.line] = []
                    note = f"the service must read /run/secrets/{name} instead of ${hit.variable}"
                    self._count_removed(svc, hit, emptied, edits, lines)
                service_new.setdefault(hit.service, []).append(name)
                if is_swarm:
                    definition = "external: true"
                    destination = f"swarm:{name}"
                    local: Path | None = None
                else:
                    local = self.root / SECRETS_DIR / name
                    definition = f"file: {_rel_dot(local, compose_dir)}"
                    destination = f"file:{_rel(local, self.root)}"
                if top is None or name not in top:
                    new_top.append((name, definition))
                env_key = None
            else:
                if value.raw and (b"\n" in value.raw or b"'" in value.raw):
                    skipped.append(
                        Skipped(
                            f,
                            "a value with a newline or quote cannot go "
                            "into an env file: needs manual change",
                        )
                    )
                    continue
                edits.replace[hit.line] = []
                self._count_removed(svc, hit, emptied, edits, lines)
                local = self.root / SECRETS_DIR / f"{secret_name(hit.service)}.env"
                env_files[hit.service] = local
                destination = f"file:{_rel(local, self.root)}#{hit.variable}"
                env_key = hit.variable
                note = f"env_file: {hit.variable} is loaded from a git-ignored file"
            if self.vault_path is not None:
                destination = f"vault:{self.vault_path}#{name}"
            values[name] = value
            moves.append(
                SecretMove(
                    name,
                    destination,
                    (consumer,),
                    value.fingerprint,
                    value.redacted,
                    local_file=local,
                    note=note,
                    env_key=env_key,
                )  # fmt: skip
            )

        for service, names in service_new.items():
            self._add_service_secrets(
                lines, services, service, names, edits, skipped, by_service[service]
            )
        for service, local in env_files.items():
            why = add_env_file(lines, services, service, _rel_dot(local, compose_dir), edits)
            if why:
                skipped.extend(Skipped(h.finding, why) for h in by_service[service])
        if new_top:
            self._add_top_secrets(lines, data, new_top, unit, edits)
        self.ws.write(path, "".join(edits.apply(lines)))

    def _unique_name(
        self, name: str, service: str, value: SecretValue, values: dict[str, SecretValue]
    ) -> str:
        if name not in values or values[name] == value:
            return name
        candidate = f"{secret_name(service)}_{name}"
        n = 2
        while candidate in values and values[candidate] != value:
            candidate = f"{secret_name(service)}_{name}_{n}"
            n += 1
        return candidate

    def _count_removed(
        self, svc: Any, hit: _Hit, emptied: dict[tuple[str, int], int], edits: _Edits,
        lines: list[str],
    ) -> None:  # fmt: skip
        """Delete `environment:` itself once its last entry is gone."""
        env = svc["environment"]
        key = (hit.service, id(env))
        emptied[key] = emptied.get(key, 0) + 1
        if emptied[key] == len(env):
            edits.replace[svc.lc.key("environment")[0]] = []

    def _add_service_secrets(
        self, lines: list[str], services: Any, service: str, names: list[str], edits: _Edits,
        skipped: list[Skipped], hits: list[_Hit],
    ) -> None:  # fmt: skip
        svc = services[service]
        key_line = services.lc.key(service)[0]
        existing = svc.get("secrets")
        if existing is None:
            child = " " * _child_indent(lines, key_line, _indent(lines[key_line]) + 2)
            end = _block_end(lines, key_line)
            block = [f"{child}secrets:\n", *(f"{child}  - {n}\n" for n in names)]
            edits.insert_after.setdefault(end, []).extend(block)
            return
        if not hasattr(existing, "fa") or existing.fa.flow_style():
            reason = "the service's `secrets:` is not a block list: needs manual change"
            skipped.extend(Skipped(h.finding, reason) for h in hits)
            return
        present = {str(x) if not hasattr(x, "get") else str(x.get("source")) for x in existing}
        todo = [n for n in names if n not in present]
        if not todo:
            return
        sline = svc.lc.key("secrets")[0]
        end = _block_end(lines, sline, allow_same_indent_seq=True)
        item = lines[existing.lc.item(0)[0]] if len(existing) else f"{' ' * 4}- x"
        dash = " " * _indent(item) + "- "
        edits.insert_after.setdefault(end, []).extend(f"{dash}{n}\n" for n in todo)

    def _add_top_secrets(
        self, lines: list[str], data: Any, new: list[tuple[str, str]], unit: int, edits: _Edits
    ) -> None:
        pad = " " * unit
        top = data.get("secrets")
        if top is None:
            block = ["\n", "secrets:\n"]
            for name, definition in new:
                block += [f"{pad}{name}:\n", f"{pad}{pad}{definition}\n"]
            edits.append.extend(block)
            return
        tline = data.lc.key("secrets")[0]
        child = _child_indent(lines, tline, unit)
        inner = child + unit
        block = []
        for name, definition in new:
            block += [f"{' ' * child}{name}:\n", f"{' ' * inner}{definition}\n"]
        edits.insert_after.setdefault(_block_end(lines, tline), []).extend(block)


def add_env_file(
    lines: list[str], services: Any, service: str, rel: str, edits: _Edits
) -> str | None:
    """Edits that make `service` load the env file `rel`, or why it cannot be done."""
    svc = services[service]
    key_line = services.lc.key(service)[0]
    existing = svc.get("env_file")
    if existing is None:
        child = " " * _child_indent(lines, key_line, _indent(lines[key_line]) + 2)
        edits.insert_after.setdefault(_block_end(lines, key_line), []).append(
            f"{child}env_file: {rel}\n"
        )
        return None
    eline = svc.lc.key("env_file")[0]
    single_line = _block_end(lines, eline) == eline
    if isinstance(existing, str) or (
        hasattr(existing, "fa") and existing.fa.flow_style() and single_line
    ):
        items = [existing] if isinstance(existing, str) else [str(x) for x in existing]
        if rel in items:
            return None
        if not single_line or not all(isinstance(x, str) for x in items):
            return "the service's `env_file:` spans lines: needs manual change"
        ind = " " * _indent(lines[eline])
        listed = ", ".join(_yaml_str(x) for x in [*items, rel])
        edits.replace[eline] = [f"{ind}env_file: [{listed}]\n"]
        return None
    if hasattr(existing, "fa") and hasattr(existing, "lc") and len(existing):
        if rel in [str(x) for x in existing]:
            return None
        end = _block_end(lines, eline, allow_same_indent_seq=True)
        dash = " " * _indent(lines[existing.lc.item(0)[0]]) + "- "
        edits.insert_after.setdefault(end, []).append(f"{dash}{rel}\n")
        return None
    return "the service's `env_file:` has a form leakguard does not rewrite: needs manual change"


def _too_large(text: str) -> str | None:
    """Why a file is too large to rewrite, if it is: ruamel.yaml's round trip costs
    about 70 microseconds a node (minutes for a file of megabytes), so a file of
    more than MAX_NODES nodes is left for a manual change. Counted with libyaml,
    stopping at the bound."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    nodes = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > MAX_NODES:
                    return (
                        f"the file has more than {MAX_NODES:,} YAML nodes, more than migrate "
                        "rewrites: needs manual change (or split the file)"
                    )
    except yaml.YAMLError:
        return None  # the round trip says what is wrong with it
    return None


def _load(ws: Workspace, path: Path) -> tuple[str, Any] | None:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    text = ws.read(path)
    if text is None or _too_large(text):
        return None
    try:
        return text, YAML(typ="rt").load(text)
    except (YAMLError, RecursionError):
        return None


def services_building(
    ws: Workspace, compose_files: list[Path], dockerfile: Path
) -> list[tuple[Path, str]]:
    """(Compose file, service) pairs whose `build:` builds `dockerfile`."""
    out = []
    target = dockerfile.resolve()
    for path in compose_files:
        loaded = _load(ws, path)
        if loaded is None or not hasattr(loaded[1], "get"):
            continue
        services = loaded[1].get("services")
        if not hasattr(services, "items"):
            continue
        for name, svc in services.items():
            build: Any = svc.get("build") if hasattr(svc, "get") else None
            if isinstance(build, str):
                context, file = build, "Dockerfile"
            elif hasattr(build, "get") and isinstance(build.get("context", "."), str):
                context, file = (
                    build.get("context", "."),
                    str(build.get("dockerfile", "Dockerfile")),
                )
            else:
                continue
            if (path.parent / context / file).resolve() == target:
                out.append((path, str(name)))
    return out


def ensure_env_file(ws: Workspace, path: Path, service: str, local: Path) -> str | None:
    """Make `service` in Compose file `path` load `local`; or say why not (nothing changed)."""
    loaded = _load(ws, path)
    if loaded is None:
        return f"{path} is not readable YAML"
    text, data = loaded
    lines = text.splitlines(keepends=True)
    edits = _Edits()
    why = add_env_file(lines, data["services"], service, _rel_dot(local, path.parent), edits)
    if why is None:
        ws.write(path, "".join(edits.apply(lines)))
    return why


def _build_arg_lines(services: Any) -> set[int]:
    """0-based lines of every service's `build.args` entries."""
    out: set[int] = set()
    for svc in services.values():
        build: Any = svc.get("build") if hasattr(svc, "get") else None
        args: Any = build.get("args") if hasattr(build, "get") else None
        if hasattr(args, "lc"):
            for k in args if hasattr(args, "items") else range(len(args)):
                out.add(args.lc.value(k)[0] if hasattr(args, "items") else args.lc.item(k)[0])
    return out


def _why_not(build_args: set[int], finding: Finding) -> str:
    if (finding.location.line or 0) - 1 in build_args:
        return (
            "a build argument: Compose v1 cannot pass build secrets; use `build.secrets` "
            "(Compose v2) with `leakguard migrate --to buildkit` on the Dockerfile: "
            "needs manual change"
        )
    return "not a literal in a service's `environment:`: needs manual change"


def _entries(services: Any) -> dict[int, tuple[str, str, str, str]]:
    """0-based line -> (service, variable, form, value) of each literal in a service's
    `environment:`, read once per file (the first service to claim a line keeps it)."""
    out: dict[int, tuple[str, str, str, str]] = {}
    for service, svc in services.items():
        env = svc.get("environment") if hasattr(svc, "get") else None
        if env is None:
            continue
        if hasattr(env, "items") and hasattr(env, "lc"):
            for key in env:
                kline = env.lc.key(key)[0]
                if kline == env.lc.value(key)[0] and isinstance(env[key], str):
                    out.setdefault(kline, (str(service), str(key), "map", str(env[key])))
        elif isinstance(env, list) and hasattr(env, "lc"):
            for i, item in enumerate(env):
                if isinstance(item, str) and "=" in item:
                    key, _, value = item.partition("=")
                    out.setdefault(env.lc.item(i)[0], (str(service), key, "seq", value))
    return out


def _locate(entries: dict[int, tuple[str, str, str, str]], finding: Finding) -> _Hit | None:
    line0 = (finding.location.line or 0) - 1
    entry = entries.get(line0)
    if entry is None:
        return None
    service, variable, form, value = entry
    return _Hit(finding, service, variable, line0, form, value)


def compose_value(written: str) -> tuple[str, str | None]:
    """The value a container sees for `written` (`$$` is a literal `$`), or why
    it cannot be moved as it is (it interpolates another variable)."""
    if re.search(r"\$(?!\$)", written.replace("$$", "")):
        return written, "the value interpolates a variable (`$...`): needs manual change"
    return written.replace("$$", "$"), None


def _rel(path: Path, root: Path) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


def _rel_dot(path: Path, base: Path) -> str:
    rel = _rel(path, base)
    return rel if rel.startswith(".") else "./" + rel


def _yaml_str(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./-]+", value):
        return value
    return '"' + value.replace('"', '\\"') + '"'


def env_line(key: str, value: bytes) -> bytes:
    """`KEY=value` for an env file Compose reads (single quotes unless plain)."""
    text = value.decode("utf-8", "surrogateescape")
    if _SAFE_ENV_VALUE.fullmatch(text):
        return f"{key}={text}\n".encode("utf-8", "surrogateescape")
    return f"{key}='{text}'\n".encode("utf-8", "surrogateescape")
