"""The demo report in a real headless Chromium (Debian's, driven by Playwright).

It must render with zero console errors and zero network requests; hostile captions must stay
inert; the one script (table sorting) must work. Screenshots of the main sections land in
tests/artifacts/ for a person to look at. CI installs chromium (.ci/run); elsewhere the test
skips when no Chromium is found.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from profiler.cli import main

ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SECTIONS = ("findings", "coverage", "signal-1", "sweeps", "spread", "drivers", "agreement",
            "examples")


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing in CI: .ci/run should have installed it")
    pytest.skip("no Chromium on this machine (apt-get install chromium)")


@pytest.fixture(scope="module")
def hostile_report(demo_data, tmp_path_factory) -> Path:
    """The demo shards plus a shard of hostile captions, profiled into one report."""
    data = tmp_path_factory.mktemp("hostile-data")
    for shard in demo_data.glob("*.parquet"):
        shutil.copy(shard, data / shard.name)
    hostile = ['<script>document.title="pwned"</script> Asian woman',
               '<img src="http://127.0.0.1:9/x.png" onerror="document.title=\'pwned\'"> Latina',
               "Korean actress <iframe src='http://127.0.0.1:9/'></iframe>",
               "Japanese bride <a href='javascript:alert(1)'>click</a>"]
    pq.write_table(pa.table({"TEXT": hostile * 10}), data / "a-hostile.parquet")
    out = tmp_path_factory.mktemp("hostile-run")
    assert main(["-q", "profile", str(data), "--out", str(out)]) == 0
    return out / "index.html"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture()
def page(browser, hostile_report):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    events: dict[str, list] = {"console": [], "requests": [], "dialogs": []}
    page.on("console", lambda m: events["console"].append((m.type, m.text)))
    page.on("pageerror", lambda e: events["console"].append(("error", str(e))))
    page.on("request", lambda r: events["requests"].append(r.url))
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.goto(hostile_report.as_uri())
    page.wait_for_load_state("load")
    page.events = events
    yield page
    page.close()


def test_no_console_errors_and_no_network(page, hostile_report):
    page.click("details.redaction summary")  # reveal the hostile snippets too
    page.wait_for_timeout(200)
    assert [m for m in page.events["console"] if m[0] in ("error", "warning")] == []
    assert page.events["requests"] == [hostile_report.as_uri()]
    assert page.events["dialogs"] == []


def test_hostile_captions_stay_text(page):
    assert page.title().startswith("Bias profile")  # no injected script changed it
    page.click("details.redaction summary")
    snippets = page.inner_text("#examples")
    assert '<script>document.title="pwned"</script>' in snippets
    assert page.locator("#examples iframe, #examples img, #examples script").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0


def test_tables_sort_by_clicking_a_heading(page):
    table = page.locator("#signal-1 table.sortable").first
    header = table.locator("thead th").nth(3)
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    ascending = table.locator("tbody tr").first.locator("th").inner_text()
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    descending = table.locator("tbody tr").first.locator("th").inner_text()
    assert ascending != descending
    values = [float(v) for v in table.locator("tbody tr td:nth-of-type(3)").evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-sort'))")]
    assert values == sorted(values, reverse=True) and len(values) > 5
    assert descending in ("East Asian", "Asian (unspecified)", "Southeast Asian")  # planted skew


def test_keyboard_reaches_the_sort_buttons(page):
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.tagName")
    assert focused in ("A", "BUTTON", "SUMMARY")


def test_screenshots_of_the_main_sections(page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-full.png"), full_page=True)
    for section in SECTIONS:
        locator = page.locator(f"#{section}")
        assert locator.count() == 1, section
        target = ARTIFACTS / f"section-{section}.png"
        locator.screenshot(path=str(target))
        assert target.stat().st_size > 5_000, section
    page.emulate_media(media="print")
    page.pdf(path=str(ARTIFACTS / "report.pdf"))  # prints: a PDF a person can check
    assert (ARTIFACTS / "report.pdf").stat().st_size > 20_000
