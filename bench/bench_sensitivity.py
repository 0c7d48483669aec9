"""Speed and memory of ``occlude sensitivity`` (run: python bench/bench_sensitivity.py).

Everything is measured in one run and reported as ratios, because wall-clock times on a
shared machine are noisy:

1. marginal cost per window: (T(patch 8: 784 windows) - T(patch 16: 196 windows)) / 588,
   divided by the best per-image forward time of the same compiled model (goal <= 1.15);
2. speed-up over the seed's loop (one ``model.predict`` per patch) at patch 40;
3. peak memory (max RSS, fresh process each) of a 256-window and a 4,096-window sweep.

ResNet50 uses random weights (weights=None): timing does not depend on the weights.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def _image(size: int = 224) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (size, size, 3)).astype(np.float32)


def _timed(fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def speed(batch_size: int, repeats: int) -> dict[str, float]:
    from occlude.model import load_classifier
    from occlude.scoring import balanced_batch_size
    from occlude.sensitivity import occlusion_sensitivity

    clf = load_classifier("resnet50", weights="none")
    image = _image()

    predictors = {}

    def sweep(patch: int) -> float:
        total = (224 // patch) ** 2 + 1
        b = balanced_batch_size(total, batch_size)
        if b not in predictors:
            predictors[b] = clf.predictor(b)
            predictors[b](image[None])  # trace once, outside the timing
        return _timed(
            lambda: occlusion_sensitivity(
                image, predictors[b], class_index=0, patch_sizes=[patch], batch_size=b
            )
        )

    predict = clf.predictor(batch_size)
    batch = np.repeat(image[None], batch_size, axis=0)
    predict(batch)
    # Interleave the measurements and keep the best of each, so that a burst of load on
    # the machine does not fall on one side of the ratio only.
    forward, t16, t8 = float("inf"), float("inf"), float("inf")
    for _ in range(repeats):
        forward = min(forward, _timed(lambda: predict(batch), repeat=2) / batch_size)
        t16 = min(t16, sweep(16))
        t8 = min(t8, sweep(8))
    marginal = (t8 - t16) / (784 - 196)

    # The seed's loop: one model.predict per occluded copy (with the preprocessing it forgot).
    from keras.applications.resnet import preprocess_input

    def seed_loop() -> None:
        for y in range(0, 224, 40):
            for x in range(0, 224, 40):
                patched = image.copy()
                patched[y : y + 40, x : x + 40, :] = 127.5
                clf.model.predict(preprocess_input(patched[None]), verbose=0)

    seed_loop()  # warm-up
    t_seed = _timed(seed_loop)
    t_ours40 = sweep(40)
    return {
        "forward_ms_per_image": forward * 1000,
        "sweep_196_s": t16,
        "sweep_784_s": t8,
        "marginal_ms_per_window": marginal * 1000,
        "marginal_over_forward": marginal / forward,
        "seed_loop_36_s": t_seed,
        "ours_36_s": t_ours40,
        "speedup_over_seed": t_seed / t_ours40,
    }


def peak_rss_mb(patch: int, batch_size: int) -> float:
    """Max RSS of a fresh process that loads the model and sweeps one patch size."""
    code = f"""
import os, resource, numpy as np
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from occlude.model import load_classifier
from occlude.sensitivity import occlusion_sensitivity
clf = load_classifier("mobilenet_v2", weights="none")
img = np.random.default_rng(0).uniform(0, 255, (*clf.input_size, 3))
r = occlusion_sensitivity(img, clf.predictor({batch_size}), class_index=0,
                          patch_sizes=[{patch}], batch_size={batch_size})
print(r.windows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    windows, rss = out.stdout.split()[-2:]
    print(f"  patch {patch}: {windows} windows, peak RSS {float(rss):.0f} MB", file=sys.stderr)
    return float(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repetitions")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    print("speed (ResNet50, random weights, 224x224) ...", file=sys.stderr)
    figures = speed(args.batch_size, args.repeats)
    print("memory (MobileNetV2, random weights, 224x224) ...", file=sys.stderr)
    few = peak_rss_mb(14, args.batch_size)  # 16 x 16 = 256 windows
    many = peak_rss_mb(4, args.batch_size)  # 56 x 56 = 3,136 windows
    many_more = peak_rss_mb(3, args.batch_size)  # 75 x 75 = 5,625 windows
    figures.update(
        {
            "rss_256_windows_mb": few,
            "rss_3136_windows_mb": many,
            "rss_5625_windows_mb": many_more,
            "rss_growth_mb": max(many, many_more) - few,
        }
    )
    f = figures
    print(
        "| figure | value |\n|---|---|\n"
        f"| best forward per image (ResNet50, batch {args.batch_size}) "
        f"| {f['forward_ms_per_image']:.1f} ms |\n"
        f"| sweep, patch 16 (196 windows) | {f['sweep_196_s']:.2f} s |\n"
        f"| sweep, patch 8 (784 windows) | {f['sweep_784_s']:.2f} s |\n"
        f"| marginal cost per window / best forward per image | "
        f"**{f['marginal_over_forward']:.3f}** (goal <= 1.15) |\n"
        f"| seed loop, patch 40 (36 x model.predict) | {f['seed_loop_36_s']:.2f} s |\n"
        f"| occlude, patch 40 | {f['ours_36_s']:.2f} s |\n"
        f"| speed-up over the seed loop | **{f['speedup_over_seed']:.1f}x** |\n"
        f"| peak RSS, 256 / 3,136 / 5,625 windows (MobileNetV2) | {few:.0f} / {many:.0f} / "
        f"{many_more:.0f} MB |\n"
        f"| memory growth, 256 -> 5,625 windows | **{f['rss_growth_mb']:+.0f} MB** "
        "(goal within 150 MB) |"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    main()
