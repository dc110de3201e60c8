"""The engine's work grows with its input, not with its square: many candidates
on the same bytes, many hits on one long line, many key headers."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any, SupportsIndex

from leakguard.engine import Engine, _Candidate, _resolve_overlaps
from leakguard.models import Finding, Location
from leakguard.rules import RuleSet
from leakguard.rules.generic import KEYWORD_SECRET, PRIVATE_KEY
from tests.conftest import PASSWORD, fake


class _Counted(int):
    """An offset that counts how often it is compared."""

    compared = 0

    def _count(self) -> None:
        _Counted.compared += 1

    def __lt__(self, other: Any) -> bool:
        self._count()
        return int(self) < other

    def __le__(self, other: Any) -> bool:
        self._count()
        return int(self) <= other

    def __gt__(self, other: Any) -> bool:
        self._count()
        return int(self) > other

    def __ge__(self, other: Any) -> bool:
        self._count()
        return int(self) >= other


def _candidates(spans: list[tuple[int, int, int]], finding: Finding) -> list[_Candidate]:
    return [
        _Candidate(_Counted(start), _Counted(end), rule, replace(finding, fingerprint=str(i)))
        for i, (start, end, rule) in enumerate(spans)
    ]


def _by_rule_order(spans: list[tuple[int, int, int]]) -> list[int]:
    """The rule the resolution follows, in its plainest words: in rule order (then
    by offset), keep each candidate that overlaps none kept before it."""
    kept: list[int] = []
    order = sorted(range(len(spans)), key=lambda i: (spans[i][2], spans[i][0]))
    for i in order:
        start, end, _ = spans[i]
        if all(end <= spans[k][0] or start >= spans[k][1] for k in kept):
            kept.append(i)
    return sorted(kept, key=lambda i: spans[i][0])


def _one_finding(scan_text: Any) -> Finding:
    [finding] = scan_text(f'db_password = "{PASSWORD}"\n')
    return finding


def test_overlap_resolution_keeps_what_rule_order_says(scan_text):
    finding = _one_finding(scan_text)
    rng = random.Random(5)
    for _ in range(200):
        spans = []
        for _ in range(rng.randint(0, 30)):
            start = rng.randint(0, 80)
            spans.append((start, start + rng.randint(1, 12), rng.randint(0, 4)))
        spans.sort(key=lambda s: s[0])  # the engine hands candidates over by offset
        kept = _resolve_overlaps(_candidates(spans, finding))
        assert [f.fingerprint for f in kept] == [str(i) for i in _by_rule_order(spans)]


def test_overlap_resolution_is_not_quadratic_in_candidates(scan_text):
    # 4,000 candidates of five rules, each overlapping its neighbours: one chain
    # of overlaps. Comparing each with every kept one is millions of comparisons.
    finding = _one_finding(scan_text)
    n = 4000
    spans = [(i * 3, i * 3 + 5, (i * 7) % 5) for i in range(n)]
    _Counted.compared = 0
    kept = _resolve_overlaps(_candidates(spans, finding))
    assert [f.fingerprint for f in kept] == [str(i) for i in _by_rule_order(spans)]
    assert _Counted.compared < 60 * n


class _CountingBytes(bytes):
    """Bytes that count how many bytes their find() and rfind() look through."""

    looked = 0

    def _span(self, start: SupportsIndex | None, end: SupportsIndex | None) -> None:
        lo = 0 if start is None else max(0, int(start))
        hi = len(self) if end is None else min(len(self), int(end))
        _CountingBytes.looked += max(0, hi - lo)

    def find(self, sub: Any, start: Any = None, end: Any = None) -> int:
        self._span(start, end)
        return super().find(sub, start, end)

    def rfind(self, sub: Any, start: Any = None, end: Any = None) -> int:
        self._span(start, end)
        return super().rfind(sub, start, end)


def test_many_hits_on_one_long_line_look_at_each_byte_a_few_times():
    # One 2 MB line with an assignment every 8 KB: every line end looked for from
    # every hit would be gigabytes of searching.
    chunk = "x" * 8000
    values = [fake("", 16, seed=i) for i in range(256)]
    line = "".join(f'{chunk} password="{v}" ' for v in values)
    data = _CountingBytes(line.encode())
    engine = Engine(RuleSet([KEYWORD_SECRET]))
    _CountingBytes.looked = 0
    found = engine.scan_bytes(data, Location(path="blob.txt"))
    assert [f.secret.reveal() for f in found] == values
    assert {f.location.line for f in found} == {1}
    assert _CountingBytes.looked < 20 * len(data)


def test_private_key_late_on_a_long_line_is_found():
    # The key block starts 100 KB into its first line (a one-line JSON document
    # before it): its window is taken around the header, not at the line's start.
    begin, end = "-----BEGIN RSA PRIVATE" + " KEY-----", "-----END RSA PRIVATE" + " KEY-----"
    body = "\n".join(fake("", 64, seed=i) for i in range(20))
    text = "{" + '"k": "v", ' * 10_000 + "}" + f"{begin}\n{body}\n{end}\n"
    engine = Engine(RuleSet([PRIVATE_KEY]))
    [finding] = engine.scan_bytes(text.encode(), Location(path="id_rsa"))
    assert finding.location.line == 1
    assert finding.secret.reveal() == f"{begin}\n{body}\n{end}"


def test_a_key_body_stops_at_the_next_header():
    # Each header looks ahead for its END only up to the next header: text full of
    # headers with no END costs its length, not 60,000 bytes a header. The key
    # after them is reported alone, from its own header.
    begin, end = "-----BEGIN RSA PRIVATE" + " KEY-----", "-----END RSA PRIVATE" + " KEY-----"
    body = "\n".join(fake("", 64, seed=i) for i in range(20))
    text = f"{begin} " * 1000 + f"\n{begin}\n{body}\n{end}\n"
    engine = Engine(RuleSet([PRIVATE_KEY]))
    [finding] = engine.scan_bytes(text.encode(), Location(path="id_rsa"))
    assert finding.secret.reveal() == f"{begin}\n{body}\n{end}"
    assert finding.location.line == 2


def test_a_name_is_read_back_from_the_operator_not_from_every_byte_before_it():
    # A value assigned after a long run of name characters (base64 on a minified
    # line) is checked from the start of the run: the same name, and one attempt.
    from leakguard.rules.generic import _name_before

    text = b"A" * 150 + b" token= "
    match = _name_before(text, len(text))
    assert match is not None and match.group(1) == b"token"
    text = b"x" * 150 + b"_token = '"
    match = _name_before(text, len(text))
    assert match is not None and match.group(1) == b"x" * 150 + b"_token"


def test_findings_past_the_bound_are_cut_and_said_so():
    # 12,000 assignments, one a line: the first MAX_FINDINGS are kept, in order,
    # and the cut is reported with the line it starts at.
    import io

    from leakguard.engine import MAX_FINDINGS

    values = [fake("", 16, seed=i) for i in range(MAX_FINDINGS + 2000)]
    data = "".join(f'password = "{v}"\n' for v in values).encode()
    engine = Engine(RuleSet([KEYWORD_SECRET]))
    found = engine.scan_bytes(data, Location(path="dump.env"))
    assert [f.secret.reveal() for f in found] == values[:MAX_FINDINGS]
    assert engine.take_gave_up() == [
        f"stopped at {MAX_FINDINGS:,} findings (a bound): nothing from line "
        f"{MAX_FINDINGS + 1} on is reported"
    ]
    # A stream stops being read once the bound is reached.
    read = 0

    def count(n: int) -> None:
        nonlocal read
        read += n

    streamed = list(
        engine.scan_stream(
            io.BytesIO(data * 3), Location(path="dump.env"), chunk_size=64 * 1024, on_bytes=count
        )
    )
    assert [f.secret.reveal() for f in streamed] == values[:MAX_FINDINGS]
    assert len(engine.take_gave_up()) == 1
    assert read < len(data)
