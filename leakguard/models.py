"""The values that flow through every surface, rule, format and migrator."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, NewType

RuleId = NewType("RuleId", str)


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Higher is worse: low=0 ... critical=3."""
        return _SEVERITY_RANK[self]

    def lowered(self, steps: int = 1) -> Severity:
        order = list(_SEVERITY_RANK)
        return order[max(0, self.rank - steps)]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return {"low": 0, "medium": 1, "high": 2}[self.value]


class Surface(StrEnum):
    FILE = "file"
    DOCKERFILE = "dockerfile"
    COMPOSE = "compose"
    GIT = "git"
    IMAGE = "image"


class Origin(StrEnum):
    LAYER_FILE = "layer-file"
    ENV = "env"
    LABEL = "label"
    HISTORY = "history"
    ATTESTATION = "attestation"


class SecretValue:
    """A secret's exact bytes. Its repr never shows them; only `reveal()` does."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes):
        self._raw = raw

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __reduce__(self) -> tuple[Any, ...]:
        # Findings cross process boundaries in parallel scans.
        return (SecretValue, (self._raw,))

    def reveal(self) -> str:
        """The full value, for migrators and --show-secrets only."""
        return self._raw.decode("utf-8", "replace")

    @property
    def raw(self) -> bytes:
        return self._raw

    @property
    def fingerprint(self) -> str:
        return fingerprint(self._raw)

    @property
    def redacted(self) -> str:
        return redact(self._raw)


def fingerprint(raw: bytes) -> str:
    """sha256 hex of the secret's bytes (its UTF-8 encoding for text)."""
    return hashlib.sha256(raw).hexdigest()


def redact(raw: bytes) -> str:
    """A few leading characters and an ellipsis; short values show less."""
    text = raw.decode("utf-8", "replace")
    keep = 4 if len(text) >= 16 else 2 if len(text) >= 8 else 0
    return text[:keep] + "…"


@dataclass(frozen=True, slots=True)
class Location:
    """Where a secret was seen. Fields may be added, never renamed (JSON contract)."""

    surface: Surface = Surface.FILE
    path: str | None = None
    line: int | None = None
    column: int | None = None
    commit: str | None = None
    author: str | None = None
    date: str | None = None
    image: str | None = None
    layer: str | None = None
    origin: Origin | None = None
    deleted: bool = False
    # git history: is the secret still in HEAD's version of the file, and in
    # how many commits was it seen (the finding is the first of them)
    present_in_head: bool | None = None
    occurrences: int | None = None
    # images: the base image this layer (or history entry) comes from, when known
    inherited: str | None = None
    # registry sweeps read from a store: when the secret was first and last
    # seen at this place (ISO 8601 UTC), and whether the newest tag of the
    # repository still carries it (None: not known, e.g. a single image scan)
    first_seen: str | None = None
    last_seen: str | None = None
    in_newest_tag: bool | None = None

    def identity(self) -> tuple[object, ...]:
        """Location without line and column: lines move, the place does not."""
        return (self.surface, self.path, self.commit, self.image, self.layer, self.origin)

    def at(self, line: int | None, column: int | None = None) -> Location:
        return replace(self, line=line, column=column)


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: RuleId  # persisted in baselines: never renamed
    severity: Severity
    confidence: Confidence
    location: Location
    fingerprint: str
    redacted: str
    message: str
    remediation: str
    secret: SecretValue = field(repr=False, compare=False)
    # The scanned text itself says the value is made up (a test's deliberately wrong
    # input, `nonMatchingToken = "…"` in a test file): never reported; the policy
    # counts it with documented examples (`ScanStats.suppressed_examples`).
    made_up: bool = field(default=False, compare=False)

    @property
    def identity(self) -> tuple[object, ...]:
        return (self.rule_id, self.location.identity(), self.fingerprint)

    @property
    def has_secret(self) -> bool:
        """False for a finding about a file's presence (a credential file a COPY puts
        into an image): it carries no value, and its fingerprint is the sha256 of
        `context:<path>`, which names the file. Reports then omit `secret`."""
        return bool(self.secret.raw)


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something that could not be read; reported, never silently dropped."""

    target: str
    reason: str
    # True when content that could hold a secret was not read (unreadable,
    # truncated, over a size or depth bound): the exit code is then 3. False
    # for a note about something that holds nothing to read, or that the user
    # chose to leave out (a device in a layer, a managed secret file,
    # --skip-inherited): reported, and the scan still counts as complete.
    error: bool = True


@dataclass(slots=True)
class ScanStats:
    files: int = 0
    bytes: int = 0  # read and run through the rules
    bytes_skipped: int = 0  # passed over unread: binary files, files over the size bound
    duration_s: float = 0.0
    skipped_binary: int = 0
    skipped_excluded: int = 0
    suppressed_inline: int = 0
    suppressed_baseline: int = 0
    # documented example credentials (values.KNOWN_EXAMPLES) and made-up test values
    suppressed_examples: int = 0

    def add(self, other: ScanStats) -> None:
        for name in self.__slots__:
            if name != "duration_s":
                setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)

    def extend(self, other: ScanResult) -> None:
        self.findings.extend(other.findings)
        self.skipped.extend(other.skipped)
        self.stats.add(other.stats)

    def sort(self) -> None:
        self.findings.sort(
            key=lambda f: (
                f.location.surface,
                f.location.path or "",
                f.location.line or 0,
                f.location.column or 0,
                f.rule_id,
            )
        )
        self.skipped.sort(key=lambda s: s.target)
