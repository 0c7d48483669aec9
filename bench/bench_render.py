"""Drawing the pictures: a heatmap and its per-scale contact sheet, as the command writes
them, against the same pictures with matplotlib's mathtext tick labels (the formatter
occlude used before: ``ScalarFormatter(useMathText=True)``).

Run: ``python bench/bench_render.py [--reps 12] [--size 224]``. One process, the two
formatters alternating, a fresh map per repetition (so that tick labels are new text);
the first two repetitions warm matplotlib up and are dropped. Prints each median and the
ratio of the medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from occlude import render


def mathtext_numbers(axis: Any) -> None:
    from matplotlib.ticker import ScalarFormatter

    formatter = ScalarFormatter(useMathText=True)
    formatter.set_powerlimits((-2, 3))
    axis.set_major_formatter(formatter)


def draw(image: np.ndarray, values: np.ndarray) -> float:
    start = time.perf_counter()
    render.png_bytes(render.heatmap_figure(image, values, "cat.png: class 281 (tabby)", "drop"))
    panels = [("patch 16", values), ("patch 32", values * 2)]
    render.png_bytes(render.contact_sheet_figure(image, panels, "cat.png", "drop"))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=12)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (args.size, args.size, 3)).astype(np.uint8)
    ours: Callable[[Any], None] = render._short_numbers
    times: dict[str, list[float]] = {"occlude": [], "mathtext": []}
    for rep in range(args.reps + 2):
        values = np.random.default_rng(rep).normal(0, 1e-3, (28, 28)).astype(np.float32)
        for name, formatter in (("occlude", ours), ("mathtext", mathtext_numbers)):
            render._short_numbers = formatter  # type: ignore[assignment]
            seconds = draw(image, values)
            if rep >= 2:
                times[name].append(seconds)
    render._short_numbers = ours  # type: ignore[assignment]
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:9s} heatmap + sheet: {median * 1000:.0f} ms (median of {args.reps})")
    print(f"mathtext / occlude: {medians['mathtext'] / medians['occlude']:.2f}x")


if __name__ == "__main__":
    main()
