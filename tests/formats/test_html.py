"""The HTML report as a document: self-contained, under its own strict CSP, one
row per secret, and text from scanned input kept as text (the browser tests in
test_html_browser.py load it in a real Chromium)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from leakguard.formats import Format, ReportOptions, render
from leakguard.formats.html_report import image_parts
from leakguard.models import Location, Origin, ScanResult, Skipped, Surface
from tests.conftest import GITHUB_PAT, PASSWORD, STRIPE_KEY
from tests.formats.results import LAYER, STRIPE, leaky_result, make_finding
from tests.test_cli import run

HOSTILE = "</script><img src=x onerror=window.pwned=1>"


class Page(HTMLParser):
    """Every element with its attributes, and the text of each <script> and <style>."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self._open: tuple[str, dict[str, str | None]] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open = (tag, dict(attrs))
            self._data: list[str] = []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._data.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and tag == self._open[0]:
            text = "".join(self._data)
            if tag == "script":
                self.scripts.append((self._open[1], text))
            else:
                self.styles.append(text)
            self._open = None

    def meta_csp(self) -> str:
        (content,) = [
            a["content"]
            for tag, a in self.elements
            if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"
        ]
        assert content is not None
        return content

    def data(self) -> dict[str, object]:
        (block,) = [text for a, text in self.scripts if a.get("type") == "application/json"]
        loaded: dict[str, object] = json.loads(block)
        return loaded


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def html(result: ScanResult, **options: object) -> str:
    return render(Format.HTML, result, ReportOptions(**options))  # type: ignore[arg-type]


def test_the_page_allows_only_its_own_style_and_script_by_hash() -> None:
    page = Page(html(leaky_result()))
    directives = dict(d.strip().split(" ", 1) for d in page.meta_csp().split(";"))
    assert directives["default-src"] == "'none'"
    assert "unsafe" not in page.meta_csp()
    (style,) = page.styles
    (code,) = [text for a, text in page.scripts if "type" not in a]
    assert directives["style-src"] == sha256_source(style)
    assert directives["script-src"] == sha256_source(code)
    # The CSP comes before anything it governs.
    tags = [tag for tag, _ in page.elements]
    assert tags.index("meta", tags.index("head")) < tags.index("style")


def test_the_page_needs_nothing_from_outside() -> None:
    text = html(leaky_result())
    page = Page(text)
    assert not [tag for tag, _ in page.elements if tag in ("link", "img", "iframe", "object")]
    for _tag, attrs in page.elements:
        assert not {"src", "href", "style"} & attrs.keys()
        assert not [name for name in attrs if name.startswith("on")]
    for sheet in page.styles:
        assert "url(" not in sheet and "@import" not in sheet


def test_one_row_per_secret_with_every_place_that_holds_it() -> None:
    base = leaky_result()
    shared = make_finding(
        "github-pat", base.findings[0].severity, Location(), GITHUB_PAT, "GitHub token", "Revoke."
    )
    images = [f"registry.example.com/team/app{n}:{tag}" for n in range(20) for tag in ("1", "2")]
    placed = [
        replace(
            shared,
            location=Location(
                Surface.IMAGE,
                path="/etc/base.env",
                line=1,
                image=image,
                layer=LAYER,
                origin=Origin.LAYER_FILE,
            ),
        )  # fmt: skip
        for image in images
    ]
    result = ScanResult(findings=[*base.findings, *placed])
    page = Page(html(result))
    rows = [a for tag, a in page.elements if tag == "details"]
    assert len(rows) == len({f.fingerprint for f in result.findings})
    data = page.data()["secrets"]
    assert isinstance(data, list)
    (row,) = [s for s in data if s["rules"] == ["github-pat"] and s["count"] == 40]
    assert len(row["repos"]) == 20 and row["repos"][0] == "registry.example.com/team/app0"
    text = html(result)
    section = text.split(f'id="{row["id"]}"', 1)[1].split("</details>", 1)[0]
    assert section.count("<tr>") == 1 + 40  # the head, then one per place
    assert "registry.example.com/team/app19" in section and "sha256:0a1b2c3d0a1b" in section


