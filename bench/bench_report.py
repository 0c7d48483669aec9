"""Build time and page load of ``occlude report`` for 10,000 images
(run: python bench/bench_report.py [--n 10000]).

The output folder is synthetic (bench/_work/report): a ledger of N finished sensitivity
images, each with a real-size heatmap (one rendered by occlude.render at the cat photo's
size, copied N times, so decoding costs what a real one does), a sheet and a record. Then:

1. the first build (every thumbnail made) and a rebuild (thumbnails up to date);
2. the page in headless Chromium from file://: time from navigation to the first page of
   cards on screen (the page's own ``occlude:first-cards`` mark) and to the load event, the
   DOM's element count and the JS heap after load, and the time to re-sort all N cards by
   focus and to filter them (the controls' change events, dispatched as a click would).

Wall-clock figures vary with the machine's load (CPU seconds less so); report them with
the core count.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / "_work" / "report"
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from occlude.report import build  # noqa: E402


def rendered_heatmap(path: Path) -> bytes:
    """A heatmap as ``occlude sensitivity`` draws it: the cat photo under a smooth map."""
    from occlude import render
    from occlude.imageio import read_rgb

    image = read_rgb(REPO / "sample_images" / "cat.png")
    y, x = np.mgrid[0:14, 0:14]
    values = (np.sin(x / 2.0) * np.cos(y / 3.0) * 0.08).astype(np.float32)
    render.heatmap_png(path, image, values, "cat.png: tabby (281), score 0.807", "score drop")
    return path.read_bytes()


def prepare(n: int) -> Path:
    import test_report_synth as synth

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    heatmap = rendered_heatmap(WORK.parent / "heatmap.png")
    synth.synthetic_run(WORK, n, failures=n // 100, heatmap=heatmap)
    return WORK


def timed_build(out: Path, min_focus: float) -> tuple[float, float, int]:
    """Wall-clock and CPU seconds (all threads) of one build, and the thumbnails made."""
    start, cpu = time.perf_counter(), time.process_time()
    built = build(out, min_focus=min_focus)
    return time.perf_counter() - start, time.process_time() - cpu, built.thumbs_made


def page_figures(index: Path) -> dict[str, Any]:
    import test_report_browser as browser

    missing = browser.browser_missing()
    if missing is not None:
        return {"skipped": missing}
    driver = browser.open_browser()
    try:
        browser.load(driver, index)
        figures = driver.execute_script(
            """
            const nav = performance.getEntriesByType("navigation")[0];
            const mark = performance.getEntriesByName("occlude:first-cards")[0];
            return {first: mark.startTime, load: nav.loadEventEnd,
                    nodes: document.getElementsByTagName("*").length,
                    cards: document.querySelectorAll("#gallery .card").length,
                    heap: performance.memory ? performance.memory.usedJSHeapSize : null};
            """
        )
        figures["sort"] = driver.execute_script(
            """
            const select = document.getElementById("sort");
            const t = performance.now();
            select.value = "focus-asc";
            select.dispatchEvent(new Event("change"));
            return performance.now() - t;
            """
        )
        figures["filter"] = driver.execute_script(
            """
            const box = document.getElementById("only-low");
            const t = performance.now();
            box.click();
            return performance.now() - t;
            """
        )
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        figures["errors"] = len(severe)
        return dict(figures)
    finally:
        driver.quit()


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="images in the folder")
    args = parser.parse_args()
    start = time.perf_counter()
    out = prepare(args.n)
    print(f"synthetic folder: {args.n} images in {time.perf_counter() - start:.1f} s", flush=True)
    first, first_cpu, made = timed_build(out, 0.5)
    again, again_cpu, remade = timed_build(out, 0.5)
    page = page_figures(out / "index.html")
    data_kb = (out / "report" / "data.js").stat().st_size / 1024
    thumbs_mb = folder_size(out / "report" / "thumbs") / 2**20
    heat_kb = (out / "d0" / "img00000.png").stat().st_size / 1024
    rows = [
        ("images (heatmap size)", f"{args.n:,} ({heat_kb:.0f} KB PNG each)"),
        (
            "first build (thumbnails made)",
            f"{first:.1f} s, {first_cpu:.1f} s CPU ({made:,} thumbnails, "
            f"{1000 * first_cpu / max(made, 1):.1f} ms CPU each)",
        ),
        (
            "rebuild (thumbnails up to date)",
            f"{again:.2f} s, {again_cpu:.2f} s CPU ({remade} remade)",
        ),
        ("report/data.js", f"{data_kb:,.0f} KB"),
        (
            "thumbnails",
            f"{thumbs_mb:.1f} MB ({thumbs_mb * 2**20 / 1024 / max(made, 1):.1f} KB each)",
        ),
    ]
    if "skipped" in page:
        rows.append(("page load", f"skipped: {page['skipped']}"))
    else:
        heap = f"{page['heap'] / 2**20:.0f} MB" if page["heap"] else "n/a"
        rows += [
            ("page: first cards on screen", f"{page['first']:.0f} ms after navigation"),
            ("page: load event", f"{page['load']:.0f} ms"),
            ("page: cards / DOM elements after load", f"{page['cards']} / {page['nodes']:,}"),
            ("page: JS heap after load", heap),
            (f"page: re-sort {args.n:,} cards by focus", f"{page['sort']:.0f} ms"),
            ("page: tick 'below min focus only'", f"{page['filter']:.0f} ms"),
            ("page: console errors", str(page["errors"])),
        ]
    print(f"\n`python bench/bench_report.py` ({os.cpu_count()} CPU cores)\n")
    print("| figure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
