"""The HTML report in a real browser: Debian's chromium driven by Playwright,
offline, loading reports the real command line wrote (a leaky tree, a registry
sweep, a sweep store). Each page must run without a console error or a CSP
violation, show the counts the JSON report of the same scan gives, filter,
sort and expand, and hold no planted secret anywhere. Screenshots go to
$LEAKGUARD_TEST_ARTEFACTS when set, else to a temporary folder."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from leakguard.detectors.image import ImageOptions
from leakguard.detectors.sweep import SweepOptions, sweep
from leakguard.formats import Format, ReportOptions, render
from leakguard.formats.html_report import image_parts
from leakguard.models import ScanResult
from tests.conftest import GITHUB_PAT, PASSWORD, STRIPE_KEY, fake
from tests.detectors.test_image import Spec, file, layer_tar, write_archive
from tests.services import chromium, registry  # noqa: F401
from tests.test_cli import run

pytestmark = pytest.mark.browser

SKOPEO = "/usr/bin/skopeo"
HOSTILE = "</script><img src=x onerror=window.pwned=1>"
HOSTILE_KEY = fake("gh" + "p_", 36, seed=1301)
SEVERITY_RANK = {"critical": 3, "high": 2, "medium": 1, "low": 0}

# Every CSP violation, seen by a listener that is in place before the page's
# first byte is parsed.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""
ATTRIBUTES = (
    "Array.from(document.querySelectorAll('*'))"
    ".flatMap((e) => Array.from(e.attributes).map((a) => a.value))"
)


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("LEAKGUARD_TEST_ARTEFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return Path(folder)
    return tmp_path_factory.mktemp("artefacts")


@dataclass
class Loaded:
    page: Any
    problems: list[str]

    def violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.__violations")
        return found

    def assert_clean(self) -> None:
        assert self.problems == [] and self.violations() == []

    def number(self, selector: str) -> int:
        return int(self.page.locator(selector).inner_text())

    def visible_rows(self) -> int:
        count: int = self.page.locator("details.secret:visible").count()
        return count

    def assert_no_secret(self, secrets: list[str]) -> None:
        content = self.page.content()
        attributes = "\n".join(self.page.evaluate(ATTRIBUTES))
        for secret in secrets:
            assert secret not in content
            assert secret not in attributes


@pytest.fixture
def load(chromium: Any) -> Iterator[Any]:  # noqa: F811
    contexts = []

    def open_page(path: Path) -> Loaded:
        context = chromium.new_context(
            offline=True, viewport={"width": 1400, "height": 1000}, java_script_enabled=True
        )
        contexts.append(context)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning") else None)  # fmt: skip
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request: {r.url}"))
        page.add_init_script(WATCH)
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        return Loaded(page, problems)

    yield open_page
    for context in contexts:
        context.close()


def by_fingerprint(report: dict[str, Any]) -> Counter[str]:
    return Counter(f["fingerprint"] for f in report["findings"])


def rows_shown(loaded: Loaded) -> dict[str, int]:
    """fingerprint -> the count its row shows, for every row."""
    out = {}
    for row in loaded.page.locator("details.secret").all():
        fp = row.locator(".fp").text_content().removeprefix("sha256:")
        out[fp] = int(row.locator(".count").inner_text())
    return out


def assert_counts_match(loaded: Loaded, report: dict[str, Any]) -> None:
    findings = report["findings"]
    assert loaded.number("#n-findings") == len(findings)
    assert loaded.number("#n-secrets") == len(by_fingerprint(report))
    severities = Counter(f["severity"] for f in findings)
    for severity in SEVERITY_RANK:
        cell = f'#by-severity tr[data-severity="{severity}"] td[data-of="findings"]'
        assert loaded.number(cell) == severities[severity], severity
    for rule, n in Counter(f["rule_id"] for f in findings).items():
        assert loaded.number(f'#by-rule tr[data-rule="{rule}"] td[data-of="findings"]') == n
    assert loaded.page.locator("#by-rule tbody tr").count() == len({f["rule_id"] for f in findings})
    assert rows_shown(loaded) == dict(by_fingerprint(report))


@pytest.fixture
def leaky_scan(leaky_tree: Path, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A real scan of a leaky tree, with its GitHub token in a second file and a
    file whose name tries to end the data block and inject an image: as HTML
    and as JSON."""
    (leaky_tree / "deploy.sh").write_text(f"export GITHUB_TOKEN={GITHUB_PAT}\n")
    hostile = leaky_tree / "x<" / f"{HOSTILE.split('/', 1)[1]}.env"
    hostile.parent.mkdir()
    hostile.write_text(f"TOKEN={HOSTILE_KEY}\n")
    page = tmp_path / "scan.html"
    code, _, err = run("scan", str(leaky_tree), "--no-baseline", "-f", "html", "-o", str(page))
    assert code == 1, err
    code, out, err = run("scan", str(leaky_tree), "--no-baseline", "-f", "json")
    assert code == 1, err
    return page, json.loads(out)