def test_a_hostile_name_stays_text() -> None:
    base = leaky_result()
    hostile = [
        replace(base.findings[0], location=Location(path=f"app/{HOSTILE}.env", line=1)),
        replace(
            base.findings[1],
            location=Location(Surface.IMAGE, path="/x", image='r.example/a:1"><svg onload=x()>'),
            message="<!-- <script>window.pwned=1</script>",
        ),
    ]
    result = ScanResult(findings=hostile, skipped=[Skipped(f"{HOSTILE}.tar", "<b>truncated</b>")])
    text = html(result)
    page = Page(text)
    assert len(page.scripts) == 2 and len(page.styles) == 1
    assert not [tag for tag, _ in page.elements if tag in ("img", "b")]
    assert [tag for tag, _ in page.elements].count("svg") == 1  # the chart
    for _tag, attrs in page.elements:
        assert not [name for name in attrs if name.startswith("on")]
    data = page.data()["secrets"]
    assert isinstance(data, list)
    assert any(HOSTILE in s["where"] for s in data)
    (block,) = [t for a, t in page.scripts if a.get("type") == "application/json"]
    assert "<" not in block and ">" not in block


def test_no_secret_in_the_page_nor_in_its_data(tmp_path: Path, leaky_tree: Path) -> None:
    code, out, err = run("scan", str(leaky_tree), "-f", "html", "--no-baseline")
    assert code == 1, err
    for secret in (GITHUB_PAT, STRIPE_KEY, PASSWORD):
        assert secret not in out and secret not in err
    code, shown, _ = run("scan", str(leaky_tree), "-f", "html", "--no-baseline", "--show-secrets")
    assert code == 1 and GITHUB_PAT in shown  # asked for: in the value cell only
    assert GITHUB_PAT not in json.dumps(Page(shown).data())
    assert STRIPE not in html(leaky_result(), show_secrets=False)


def test_exit_codes_do_not_depend_on_the_format(tmp_path: Path, leaky_tree: Path) -> None:
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "a.txt").write_text("nothing here\n")
    for fmt in ("text", "html"):
        assert run("scan", str(clean), "-f", fmt)[0] == 0
        assert run("scan", str(leaky_tree), "-f", fmt, "--no-baseline")[0] == 1
        assert run("scan", str(tmp_path / "missing"), "-f", fmt)[0] == 3
    report = tmp_path / "report.html"
    code, out, err = run("scan", str(leaky_tree), "-f", "html", "-o", str(report))
    assert code == 1 and out == "" and "3 findings" in err
    assert report.read_text().startswith("<!DOCTYPE html>")


def test_an_empty_report_says_so_and_has_no_controls() -> None:
    text = html(ScanResult())
    assert "No secrets found." in text
    assert 'id="controls"' not in text and Page(text).data()["secrets"] == []


def test_skipped_entries_are_listed() -> None:
    result = ScanResult(
        skipped=[Skipped("big.bin", "over --max-file-size"), Skipped("dev", "a device", False)]
    )
    text = html(result)
    assert 'id="skipped-unread"' in text and "over --max-file-size" in text
    assert 'id="skipped-notes"' in text and "a device" in text


def test_facts_of_the_run_are_shown() -> None:
    text = html(ScanResult(), facts=(("layers read", "12"), ("tags", "30")))
    assert '<dt>layers read</dt><dd id="n-run-0">12</dd>' in text


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("127.0.0.1:5000/fleet/app1:latest", ("127.0.0.1:5000/fleet/app1", "latest", None)),
        ("host/team/app:1.2 (linux/arm64)", ("host/team/app", "1.2", "linux/arm64")),
        ("localhost:5000/app", ("localhost:5000/app", None, None)),
        ("h/app@sha256:" + "ab" * 32, ("h/app", "sha256:abababababab", None)),
        ("h/app:1@sha256:" + "ab" * 32, ("h/app", "1@sha256:abababababab", None)),
        ("oci:/tmp/layout:v1", ("oci:/tmp/layout", "v1", None)),
        ("docker-daemon:shop/web:2", ("docker-daemon:shop/web", "2", None)),
        ("leaky.tar@0", ("leaky.tar@0", None, None)),
    ],
)
def test_image_names_split_into_repository_tag_and_platform(
    name: str, parts: tuple[str, str | None, str | None]
) -> None:
    assert image_parts(name) == parts
