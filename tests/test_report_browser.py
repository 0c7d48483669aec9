"""The report in a real browser: headless Chromium loads it from ``file://``.

The tests drive the controls as a person would (choose a sort order, tick a filter,
scroll) and check what is on the screen. Every test ends by checking that the browser
logged no error. Without Debian's ``chromium`` and ``chromium-driver`` (or selenium) the
tests are skipped, unless ``OCCLUDE_REQUIRE_BROWSER=1`` (CI), which makes them fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import test_report_synth as synth
from PIL import Image

from occlude.report import build_report
from occlude.runner.ledger import read_state

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} not found (apt-get install -y {package})"
    return None


def open_browser(width: int = 1280, height: int = 900) -> Any:
    """Headless Chromium through the system's chromedriver (nothing is downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager fetch a driver or browser
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-extensions", f"--window-size={width},{height}"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def load(driver: Any, index: Path, hash_: str = "") -> None:
    """Open ``index`` from ``file://`` and wait until the page has laid out its data."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(index.resolve().as_uri() + hash_)
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && "
            "(document.getElementById('summary').textContent !== '')"
        )
    )


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    missing = browser_missing()
    if missing is not None:
        if os.environ.get("OCCLUDE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"OCCLUDE_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(f"no headless browser: {missing}")
    browser = open_browser()
    yield browser
    browser.quit()


@pytest.fixture(autouse=True)
def no_console_errors(driver: Any) -> Iterator[None]:
    driver.get_log("browser")  # start clean
    yield
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


@pytest.fixture(scope="module")
def real_report(real_out: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = Path(shutil.copytree(real_out, tmp_path_factory.mktemp("browser") / "out"))
    return build_report(out, min_focus=synth.MIN_FOCUS)


@pytest.fixture(scope="module")
def records(real_report: Path) -> dict[str, dict[str, Any]]:
    state = read_state(real_report.parent)
    return {k.removeprefix("sensitivity:"): e["record"] for k, e in state.by_key.items()
            if k.startswith("sensitivity:") and e["event"] == "done"}  # fmt: skip


def card_names(driver: Any) -> list[str]:
    return [e.text for e in driver.find_elements("css selector", "#gallery .card .name")]


def count_label(driver: Any) -> str:
    return str(driver.find_element("id", "count").text)


def choose_sort(driver: Any, label: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", "sort")).select_by_visible_text(label)


@pytest.mark.slow
def test_the_gallery_shows_every_image_with_its_numbers(
    driver: Any, real_report: Path, records: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    load(driver, real_report)
    assert driver.current_url.startswith("file:///")
    assert card_names(driver) == sorted(records)
    assert count_label(driver) == "4 images"
    first = driver.find_element("css selector", "#gallery .card")
    rec = records["mid.png"]
    assert f"score {rec['base_score']:.3f}" in first.text
    assert f"{rec['focus']:.3f}" in first.text and "focus below 0.5" in first.text
    assert f"{rec['insertion_auc']:.3f}" in first.text
    assert f"{rec['insertion_auc_random']:.3f}" in first.text
    # Thumbnails load from file://; the links lead to the full heatmap and the sheet.
    widths = (
        "return Array.from(document.querySelectorAll('#gallery img'))"
        ".map(i => i.complete ? i.naturalWidth : -1)"
    )
    WebDriverWait(driver, 10).until(lambda d: -1 not in d.execute_script(widths))
    assert driver.execute_script(widths) == [240] * 4
    links = {
        a.text: a.get_attribute("href") for a in first.find_elements("css selector", ".links a")
    }
    assert set(links) == {"heatmap", "per-scale sheet", "JSON"}
    assert links["heatmap"] == (real_report.parent / "mid.png").as_uri()
    assert links["per-scale sheet"] == (real_report.parent / "mid_scales.png").as_uri()
    shot = tmp_path / "report.png"
    driver.save_screenshot(str(shot))
    with Image.open(shot) as im:
        assert np.asarray(im.convert("L")).std() > 10  # not a blank page


def test_sorting_by_focus_reorders_the_cards(
    driver: Any, real_report: Path, records: dict[str, dict[str, Any]]
) -> None:
    load(driver, real_report)
    by_focus = sorted(records, key=lambda name: records[name]["focus"])
    choose_sort(driver, "focus, lowest first")
    assert card_names(driver) == by_focus
    assert "sort=focus-asc" in driver.current_url
    choose_sort(driver, "focus, highest first")
    assert card_names(driver) == by_focus[::-1]
    choose_sort(driver, "file name")
    assert card_names(driver) == sorted(records)


def test_the_gate_filter_hides_passing_images(
    driver: Any, real_report: Path, records: dict[str, dict[str, Any]]
) -> None:
    load(driver, real_report)
    failing = sorted(n for n, r in records.items() if r["focus"] < synth.MIN_FOCUS)
    assert 0 < len(failing) < len(records)
    box = driver.find_element("id", "only-low")
    label = driver.find_element("id", "only-low-box").text
    assert label == f"Below min focus {synth.MIN_FOCUS} only ({len(failing)})"
    box.click()
    assert card_names(driver) == failing
    assert count_label(driver) == f"{len(failing)} of 4 images match"
    box.click()
    assert card_names(driver) == sorted(records)


def test_failed_inputs_are_listed_with_their_errors(driver: Any, real_report: Path) -> None:
    load(driver, real_report)
    rows = driver.find_elements("css selector", "#failures tbody tr")
    assert [r.find_elements("tag name", "td")[0].text for r in rows] == ["broken.png"]
    assert "cannot read image" in rows[0].text
    nav = [a.text for a in driver.find_elements("css selector", "#nav a")]
    assert nav == ["Maps (4)", "Failed inputs (1)", "Robustness"]


def test_the_robustness_table_and_plot(driver: Any, real_report: Path) -> None:
    import json

    load(driver, real_report)
    summary = json.loads((real_report.parent / "robustness.json").read_text())
    rows = driver.find_elements("css selector", "#robustness-table tbody tr")
    assert len(rows) == len(summary["results"]) == 6
    cells = [td.text for td in rows[1].find_elements("tag name", "td")]
    first = summary["results"][1]
    assert cells[:3] == [first["method"], f"{first['fraction']:.2f}", f"{first['accuracy']:.3f}"]
    plot = driver.find_element("id", "robustness-plot")
    assert plot.is_displayed() and driver.execute_script("return arguments[0].naturalWidth", plot)
    failed = driver.find_elements("css selector", "#robustness-failures tbody tr")
    assert [r.find_elements("tag name", "td")[0].text for r in failed] == ["1/broken.png"]


@pytest.mark.slow
def test_many_images_load_a_page_at_a_time_as_you_scroll(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    made = synth.synthetic_run(tmp_path, 150, failures=2, heatmap=synth.heatmap_png((300, 190)))
    load(driver, build_report(tmp_path, min_focus=0.3))
    assert len(card_names(driver)) == 60
    assert count_label(driver) == "150 images (showing 60)"
    for expected in (120, 150):
        driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        WebDriverWait(driver, 10).until(lambda d, n=expected: len(card_names(d)) == n)
    assert card_names(driver) == [rel for rel, _ in made]
    assert count_label(driver) == "150 images"
    # Sorting re-renders from the first page: the 60 lowest focus, missing ones last.
    choose_sort(driver, "focus, lowest first")
    order = sorted(
        range(150), key=lambda i: (made[i][1]["focus"] is None, made[i][1]["focus"] or 0)
    )
    assert card_names(driver) == [made[i][0] for i in order[:60]]
    driver.find_element("id", "only-unfaithful").click()
    unfaithful = [rel for rel, r in made if r["insertion_auc"] < r["insertion_auc_random"]]
    assert count_label(driver).startswith(f"{len(unfaithful)} of 150 images match")
    search = driver.find_element("id", "search")
    search.send_keys("d3/")
    expected = [r for r in unfaithful if r.startswith("d3/")]
    assert sorted(card_names(driver)) == sorted(expected)
    assert len(driver.find_elements("css selector", "#failures tbody tr")) == 2


def test_the_view_can_be_linked_to(driver: Any, tmp_path: Path) -> None:
    made = synth.synthetic_run(tmp_path, 20)
    index = build_report(tmp_path, min_focus=0.5)
    load(driver, index, "#sort=focus-desc&low=1")
    assert driver.find_element("id", "sort").get_attribute("value") == "focus-desc"
    assert driver.find_element("id", "only-low").is_selected()
    low = [(r["focus"], rel) for rel, r in made if r["focus"] is not None and r["focus"] < 0.5]
    missing = [rel for rel, r in made if r["focus"] is None]
    assert card_names(driver) == [rel for _, rel in sorted(low, key=lambda p: -p[0])] + missing


def test_without_a_threshold_the_gate_filter_is_off(driver: Any, tmp_path: Path) -> None:
    synth.synthetic_run(tmp_path, 3, metrics=False)
    load(driver, build_report(tmp_path))
    assert not driver.find_element("id", "only-low").is_enabled()
    assert "no --min-focus given" in driver.find_element("id", "only-low-box").text
    assert not driver.find_element("id", "only-unfaithful-box").is_displayed()
    assert len(card_names(driver)) == 3