def test_a_tree_scan_reads_counts_filters_and_expands(
    load: Any, leaky_scan: tuple[Path, dict[str, Any]], artefacts: Path
) -> None:
    path, report = leaky_scan
    loaded = load(path)
    page = loaded.page
    assert_counts_match(loaded, report)
    rows = len(by_fingerprint(report))
    assert page.locator("#shown").inner_text() == f"{rows} of {rows} secrets shown"

    # A rule filter hides every row without that rule, and only those.
    rules = Counter(f["rule_id"] for f in report["findings"])
    with_rule = {f["fingerprint"] for f in report["findings"] if f["rule_id"] == "github-pat"}
    assert 0 < len(with_rule) < rows and "github-pat" in rules
    page.select_option("#f-rule", "github-pat")
    assert loaded.visible_rows() == len(with_rule)
    for row in page.locator("details.secret:visible").all():
        assert "github-pat" in row.locator("summary").inner_text()
    page.select_option("#f-rule", "")
    assert loaded.visible_rows() == rows

    # Severity: at or above the one chosen, by the worst finding of each secret.
    worst: dict[str, int] = {}
    for f in report["findings"]:
        worst[f["fingerprint"]] = max(worst.get(f["fingerprint"], 0), SEVERITY_RANK[f["severity"]])
    page.select_option("#f-severity", "3")
    assert loaded.visible_rows() == sum(r == 3 for r in worst.values()) > 0
    page.select_option("#f-severity", "")

    # The search box finds the row of the hostile file by its name.
    page.fill("#f-text", "script><img")
    assert loaded.visible_rows() == 1
    page.fill("#f-text", "")

    # Sorting by places puts the most widespread secret first; twice, last.
    page.click('#secrets-head button[data-sort="count"]')
    counts = [int(c) for c in page.locator("details.secret .count").all_inner_texts()]
    assert counts == sorted(counts, reverse=True)
    page.click('#secrets-head button[data-sort="count"]')
    counts = [int(c) for c in page.locator("details.secret .count").all_inner_texts()]
    assert counts == sorted(counts)

    # Expanding a row shows each place that holds the secret, and how to fix it.
    page.click('#secrets-head button[data-sort="count"]')
    first = page.locator("details.secret").first
    table = first.locator("table.locations")
    assert not table.is_visible()
    first.locator("summary").click()
    assert table.is_visible()
    places = int(first.locator(".count").inner_text())
    assert places >= 2 and table.locator("tbody tr").count() == places
    assert first.locator(".remedy").first.is_visible()

    # The hostile name is text: shown as written, nothing ran, no image made.
    page.fill("#f-text", "script><img")
    hostile_row = page.locator("details.secret:visible")
    hostile_row.locator("summary").click()
    assert HOSTILE in hostile_row.inner_text()
    assert page.locator("img").count() == 0
    assert page.evaluate("window.pwned") is None
    page.fill("#f-text", "")

    loaded.assert_no_secret([GITHUB_PAT, STRIPE_KEY, PASSWORD, HOSTILE_KEY])
    loaded.assert_clean()
    page.screenshot(path=artefacts / "scan.png", full_page=True)
    assert (artefacts / "scan.png").stat().st_size > 10_000


