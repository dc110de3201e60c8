"""HTML: one self-contained page for people: an overview, then one row per
distinct secret (by fingerprint), each expandable to every place that holds it.

The page needs nothing from the network and runs under its own strict
Content-Security-Policy: no source but the page's one style sheet and one
script, allowed by their sha256 hashes (no 'unsafe-inline'). The rows are
rendered in the page, so it reads without the script; the script only sorts
and filters them, with the keys it needs in a `<script type="application/json">`
block. Text from scanned input (file names, image names, messages) is
HTML-escaped in the page, and `<`, `>` and `&` are escaped in the JSON block,
so a file named `</script><img ...>` stays text. Only redacted values and
fingerprints are written, never a secret (unless --show-secrets, and then only
in the visible value cell, never in the data block or an attribute).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from leakguard.formats import printable, shown_value, where
from leakguard.models import Finding, ScanResult, Severity

if TYPE_CHECKING:
    from leakguard.formats import ReportOptions

SEVERITIES = sorted(Severity, key=lambda s: s.rank, reverse=True)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_PLATFORM = re.compile(r"(?P<name>.*) \((?P<platform>[^()]*)\)")
_SCHEME = re.compile(r"(?:docker-daemon|docker-archive|oci):")


@functools.cache
def asset(name: str) -> str:
    """The page's style sheet or script, shipped beside this module."""
    from importlib import resources

    text = resources.files("leakguard.formats").joinpath(name).read_text("utf-8")
    if re.search(r"</(?:style|script)", text, re.I):  # would end its element early
        raise ValueError(f"{name} may not hold an end tag")
    return text


def csp_source(text: str) -> str:
    """A CSP hash source for an inline element whose content is exactly `text`."""
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


def content_security_policy(style: str, script: str) -> str:
    return (
        f"default-src 'none'; style-src {csp_source(style)}; script-src {csp_source(script)}; "
        "base-uri 'none'; form-action 'none'"
    )


def clean(text: str) -> str:
    """Printable text: bytes that were not UTF-8 as `\\xNN`, control characters too."""
    text = printable(text)
    if text.isprintable():  # most names: nothing to replace
        return text
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def esc(text: object) -> str:
    """Text for the page's content or a quoted attribute."""
    return html.escape(clean(str(text)), quote=True)


