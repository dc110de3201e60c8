"""A team's custom detect-secrets plugins as leakguard rules (`--detect-secrets-plugin`).

The file is loaded by detect-secrets' own loader (`get_plugins_from_file`, what a
`.secrets.baseline` entry `{"name": ..., "path": "file://..."}` goes through), and
every plugin class the file defines (not one it imports) becomes one rule, with
the id `detect-secrets:<its secret_type, lowercased, dashes for the rest>`:

- a `RegexBasedDetector`: its `denylist` patterns, joined into one, run as a rule
  from config does: the plugin's `keywords` (a class attribute of literal
  strings, if it declares one) are the prefilter, else the pattern itself in
  Hyperscan's prefilter mode (else every line, for a pattern Hyperscan cannot
  take); the `regex` module matches it, with the same time limit. The secret is
  what detect-secrets takes: the first group that matched, or the whole match.
- any other plugin: its `analyze_line` runs on each line the prefilter passes:
  the lines holding one of its `keywords` if it declares them, else every line.

A file that cannot be loaded, or defines no plugin, is a usage error.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from leakguard.errors import ConfigError
from leakguard.models import RuleId, Severity
from leakguard.rules import Context, Rule

log = logging.getLogger(__name__)

RULE_PREFIX = "detect-secrets:"
TAG = "detect-secrets-plugin"
# Hyperscan reports the end of every line that is not empty (the last one too,
# with or without a line end): the prefilter of a plugin that names no keywords.
EVERY_LINE = r"[^\n]\n|[^\n]$"
_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x"))


# The plugins loaded in this process, by rule id: (file, class name). Like
# sys.modules, a record of code already loaded; `--format detect-secrets` names the
# file of each plugin whose findings it writes, so that detect-secrets loads it too.
_LOADED: dict[RuleId, tuple[str, str]] = {}


def plugin_of(rule_id: str) -> tuple[str, str] | None:
    """The file and class name of the loaded plugin behind a rule, if it is one."""
    return _LOADED.get(RuleId(rule_id))


def plugin_rules(paths: Sequence[Path]) -> tuple[Rule, ...]:
    """The rules of every plugin in `paths`, in order; ids must not repeat."""
    rules: list[Rule] = []
    seen: dict[str, Path] = {}
    for path in paths:
        for rule in load_plugin_file(path):
            if rule.id in seen:
                raise ConfigError(
                    f"{path}: plugin {rule.description!r} gives rule id {rule.id}, "
                    f"as a plugin in {seen[rule.id]} does",
                    hint="give each plugin a secret_type of its own",
                )
            seen[rule.id] = path
            rules.append(rule)
    return tuple(rules)


def load_plugin_file(path: Path) -> tuple[Rule, ...]:
    """The rules of the plugins `path` defines (loaded once per content)."""
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:
        raise ConfigError(
            f"cannot read detect-secrets plugin file {path}: {e.strerror}",
            hint="--detect-secrets-plugin takes a Python file of detect-secrets plugins",
        ) from None
    return _load(str(path.resolve()), digest)


def rule_id_for(secret_type: str) -> RuleId:
    slug = re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")
    return RuleId(RULE_PREFIX + slug)


@functools.lru_cache(maxsize=32)
def _load(path: str, digest: str) -> tuple[Rule, ...]:
    classes = _plugin_classes(path)
    if not classes:
        raise ConfigError(
            f"{path} defines no detect-secrets plugin",
            hint="a plugin is a class derived from detect_secrets.plugins.base.BasePlugin "
            "with a `secret_type`",
        )
    rules = tuple(_rule(cls, path, digest) for cls in classes)
    _LOADED.update(
        (rule.id, (path, cls.__name__)) for rule, cls in zip(rules, classes, strict=True)
    )
    return rules


def _plugin_classes(path: str) -> list[type]:
    from detect_secrets.core.plugins.util import get_plugins_from_file

    module = Path(path).stem  # the name detect-secrets loads the file under
    try:
        found: list[type] = list(get_plugins_from_file(path))
    except (Exception, SystemExit) as e:  # the file's own code runs here
        raise ConfigError(
            f"cannot load detect-secrets plugins from {path}: {_one_line(e)}",
            hint="check that `python FILE.py` runs without error",
        ) from None
    return sorted((c for c in found if c.__module__ == module), key=lambda c: c.__name__)


def _rule(cls: Any, path: str, digest: str) -> Rule:
    from detect_secrets.plugins.base import RegexBasedDetector

    from leakguard.config import CUSTOM_RULE_TIME_LIMIT

    where = f"{path}: plugin {cls.__name__}"
    secret_type = cls.secret_type
    if not isinstance(secret_type, str) or not rule_id_for(secret_type)[len(RULE_PREFIX) :]:
        raise ConfigError(f"{where}: secret_type must be a name with letters or digits")
    keywords = _keywords(cls, where)
    plugin = _instance(cls, where)
    common: dict[str, Any] = {
        "id": rule_id_for(secret_type),
        "description": secret_type,
        "severity": Severity.HIGH,
        "keywords": keywords,
        "detect_secrets_type": secret_type,
        "source": f"{path}#sha256:{digest}",
        "tags": (TAG,),
        "remediation": f"Revoke the credential ({secret_type}), issue a new one and keep it "
        "out of the source.",
    }
    if isinstance(plugin, RegexBasedDetector):
        pattern = _joined(plugin.denylist, where)
        prefilter = None if keywords or _hyperscan_takes(pattern) else EVERY_LINE
        return Rule(
            pattern=pattern,
            prefilter=prefilter,
            first_group=True,
            time_limit=CUSTOM_RULE_TIME_LIMIT,
            **common,
        )
    return Rule(
        pattern="",
        prefilter=None if keywords else EVERY_LINE,
        find=LineFinder(path, cls.__name__, plugin),
        **common,
    )


def _keywords(cls: Any, where: str) -> tuple[str, ...]:
    keywords = getattr(cls, "keywords", ())
    if isinstance(keywords, str):
        keywords = (keywords,)
    if not isinstance(keywords, list | tuple | set | frozenset) or not all(
        isinstance(k, str) and k for k in keywords
    ):
        raise ConfigError(f"{where}: `keywords` must be a list of non-empty strings")
    return tuple(sorted(keywords))


def _instance(cls: Any, where: str) -> Any:
    try:
        return cls()
    except Exception as e:
        raise ConfigError(f"{where} cannot be created without arguments: {_one_line(e)}") from None


def _joined(denylist: Any, where: str) -> str:
    """One pattern for every regex of a denylist: each a group of its own, with its
    flags scoped to it (`(?i:...)`)."""
    parts: list[str] = []
    try:
        regexes = list(denylist)
    except TypeError:
        regexes = []
    for regex in regexes:
        if isinstance(regex, str | bytes):
            regex = re.compile(regex)
        if not isinstance(regex, re.Pattern):
            raise ConfigError(f"{where}: `denylist` must hold compiled regexes")
        source = regex.pattern
        if isinstance(source, bytes):
            source = source.decode("utf-8", "surrogateescape")
        flags = "".join(letter for flag, letter in _FLAGS if regex.flags & flag)
        parts.append(f"(?{flags}:{source})" if flags else f"(?:{source})")
    if not parts:
        raise ConfigError(f"{where}: `denylist` is empty")
    pattern = "|".join(parts)
    try:
        import regex as regex_module

        regex_module.compile(pattern.encode())
        re.compile(pattern.encode())
    except Exception as e:
        raise ConfigError(
            f"{where}: its denylist does not compile as one pattern: {_one_line(e)}"
        ) from None
    return pattern


def _hyperscan_takes(pattern: str) -> bool:
    import hyperscan

    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    try:
        db.compile(expressions=[pattern.encode()], flags=[hyperscan.HS_FLAG_PREFILTER])
    except hyperscan.error as e:
        log.debug("prefilter for every line: hyperscan does not take %r (%s)", pattern, e)
        return False
    return True


class LineFinder:
    """A plugin's `analyze_line` as a rule's `find`: (offset, secret) per value it
    reports in a line. Pickled as its file and class name (worker processes load
    the file again)."""

    def __init__(self, path: str, name: str, plugin: Any = None):
        self.path = path
        self.name = name
        self._plugin = plugin
        self._takes: frozenset[str] = frozenset()  # the arguments analyze_line names

    def __reduce__(self) -> tuple[Any, ...]:
        return (LineFinder, (self.path, self.name))

    def _loaded(self) -> Any:
        if self._plugin is None:
            classes = {c.__name__: c for c in _plugin_classes(self.path)}
            if self.name not in classes:
                raise ConfigError(f"{self.path} no longer defines plugin {self.name}")
            self._plugin = _instance(classes[self.name], f"{self.path}: plugin {self.name}")
        if not self._takes:
            # What detect-secrets' call_function_with_arguments would pass, worked out
            # once rather than on every line.
            from detect_secrets.util.inject import get_injectable_variables

            self._takes = frozenset(get_injectable_variables(self._plugin.analyze_line))
        return self._plugin

    def __call__(self, line: bytes, context: Context) -> Iterable[tuple[int, bytes]]:
        plugin = self._loaded()
        text = line.decode("utf-8", "surrogateescape")
        given = {"filename": context.path or "", "line": text, "line_number": 0}
        try:
            found = plugin.analyze_line(**{k: v for k, v in given.items() if k in self._takes})
        except Exception as e:
            raise ConfigError(
                f"detect-secrets plugin {self.name} ({self.path}) failed on a line of "
                f"{context.path or 'the input'}: {type(e).__name__}",
                hint="run with --verbose for the traceback",
            ) from e
        if not found:
            return ()
        out: list[tuple[int, bytes]] = []
        for potential in found:
            value = getattr(potential, "secret_value", None)
            if not isinstance(value, str) or not value:
                continue
            raw = value.encode("utf-8", "surrogateescape")
            out.append((max(line.find(raw), 0), raw))
        return sorted(out)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