def test_a_changed_style_or_script_is_refused_by_the_page_policy(
    load: Any, leaky_scan: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The page's CSP is enforced, and the listener the other tests rely on sees it."""
    text = leaky_scan[0].read_text()
    changed = tmp_path / "changed.html"
    changed.write_text(text.replace("<style>", "<style>b{}", 1).replace("<script>", "<script>;"))
    loaded = load(changed)
    directives = {v.split(" ")[0] for v in loaded.violations()}
    assert {"style-src-elem", "script-src-elem"} <= directives
    assert loaded.page.locator("#controls").is_hidden()  # the script did not run
    assert loaded.number("#n-findings") == len(leaky_scan[1]["findings"])  # still readable


REPOS = 3


@pytest.fixture(scope="module")
def html_fleet(registry: str, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    """Three repositories, tags 1 and latest, sharing one leaky base layer. Each
    repository's own key is in its tag 1; in html/app0 the newest tag no longer
    carries it."""
    folder = tmp_path_factory.mktemp("html-fleet")
    base = layer_tar([file("etc/base.env", f"GH={GITHUB_PAT}\n")])
    fixed = layer_tar([file("app/ok.txt", "fine\n")])
    for n in range(REPOS):
        own = layer_tar([file(f"app/{n}.env", f"STRIPE={stripe(n)}\n")])
        for tag in ("1", "latest"):
            layers = [base, fixed] if (n, tag) == (0, "latest") else [base, own]
            archive = write_archive(folder / f"{n}-{tag}.tar", Spec(layers=layers))
            subprocess.run(
                [SKOPEO, "copy", "-q", "--dest-tls-verify=false", f"docker-archive:{archive}",
                 f"docker://{registry}/html/app{n}:{tag}"],
                check=True,
            )  # fmt: skip
    return registry


def stripe(n: int) -> str:
    return fake("sk_" + "live_", 24, seed=1400 + n)


PLANTED = [GITHUB_PAT, *(stripe(n) for n in range(REPOS))]


def test_a_registry_sweep_is_one_row_per_secret_across_images(
    load: Any, html_fleet: str, tmp_path: Path, artefacts: Path
) -> None:
    path = tmp_path / "sweep.html"
    args = ("sweep", "--no-cache", "--repo", "html/*", html_fleet)
    code, _, err = run(*args, "-f", "html", "-o", str(path))
    assert code == 1, err
    code, out, err = run(*args, "-f", "json")
    assert code == 1, err
    report = json.loads(out)
    loaded = load(path)
    page = loaded.page
    assert_counts_match(loaded, report)
    shared = fingerprint_of(report, "/etc/base.env")
    assert rows_shown(loaded)[shared] == 2 * REPOS  # one row, in every image
    facts = dict(zip(page.locator("dl.facts dt").all_inner_texts(),
                     page.locator("dl.facts dd").all_inner_texts(), strict=True))  # fmt: skip
    assert facts["repositories"] == str(REPOS) and facts["tags"] == str(2 * REPOS)
    assert facts["layers read"] == str(2 + REPOS)  # the base, the fixed one, one key each
    assert facts["files with findings"] == str(1 + REPOS)  # base.env once, in its one layer

    # A repository filter keeps the rows of secrets that repository holds.
    app1 = f"{html_fleet}/html/app1"
    page.select_option("#f-repo", app1)
    assert loaded.visible_rows() == 2  # the shared key and app1's own
    page.select_option("#f-repo", "")
    assert page.locator("#f-newest").count() == 0  # nothing knows the newest tag here

    # Expanded, the shared key lists each repository, tag and layer.
    row = page.locator("details.secret", has=page.locator(f'.fp:text-is("sha256:{shared}")'))
    row.locator("summary").click()
    table = row.locator("table.locations")
    heads = table.locator("thead th").all_inner_texts()
    assert heads[:3] == ["Repository", "Tag", "Layer"]
    cells = [r.locator("td").all_inner_texts()[:2] for r in table.locator("tbody tr").all()]
    assert sorted(cells) == sorted(
        [f"{html_fleet}/html/app{n}", tag] for n in range(REPOS) for tag in ("1", "latest")
    )
    loaded.assert_no_secret(PLANTED)
    loaded.assert_clean()
    page.screenshot(path=artefacts / "sweep.png", full_page=True)


def test_the_newest_tag_filter_of_a_swept_registry(
    engine: Any, load: Any, html_fleet: str, tmp_path: Path, artefacts: Path
) -> None:
    """A sweep whose places say whether the repository's newest tag (here `latest`)
    still holds them, as a sweep read from a store says: html/app0's own key was
    removed from its newest tag, every other secret is still in one."""
    done = sweep(engine, html_fleet, ImageOptions(), SweepOptions(repositories=("html/*",)))
    findings = [
        replace(f, location=replace(f.location, in_newest_tag=tag_of(f.location.image) == "latest"))
        for f in done.result.findings
    ]
    path = tmp_path / "newest.html"
    path.write_text(render(Format.HTML, ScanResult(findings=findings), ReportOptions()))
    loaded = load(path)
    page = loaded.page
    page.select_option("#f-newest", "no")
    assert loaded.visible_rows() == 1
    row = page.locator("details.secret:visible")
    assert row.locator(".fp").text_content() == f"sha256:{fingerprint_value(stripe(0))}"
    page.select_option("#f-newest", "yes")
    assert loaded.visible_rows() == REPOS  # the shared key, app1's and app2's
    page.select_option("#f-newest", "")
    page.click('#secrets-head button[data-sort="newest"]')
    newest = page.locator("details.secret summary > span:last-child").all_inner_texts()
    assert newest == ["yes"] * REPOS + ["no"]
    loaded.assert_no_secret(PLANTED)
    loaded.assert_clean()
    page.screenshot(path=artefacts / "newest.png", full_page=True)


def test_a_report_from_the_sweep_store(
    load: Any, html_fleet: str, tmp_path: Path, artefacts: Path
) -> None:
    store = str(tmp_path / "sweep.sqlite")
    code, _, err = run("sweep", "--store", store, "--repo", "html/*", html_fleet)
    assert code == 1, err
    path = tmp_path / "store.html"
    code, _, err = run("sweep", "report", "--store", store, "-f", "html", "-o", str(path))
    assert code == 1, err
    code, out, err = run("sweep", "report", "--store", store, "-f", "json")
    assert code == 1, err
    loaded = load(path)
    report = json.loads(out)
    assert_counts_match(loaded, report)
    # What changed since the run before, as the JSON report's `changes` says.
    changes = report["changes"]
    labels = loaded.page.locator("dl.facts dt").all_inner_texts()
    shown = dict(zip(labels, loaded.page.locator("dl.facts dd").all_inner_texts(), strict=True))
    assert shown["sweep run"].startswith(f"{changes['run']} of ")
    assert shown["new since nothing before it"] == str(len(changes["new"]))
    assert (shown["fixed"], shown["remaining"]) == (
        str(len(changes["fixed"])),
        str(changes["remaining"]),
    )
    loaded.assert_no_secret(PLANTED)
    loaded.assert_clean()
    loaded.page.screenshot(path=artefacts / "store.png", full_page=True)


def tag_of(image: str | None) -> str | None:
    return image_parts(image)[1] if image else None


def fingerprint_of(report: dict[str, Any], path: str) -> str:
    (fp,) = {f["fingerprint"] for f in report["findings"] if f["location"]["path"] == path}
    return str(fp)


def fingerprint_value(value: str) -> str:
    from leakguard.models import fingerprint

    return fingerprint(value.encode())
