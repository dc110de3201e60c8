"""The rule registry: every pattern leakguard checks lives here, none in the surfaces.

A rule is data: an id (persisted in baselines, never renamed), a severity, a
remediation hint, a Python regex that confirms a candidate and extracts the
secret, and what the prefilter looks for (literal keywords, or a Hyperscan
expression). Value analysis that a regex cannot express (entropy, checksums,
placeholders) is a small `check` function.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

from leakguard.models import Confidence, RuleId, Severity


@dataclass(frozen=True, slots=True)
class Context:
    """What a surface knows about the text it hands to the engine.

    `kind` is a hint for rules whose meaning depends on syntax: "code",
    "config" (key/value files: .env, .ini, .properties, YAML, TOML),
    "dockerfile", "dockerfile-env" (the value of an ENV/ARG), "compose",
    "shell", "commit-message", or the kind of a credential file ("npmrc",
    "docker-config", "kubeconfig", "dotenv", ...: see
    leakguard.detectors.credfiles). Surfaces may set it; otherwise it is
    derived from the path.
    """

    path: str | None = None
    kind: str | None = None


# check(secret, line, context) -> confidence to report at, or None to drop.
Check = Callable[[bytes, bytes, Context], Confidence | None]


@dataclass(frozen=True)
class Rule:
    id: RuleId
    description: str
    severity: Severity
    # Python `re` syntax, matched against bytes of one line (the whole chunk
    # from that line on, for multiline rules). The secret is the group named
    # "secret", else the whole match.
    pattern: str
    # Literal, case-insensitive strings the prefilter looks for. A line with
    # none of them is never given to `pattern`.
    keywords: tuple[str, ...] = ()
    # A Hyperscan expression for the prefilter, when keywords do not fit.
    # With neither, `pattern` itself is compiled by Hyperscan in prefilter mode.
    prefilter: str | None = None
    # Where a match of `pattern` starts at most this many bytes before the end of
    # its prefilter match (a keyword a bounded distance before `=`), the regex is
    # searched from there instead of from the start of the line.
    starts_within: int | None = None
    remediation: str = "Revoke the credential, issue a new one and keep it out of the source."
    confidence: Confidence = Confidence.HIGH
    check: Check | None = None
    multiline: bool = False
    # How many lines one match may span (a value on the line after its XML tag):
    # the regex runs over the hit's line and the `lines - 1` after it.
    lines: int = 1
    # The detect-secrets plugin whose findings this rule covers (its
    # `secret_type`), so detect-secrets baselines can be imported.
    detect_secrets_type: str | None = None
    enabled_by_default: bool = True
    tags: tuple[str, ...] = field(default=())
    # Seconds one file may keep the pattern busy: set for rules from config,
    # whose patterns nobody has checked for catastrophic backtracking.
    time_limit: float | None = None
    # Turns the matched bytes into the secret they encode (the `user:password` of
    # an `Authorization: Basic` header), or None when they encode none. The
    # finding's fingerprint, redacted form and `check` all see the decoded value.
    decode: Callable[[bytes], bytes | None] | None = None
    # A rule that is code rather than a pattern (a detect-secrets plugin's
    # `analyze_line`): given one line (or a window of a long one) the prefilter
    # passed, the (offset, secret) pairs in it. `pattern` is then not used.
    find: Callable[[bytes, Context], Iterable[tuple[int, bytes]]] | None = None
    # The secret is the first group of `pattern` that matched something, as
    # detect-secrets' regex plugins read their `denylist` (the whole match when
    # the pattern has no group).
    first_group: bool = False
    # A rule from outside leakguard: its file and that file's sha256 (so results
    # cached under the rule's old code are not reused).
    source: str | None = None

    @cached_property
    def regex(self) -> re.Pattern[bytes]:
        if self.time_limit is not None:
            return cast("re.Pattern[bytes]", _TimedPattern(self.pattern, self.time_limit))
        return re.compile(self.pattern.encode())

    def secret_of(self, match: re.Match[bytes]) -> tuple[bytes, int]:
        """The secret's bytes and its offset in the matched text."""
        if "secret" in self.regex.groupindex and match.group("secret") is not None:
            return match.group("secret"), match.start("secret")
        if self.first_group:
            for index, group in enumerate(match.groups(), 1):
                if group:
                    return group, match.start(index)
            if match.re.groups:
                return b"", match.start()  # no group took part: detect-secrets finds nothing
        return match.group(0), match.start()


class _TimedPattern:
    """A pattern run by the `regex` module, which can stop a match that runs too long
    (TimeoutError) where `re` would backtrack for hours."""

    def __init__(self, pattern: str, limit: float):
        import regex

        self._pattern = regex.compile(pattern.encode())
        self._limit = limit
        self.groupindex = self._pattern.groupindex

    def finditer(self, data: bytes, pos: int = 0, endpos: int | None = None) -> Any:
        end = len(data) if endpos is None else endpos
        return self._pattern.finditer(data, pos, end, timeout=self._limit)


class RuleSet:
    """An ordered, validated set of rules with unique ids."""

    def __init__(self, rules: Iterable[Rule]):
        self.rules: tuple[Rule, ...] = tuple(rules)
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
        self.by_id = {rule.id: rule for rule in self.rules}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def select(self, *, disable: Sequence[str] = (), enable: Sequence[str] = ()) -> RuleSet:
        off = set(disable)
        on = set(enable)
        return RuleSet(
            r for r in self.rules if r.id not in off and (r.enabled_by_default or r.id in on)
        )


def builtin_rules() -> RuleSet:
    """Every rule leakguard ships, in a stable order."""
    from leakguard.rules import catalog, credfiles, generic, providers, saas

    return RuleSet(
        [*providers.RULES, *catalog.RULES, *saas.RULES, *credfiles.RULES, *generic.RULES]
    )