def script_json(value: object) -> str:
    """JSON for a `<script type="application/json">` block: no `<`, `>` or `&`
    is left in it, so no text in it can end the element or open a comment."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@functools.lru_cache(maxsize=4096)  # a sweep names each image once per finding in it
def image_parts(name: str) -> tuple[str, str | None, str | None]:
    """(repository, tag and/or digest, platform) of an image's name as reported:
    `host:5000/team/app:1.2 (linux/arm64)` -> (`host:5000/team/app`, `1.2`, `linux/arm64`)."""
    platform = None
    match = _PLATFORM.fullmatch(name)
    if match:
        name, platform = match["name"], match["platform"]
    scheme = _SCHEME.match(name)
    prefix = scheme.group() if scheme else ""
    name = name[len(prefix) :]
    digest = None
    at = name.rfind("@")
    if at > 0 and name[at + 1 :].startswith(("sha256:", "sha512:")):
        name, digest = name[:at], name[at + 1 :]
    tag = None
    colon = name.rfind(":")
    if colon > name.rfind("/") and colon > 0:
        name, tag = name[:colon], name[colon + 1 :]
    ref = "@".join(filter(None, (tag, digest[:19] if digest else None))) or None
    return prefix + name, ref, platform


def render(result: ScanResult, options: ReportOptions) -> str:
    rows = group(result.findings)
    style, script = asset("html_report.css"), asset("html_report.js")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        f'content="{content_security_policy(style, script)}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>leakguard report</title>",
        f"<style>{style}</style>",
        "</head>",
        "<body>",
        _header(result, options),
        _overview(result, rows, options),
        _secrets(rows, options),
        _skipped(result),
        '<script type="application/json" id="leakguard-data">'
        f"{script_json(_data(rows, options))}</script>",
        f"<script>{script}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


# -- grouping -------------------------------------------------------------------


def group(findings: Sequence[Finding]) -> list[list[Finding]]:
    """Findings by fingerprint (one secret, however many places hold it), worst
    first, then the most widespread, then by where the first one is."""
    by_fingerprint: dict[str, list[Finding]] = {}
    for finding in findings:
        by_fingerprint.setdefault(finding.fingerprint, []).append(finding)
    rows = [sorted(fs, key=_place_order) for fs in by_fingerprint.values()]
    rows.sort(key=lambda fs: (-_worst(fs).rank, -len(fs), where(fs[0])))
    return rows


def _place_order(f: Finding) -> tuple[str, str, str, int, str]:
    loc = f.location
    return (loc.image or "", loc.path or "", loc.commit or "", loc.line or 0, f.rule_id)


def _worst(findings: Sequence[Finding]) -> Severity:
    return max((f.severity for f in findings), key=lambda s: s.rank)


def _rules(findings: Sequence[Finding]) -> list[str]:
    return list(dict.fromkeys(str(f.rule_id) for f in findings))


def _repositories(findings: Sequence[Finding]) -> list[str]:
    return sorted({image_parts(f.location.image)[0] for f in findings if f.location.image})


def _newest(findings: Sequence[Finding]) -> bool | None:
    """Still in a repository's newest tag: True if any place is, False if every
    place that is known is not, None when none is known."""
    known = [f.location.in_newest_tag for f in findings if f.location.in_newest_tag is not None]
    return any(known) if known else None


def _yes_no(value: bool | None) -> str:
    return "yes" if value else "no" if value is not None else "not known"


# -- page parts -------------------------------------------------------------------


def _header(result: ScanResult, options: ReportOptions) -> str:
    from leakguard.formats.text import summary

    when = options.finished().strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        "<header><h1>leakguard report</h1>"
        f'<p id="summary">{esc(summary(result))}</p>'
        f'<p class="muted">{esc(when)}, leakguard {esc(options.tool_version)}</p></header>'
    )


def _overview(result: ScanResult, rows: list[list[Finding]], options: ReportOptions) -> str:
    findings = result.findings
    locations = [f.location for f in findings]
    images = {loc.image for loc in locations if loc.image}
    facts: list[tuple[str, str, object]] = [
        ("findings", "findings", len(findings)),
        ("secrets", "distinct secrets", len(rows)),
    ]
    if images:
        repositories = {image_parts(i)[0] for i in images}
        layers = {loc.layer for loc in locations if loc.layer}
        facts += [
            ("repositories", "repositories with findings", len(repositories)),
            ("images", "images with findings", len(images)),
            ("layers", "layers with findings", len(layers)),
        ]
    commits = {loc.commit for loc in locations if loc.commit}
    if commits:
        facts.append(("commits", "commits with findings", len(commits)))
    # A file in a layer once, however many images hold the layer.
    places = {(loc.layer or loc.image, loc.path) for loc in locations if loc.path}
    facts += [
        ("files-with-findings", "files with findings", len(places)),
        ("files", "files read", result.stats.files),
        ("mb", "MB read", f"{result.stats.bytes / 1e6:.1f}"),
    ]
    unread = sum(s.error for s in result.skipped)
    if unread:
        facts.append(("unread", "could not be read", unread))
    if len(result.skipped) > unread:
        facts.append(("notes", "skipped", len(result.skipped) - unread))
    facts.append(("duration", "seconds", f"{result.stats.duration_s:.2f}"))
    panels = [_facts_panel("Findings", facts)]
    if options.facts:
        run = [(f"run-{i}", label, value) for i, (label, value) in enumerate(options.facts)]
        panels.append(_facts_panel("This run", run))
    panels.append(_severity_panel(findings, rows))
    if findings:
        panels.append(_rules_panel(findings, rows))
    return f'<section><h2>Overview</h2><div class="overview">{"".join(panels)}</div></section>'


def _facts_panel(title: str, facts: Sequence[tuple[str, str, object]]) -> str:
    items = "".join(
        f'<dt>{esc(label)}</dt><dd id="n-{esc(key)}">{esc(value)}</dd>'
        for key, label, value in facts
    )
    return f'<div class="panel"><h3>{esc(title)}</h3><dl class="facts">{items}</dl></div>'


def _severity_panel(findings: Sequence[Finding], rows: list[list[Finding]]) -> str:
    counts = Counter(f.severity for f in findings)
    secrets = Counter(_worst(fs) for fs in rows)
    top = max(counts.values(), default=0) or 1
    bars = []
    for i, severity in enumerate(SEVERITIES):
        y = 6 + i * 26
        width = round(220 * counts[severity] / top)
        bars.append(
            f'<text x="0" y="{y + 13}">{severity.value}</text>'
            f'<rect class="track" x="70" y="{y}" width="220" height="18" rx="3"></rect>'
            f'<rect class="fill-{severity.value}" x="70" y="{y}" width="{width}" height="18" '
            'rx="3"></rect>'
            f'<text x="298" y="{y + 13}">{counts[severity]}</text>'
        )
    chart = (
        '<svg class="chart" viewBox="0 0 340 110" role="img" aria-labelledby="chart-title">'
        '<title id="chart-title">Findings by severity</title>' + "".join(bars) + "</svg>"
    )
    table = "".join(
        f'<tr data-severity="{s.value}"><td><span class="sev sev-{s.value}">{s.value}</span></td>'
        f'<td class="num" data-of="findings">{counts[s]}</td>'
        f'<td class="num" data-of="secrets">{secrets[s]}</td></tr>'
        for s in SEVERITIES
    )
    return (
        '<div class="panel"><h3>By severity</h3>'
        f"{chart}"
        '<table id="by-severity"><thead><tr><th>severity</th><th class="num">findings</th>'
        f'<th class="num">secrets</th></tr></thead><tbody>{table}</tbody></table></div>'
    )


def _rules_panel(findings: Sequence[Finding], rows: list[list[Finding]]) -> str:
    counts = Counter(str(f.rule_id) for f in findings)
    secrets = Counter(rule for fs in rows for rule in _rules(fs))
    severity = {str(f.rule_id): f.severity for f in findings}
    body = "".join(
        f'<tr data-rule="{esc(rule)}"><td><code>{esc(rule)}</code></td>'
        f'<td><span class="sev sev-{severity[rule].value}">{severity[rule].value}</span></td>'
        f'<td class="num" data-of="findings">{n}</td>'
        f'<td class="num" data-of="secrets">{secrets[rule]}</td></tr>'
        for rule, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return (
        '<div class="panel rules"><h3>By rule</h3><table id="by-rule"><thead><tr><th>rule</th>'
        '<th>severity</th><th class="num">findings</th><th class="num">secrets</th></tr>'
        f"</thead><tbody>{body}</tbody></table></div>"
    )


def _secrets(rows: list[list[Finding]], options: ReportOptions) -> str:
    if not rows:
        return '<section><h2>Secrets</h2><p class="empty">No secrets found.</p></section>'
    with_repos = any(f.location.image for fs in rows for f in fs)
    with_newest = any(_newest(fs) is not None for fs in rows)
    heads = [("severity", "Severity"), ("rule", "Rule"), ("value", "Value"),
             ("where", "Where"), ("count", "Places")]  # fmt: skip
    if with_repos:
        heads.append(("repos", "Repositories"))
    if with_newest:
        heads.append(("newest", "In newest tag"))
    head = "".join(
        f'<span><button type="button" data-sort="{key}">{esc(label)}</button></span>'
        for key, label in heads
    )
    body = "".join(_row(i, fs, options, with_repos, with_newest) for i, fs in enumerate(rows, 1))
    return (
        f'<section class="c{len(heads)}"><h2>Secrets</h2>'
        f"{_controls(rows, with_repos, with_newest)}"
        f'<div class="head grid" id="secrets-head">{head}</div>'
        f'<div id="secrets">{body}</div></section>'
    )


def _controls(rows: list[list[Finding]], with_repos: bool, with_newest: bool) -> str:
    def select(ident: str, label: str, choices: Sequence[tuple[str, str]]) -> str:
        options = "".join(f'<option value="{esc(v)}">{esc(text)}</option>' for v, text in choices)
        return f'<label>{esc(label)}<select id="{ident}">{options}</select></label>'

    severities = [("", "any")] + [(str(s.rank), f"{s.value} and above") for s in SEVERITIES]
    rule_counts = Counter(rule for fs in rows for rule in _rules(fs))
    rules = [("", "any")] + [(r, f"{r} ({n})") for r, n in sorted(rule_counts.items())]
    fields = [select("f-severity", "Severity", severities), select("f-rule", "Rule", rules)]
    if with_repos:
        repo_counts = Counter(repo for fs in rows for repo in _repositories(fs))
        repos = [("", "any")] + [(r, f"{r} ({n})") for r, n in sorted(repo_counts.items())]
        fields.append(select("f-repo", "Repository", repos))
    if with_newest:
        newest = [("", "any"), ("yes", "still in the newest tag"),
                  ("no", "not in the newest tag"), ("unknown", "not known")]  # fmt: skip
        fields.append(select("f-newest", "Newest tag", newest))
    fields.append(
        '<label>Search<input type="search" id="f-text" '
        'placeholder="path, image, commit, fingerprint"></label>'
    )
    buttons = (
        '<button type="button" id="expand">Expand all</button>'
        '<button type="button" id="collapse">Collapse all</button>'
    )
    return (
        f'<div class="controls" id="controls" hidden>{"".join(fields)}{buttons}'
        '<span id="shown"></span></div>'
    )


def _row(
    index: int, fs: list[Finding], options: ReportOptions, with_repos: bool, with_newest: bool
) -> str:
    worst = _worst(fs).value
    more = f" and {len(fs) - 1} more" if len(fs) > 1 else ""
    cells = [
        f'<span><span class="sev sev-{worst}">{worst}</span></span>',
        f'<span class="mono">{esc(", ".join(_rules(fs)))}</span>',
        f"<span><code>{esc(shown_value(fs[0], options))}</code></span>",
        f"<span>{esc(where(fs[0]))}{esc(more)}</span>",
        f'<span class="count">{len(fs)}</span>',
    ]
    if with_repos:
        repos = _repositories(fs)
        extra = f" +{len(repos) - 1}" if len(repos) > 1 else ""
        cells.append(f"<span>{esc(repos[0]) if repos else ''}{esc(extra)}</span>")
    if with_newest:
        newest = _newest(fs)
        css = "yes" if newest else "no"
        cells.append(f'<span class="{css}">{esc(_yes_no(newest))}</span>')
    return (
        f'<details class="secret" id="s{index}"><summary class="grid">{"".join(cells)}</summary>'
        f'<div class="body">{_row_body(fs)}</div></details>'
    )


def _row_body(fs: list[Finding]) -> str:
    remedies = {str(f.rule_id): f.remediation for f in fs}
    lines = [f'<p>Fingerprint <code class="fp">sha256:{esc(fs[0].fingerprint)}</code></p>']
    for rule, remedy in remedies.items():
        lines.append(f'<h3><code>{esc(rule)}</code></h3><p class="remedy">{esc(remedy)}</p>')
    columns = [(title, get) for title, get in _COLUMNS if any(get(f) for f in fs)]
    if len(remedies) > 1:
        columns.insert(0, ("Rule", lambda f: (str(f.rule_id), None)))
    head = "".join(f"<th>{esc(title)}</th>" for title, _ in columns)
    body = "".join("<tr>" + "".join(_cell(get(f)) for _, get in columns) + "</tr>" for f in fs)
    lines.append(
        f'<table class="locations"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )
    return "".join(lines)


Cell = tuple[str, str | None] | None  # (text, full text for a tooltip), or nothing


def _cell(cell: Cell) -> str:
    if cell is None:
        return "<td></td>"
    text, full = cell
    title = f' title="{esc(full)}"' if full else ""
    return f"<td{title}>{esc(text)}</td>"


def _part(index: int) -> Callable[[Finding], Cell]:
    def get(f: Finding) -> Cell:
        if not f.location.image:
            return None
        value = image_parts(f.location.image)[index]
        return (value, None) if value else None

    return get


def _short(value: str | None, keep: int) -> Cell:
    return (value[:keep], value) if value else None


def _notes(f: Finding) -> Cell:
    loc = f.location
    notes = []
    if loc.deleted:
        notes.append("deleted in a later layer" if loc.image else "deleted")
    if loc.inherited:
        notes.append(f"inherited from {loc.inherited}")
    if loc.present_in_head is not None:
        notes.append("still in HEAD" if loc.present_in_head else "not in HEAD")
    if loc.occurrences and loc.occurrences > 1:
        notes.append(f"in {loc.occurrences} commits")
    return ("; ".join(notes), None) if notes else None


def _in_newest(f: Finding) -> Cell:
    newest = f.location.in_newest_tag
    return None if newest is None else (_yes_no(newest), None)


def _value(value: object) -> Cell:
    return (str(value), None) if value is not None else None


_COLUMNS: list[tuple[str, Callable[[Finding], Cell]]] = [
    ("Repository", _part(0)),
    ("Tag", _part(1)),
    ("Platform", _part(2)),
    ("Layer", lambda f: _short(f.location.layer, 19)),
    ("File", lambda f: _value(f.location.path)),
    ("Line", lambda f: _value(f.location.line)),
    ("Commit", lambda f: _short(f.location.commit, 12)),
    ("Date", lambda f: _value(f.location.date)),
    ("Origin", lambda f: _value(f.location.origin.value if f.location.origin else None)),
    ("Notes", _notes),
    ("In newest tag", _in_newest),
    ("First seen", lambda f: _value(f.location.first_seen)),
    ("Last seen", lambda f: _value(f.location.last_seen)),
    ("Message", lambda f: _value(f.message)),
]


def _skipped(result: ScanResult) -> str:
    out = []
    for title, ident, error in (("Could not read", "unread", True), ("Skipped", "notes", False)):
        these = [s for s in result.skipped if s.error is error]
        if these:
            items = "".join(
                f"<li><code>{esc(s.target)}</code>: {esc(s.reason)}</li>" for s in these
            )
            out.append(
                f"<section><h2>{esc(title)} ({len(these)})</h2>"
                f'<ul class="skipped" id="skipped-{ident}">{items}</ul></section>'
            )
    return "".join(out)


# -- data for the script --------------------------------------------------------------


def _data(rows: list[list[Finding]], options: ReportOptions) -> dict[str, Any]:
    """Sort and filter keys, one entry per row: no value, only its redacted form."""
    secrets = []
    for order, fs in enumerate(rows, 1):
        searched = {
            str(part)
            for f in fs
            for part in (f.location.path, f.location.image, f.location.commit, f.rule_id)
            if part
        }
        secrets.append(
            {
                "id": f"s{order}",
                "order": order,
                "severity": _worst(fs).value,
                "rank": _worst(fs).rank,
                "rules": [clean(r) for r in _rules(fs)],
                "repos": [clean(r) for r in _repositories(fs)],
                "count": len(fs),
                "newest": _newest(fs),
                "redacted": clean(fs[0].redacted),
                "where": clean(where(fs[0])),
                "text": clean(" ".join([fs[0].fingerprint, *sorted(searched)]).lower()),
            }
        )
    return {"tool": "leakguard", "version": options.tool_version, "secrets": secrets}
