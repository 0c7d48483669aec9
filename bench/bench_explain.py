"""Many small sweeps in one ``explain`` call against one call per image (run: python
bench/bench_explain.py [--repeats N]).

16 images of 224×224, ResNet50 with random weights (timing does not depend on the
weights), patch 56: 16 windows each. The same warm ``OcclusionSensitivity`` object times:

* ``together``: ``explain(images)``: the 16 × 17 copies in evened-out batches of at most 32;
* ``apart``: ``[explain(image) for image in images]``: 16 calls of 17 copies each;
* ``recipe``: the README's recipe before this object existed, 16 calls of
  ``occlusion_sensitivity(image, clf.predictor(32), batch_size=32)`` (each pads 17 copies
  to the predictor's 32).

``compute="full"`` so that both sides run whole copies (``auto`` may choose the incremental
engine for 16 images and not for one: another comparison). Measurements alternate, and
the medians are compared, so that a burst of load on a shared machine does not fall on one
side of a ratio only. Goal: ``apart / together`` at least 1.5.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def _images(n: int = 16, size: int = 224) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.uniform(0, 255, (size, size, 3)).astype(np.uint8) for _ in range(n)]


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-recipe", action="store_true", help="skip the old recipe")
    args = parser.parse_args()

    from occlude import OcclusionSensitivity, occlusion_sensitivity

    images = _images()
    explainer = OcclusionSensitivity("resnet50", weights="none", patch_sizes=[56],
                                     compute="full")  # fmt: skip
    clf = explainer.model
    together = explainer.explain(images)  # warm: compiles the batch of 31 ...
    apart = [explainer.explain(image) for image in images]  # ... and the one of 17
    worst = max(float(np.abs(a.map - b.map).max()) for a, b in zip(together, apart, strict=True))

    def recipe() -> None:
        for result in apart:
            occlusion_sensitivity(result.image, clf.predictor(32), patch_sizes=[56], batch_size=32)

    if not args.no_recipe:
        recipe()  # warm: compiles the batch of 32
    times: dict[str, list[float]] = {"together": [], "apart": [], "recipe": []}
    for _ in range(args.repeats):
        times["together"].append(_timed(lambda: explainer.explain(images)))
        times["apart"].append(_timed(lambda: [explainer.explain(im) for im in images]))
        if not args.no_recipe:
            times["recipe"].append(_timed(recipe))
    med = {k: statistics.median(v) for k, v in times.items() if v}
    report = {
        "images": len(images),
        "windows_per_image": together[0].windows,
        "repeats": args.repeats,
        "seconds_median": {k: round(v, 3) for k, v in med.items()},
        "seconds_all": {k: [round(t, 3) for t in v] for k, v in times.items() if v},
        "ratio_apart_over_together": round(med["apart"] / med["together"], 3),
        "max_map_difference": worst,
    }
    if "recipe" in med:
        report["ratio_recipe_over_together"] = round(med["recipe"] / med["together"], 3)
    print(json.dumps(report, indent=2))
    print(f"one call for 16 images is {report['ratio_apart_over_together']:.2f}x as fast as "
          f"16 calls (goal 1.5)")  # fmt: skip


if __name__ == "__main__":
    main()
