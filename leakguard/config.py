"""Project configuration: `.leakguard.toml`, or `[tool.leakguard]` in pyproject.toml.

```toml
exclude = ["tests/fixtures/**", "*.min.js"]   # gitignore-style, relative to the config's folder
disable = ["high-entropy-hex"]                # rule ids to switch off
enable = ["public-ipv4"]                      # rules that are off by default
baseline = ".leakguard-baseline.json"
max_file_size = 268435456                     # bytes; larger files are not read (exit 3)
respect_gitignore = false
min_confidence = "low"                        # drop findings below this confidence
min_severity = "low"                          # drop findings below this severity
fail_on = "low"                               # exit 1 only for findings at or above this
detect_secrets_plugins = ["ci/acme_plugins.py"]  # custom detect-secrets plugins, as rules

[[rules]]                                     # extra rules of your own
id = "acme-api-token"
pattern = "acme_[a-z0-9]{32}"                 # Python regex; a group named `secret` picks the value
keywords = ["acme_"]                          # optional: literal strings every match contains
severity = "high"
description = "ACME API token"
remediation = "Revoke it in the ACME console."
```
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakguard.errors import ConfigError
from leakguard.fsutil import open_regular
from leakguard.models import Confidence, RuleId, Severity
from leakguard.rules import Rule, RuleSet, builtin_rules

CONFIG_NAMES = (".leakguard.toml", "pyproject.toml")
CUSTOM_RULE_TIME_LIMIT = 2.0  # seconds per file and rule
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_KNOWN_KEYS = {
    "exclude", "disable", "enable", "baseline", "max_file_size", "respect_gitignore",
    "min_confidence", "min_severity", "fail_on", "rules", "detect_secrets_plugins",
}  # fmt: skip


@dataclass(frozen=True)
class Config:
    root: Path | None = None  # the folder the config file is in
    source: Path | None = None
    exclude: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    enable: tuple[str, ...] = ()
    baseline: Path | None = None
    max_file_size: int | None = None  # None: every file is read, whatever its size
    respect_gitignore: bool = False
    min_confidence: Confidence = Confidence.LOW
    min_severity: Severity = Severity.LOW  # drop findings below it
    fail_on: Severity = Severity.LOW  # exit 1 only for findings at or above it
    extra_rules: tuple[Rule, ...] = field(default=())
    # Python files of detect-secrets plugins, each plugin a rule (see
    # leakguard.rules.detect_secrets_plugins); from config and --detect-secrets-plugin.
    detect_secrets_plugins: tuple[Path, ...] = ()

    def custom_rules(self) -> tuple[Rule, ...]:
        """Rules from config, then those of detect-secrets plugins."""
        if not self.detect_secrets_plugins:
            return self.extra_rules
        from leakguard.rules.detect_secrets_plugins import plugin_rules

        return (*self.extra_rules, *plugin_rules(self.detect_secrets_plugins))

    def ruleset(self) -> RuleSet:
        """Custom rules first (most specific), then the built-in ones, minus disabled."""
        from leakguard.rules.container import CHECKS

        builtin = builtin_rules()
        custom = self.custom_rules()
        known = {r.id for r in builtin} | {r.id for r in custom} | CHECKS.keys()
        unknown = [r for r in (*self.disable, *self.enable) if r not in known]
        if unknown:
            raise ConfigError(
                f"unknown rule id {unknown[0]!r} in {self.source or 'options'}",
                hint="`leakguard rules` lists every rule id",
            )
        clash = [r.id for r in self.extra_rules if r.id in builtin.by_id]
        if clash:
            raise ConfigError(
                f"custom rule {clash[0]!r} has the id of a built-in rule",
                hint="give it an id of its own, or disable the built-in one",
            )
        return RuleSet([*custom, *builtin]).select(disable=self.disable, enable=self.enable)


def find_config(start: Path) -> Path | None:
    """The nearest config file from `start` upward, stopping at a repository root."""
    here = start if start.is_dir() else start.parent
    for folder in (here, *here.parents):
        dotfile = folder / ".leakguard.toml"
        if dotfile.is_file():
            return dotfile
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "leakguard" in _read_toml(pyproject).get("tool", {}):
            return pyproject
        if (folder / ".git").exists():
            break
    return None


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("leakguard", {})
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: leakguard settings must be a table")
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting {unknown[0]!r}",
            hint=f"known: {', '.join(sorted(_KNOWN_KEYS))}",
        )
    root = path.parent
    baseline = data.get("baseline")
    try:
        return Config(
            root=root,
            source=path,
            exclude=_strings(data, "exclude", path),
            disable=_strings(data, "disable", path),
            enable=_strings(data, "enable", path),
            baseline=(root / str(baseline)) if baseline else None,
            max_file_size=_positive(data, "max_file_size"),
            respect_gitignore=bool(data.get("respect_gitignore", False)),
            min_confidence=Confidence(data.get("min_confidence", "low")),
            min_severity=_severity(data, "min_severity", path),
            fail_on=_severity(data, "fail_on", path),
            extra_rules=tuple(_rule(r, path) for r in data.get("rules", [])),
            detect_secrets_plugins=tuple(
                root / p for p in _strings(data, "detect_secrets_plugins", path)
            ),
        )
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from e


def _severity(data: dict[str, Any], key: str, path: Path) -> Severity:
    value = data.get(key, "low")
    try:
        return Severity(value)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{path}: `{key}` must be one of {', '.join(s.value for s in Severity)}, not {value!r}"
        ) from None


def _positive(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{key} must be a positive number of bytes, not {value!r}")
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open_regular(path) as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    except RecursionError:  # the parser recurses once per nested array or table
        raise ConfigError(f"{path}: not valid TOML: nested too deep") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e


def _strings(data: dict[str, Any], key: str, path: Path) -> tuple[str, ...]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: `{key}` must be a list of strings")
    return tuple(value)


def _rule(spec: Any, path: Path) -> Rule:
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: each [[rules]] entry must be a table")
    rule_id = str(spec.get("id", ""))
    where = f"{path}: rule {rule_id or '(no id)'}"
    if not _RULE_ID.match(rule_id):
        raise ConfigError(f"{where}: id must be lowercase letters, digits and dashes")
    pattern = spec.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{where}: `pattern` is required")
    try:
        compiled = re.compile(pattern.encode())
    except re.error as e:
        raise ConfigError(f"{where}: pattern is not a valid regex: {e}") from e
    if compiled.match(b""):
        raise ConfigError(f"{where}: pattern matches the empty string")
    keywords = _strings(spec, "keywords", path)
    try:
        severity = Severity(spec.get("severity", "high"))
    except ValueError:
        raise ConfigError(
            f"{where}: severity must be one of {', '.join(s.value for s in Severity)}"
        ) from None
    rule = Rule(
        id=RuleId(rule_id),
        description=str(spec.get("description", f"Custom rule {rule_id}")),
        severity=severity,
        pattern=pattern,
        keywords=keywords,
        remediation=str(spec.get("remediation", Rule.remediation)),
        time_limit=CUSTOM_RULE_TIME_LIMIT,
    )
    _check_prefilter(rule, where)
    return rule


def _check_prefilter(rule: Rule, where: str) -> None:
    import hyperscan

    if rule.keywords:
        return
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    try:
        db.compile(expressions=[rule.pattern.encode()], flags=[hyperscan.HS_FLAG_PREFILTER])
    except hyperscan.error as e:
        raise ConfigError(
            f"{where}: the prefilter cannot compile this pattern ({e})",
            hint="add `keywords`: literal strings that every match contains",
        ) from e


def merged(config: Config, **overrides: Any) -> Config:
    """The config with command-line options laid over it (None means 'not given')."""
    from dataclasses import replace

    given = {k: v for k, v in overrides.items() if v is not None and v != ()}
    for key in ("exclude", "disable", "enable", "detect_secrets_plugins"):
        if key in given:
            given[key] = (*getattr(config, key), *given[key])
    return replace(config, **given)
