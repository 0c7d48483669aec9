"""Backends, start-up and reduced precision (run: python bench/bench_backends.py).

1. Start-up per backend, each in a fresh process: ``occlude --help``, ``import keras``
   on that backend, and the design-card call ``occlude sensitivity cat.png --class 281
   --patch 40`` (ResNet50 with random weights: there is no network for ImageNet's).
2. Sweep time per backend for ResNet50 (default multi-scale sweep, batch 32), same run.
3. ``--precision bfloat16`` against float32, per model, on the four sample photos: the
   speed-up of the default sweep (alternating repetitions, medians) and the fidelity of
   the map (Pearson correlation with the float32 map, overlap of the top-10 % pixels).
   MobileNetV2 uses the real ImageNet weights in ../shared/models when present; the others
   random He-scaled weights, so their fidelity figures are indicative.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "models" / "mobilenet_v2_1.0_224_imagenet.weights.h5"
PHOTOS = ["cat", "coffee", "rocket", "astronaut"]


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def startup(backends: list[str], repeats: int) -> None:
    print("\n| backend | `occlude --help` | import keras | design-card call (ResNet50, patch 40) |")
    print("|---|---:|---:|---:|")
    cat = str(ROOT / "sample_images" / "cat.png")
    for backend in backends:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        help_ = [timed([sys.executable, "-m", "occlude", "--help"], env) for _ in range(repeats)]
        imp = [timed([sys.executable, "-c", "import keras"], env) for _ in range(repeats)]
        call = [timed([sys.executable, "-m", "occlude", "sensitivity", cat, "--class", "281",
                       "--patch", "40", "--weights", "none", "-o", "/tmp/bench-card", "-q",
                       "--overwrite"], env) for _ in range(repeats)]  # fmt: skip
        print(f"| {backend} | {statistics.median(help_):.2f} s | {statistics.median(imp):.2f} s"
              f" | {statistics.median(call):.2f} s |", flush=True)  # fmt: skip


SWEEP = """
import json, sys, time
import numpy as np
from occlude.model import load_classifier
from occlude.sensitivity import occlusion_sensitivity
clf = load_classifier("resnet50", weights="none")
image = np.random.default_rng(0).uniform(0, 255, (224, 224, 3)).astype(np.float32)
predict = clf.predictor(32)
occlusion_sensitivity(image, predict, class_index=0, patch_sizes=[112], batch_size=32)
times = []
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    occlusion_sensitivity(image, predict, class_index=0, batch_size=32)
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def sweeps(backends: list[str], repeats: int) -> None:
    print("\n| backend | ResNet50 default sweep (265 windows, batch 32), median |\n|---|---:|")
    for backend in backends:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        out = subprocess.run([sys.executable, "-c", SWEEP, str(repeats)], check=True,
                             capture_output=True, text=True, env=env).stdout  # fmt: skip
        times = json.loads(out.strip().splitlines()[-1])
        print(f"| {backend} | {statistics.median(times):.2f} s |", flush=True)


def _model(name: str):  # type: ignore[no-untyped-def]
    from occlude.model import load_classifier

    if name == "mobilenet_v2" and SHARED.is_file():
        return load_classifier(name, weights=str(SHARED)), "real ImageNet weights"
    clf = load_classifier(name, weights="none")
    rng = np.random.default_rng(0)
    for layer in clf.model.layers:
        weights = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":
            g, b, m, v = weights
            stats = [
                rng.uniform(0.8, 1.2, g.shape),
                rng.normal(0, 0.1, b.shape),
                rng.normal(0, 0.1, m.shape),
                rng.uniform(0.5, 1.5, v.shape),
            ]
            layer.set_weights(stats)
        elif weights:
            layer.set_weights([_he(rng, w) for w in weights])
    return clf, "random He weights"


def _he(rng: np.random.Generator, w: np.ndarray) -> np.ndarray:
    if w.ndim == 1:
        return rng.normal(0, 0.01, w.shape).astype(np.float32)
    fan_in = max(1, int(np.prod(w.shape[:-1])))
    return rng.normal(0, np.sqrt(2.0 / fan_in), w.shape).astype(np.float32)


def precision(models: list[str], repeats: int) -> None:
    from occlude.imageio import read_rgb, resize_rgb
    from occlude.model.predict import with_precision
    from occlude.sensitivity import occlusion_sensitivity

    print(
        "\n| model | weights | bfloat16 speed-up | Pearson (min over photos) | "
        "top-10% overlap (min) |\n|---|---|---:|---:|---:|"
    )
    for name in models:
        clf, weights = _model(name)
        half = with_precision(clf.model, "bfloat16")
        from dataclasses import replace

        clf16 = replace(clf, model=half, precision="mixed_bfloat16", _predictors={})
        pearson, overlap, ratios = [], [], []
        for photo in PHOTOS:
            image = resize_rgb(read_rgb(ROOT / "sample_images" / f"{photo}.png"), clf.input_size)
            runs = {}
            times: dict[str, list[float]] = {"f32": [], "bf16": []}
            for _ in range(repeats):
                for key, c in (("f32", clf), ("bf16", clf16)):
                    start = time.perf_counter()
                    runs[key] = occlusion_sensitivity(image, c.predictor(30), batch_size=30,
                                                      class_index=None).map  # fmt: skip
                    times[key].append(time.perf_counter() - start)
            ratios.append(statistics.median(times["f32"]) / statistics.median(times["bf16"]))
            a, b = runs["f32"].ravel(), runs["bf16"].ravel()
            pearson.append(float(np.corrcoef(a, b)[0, 1]))
            k = len(a) // 10
            top_a, top_b = set(np.argsort(-a)[:k]), set(np.argsort(-b)[:k])
            overlap.append(len(top_a & top_b) / k)
        print(
            f"| {name} | {weights} | {statistics.median(ratios):.2f}x | {min(pearson):.3f} | "
            f"{min(overlap):.2f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--models", default="resnet50,vgg16,mobilenet_v2,efficientnetb0")
    parser.add_argument("--skip", default="", help="comma-separated: startup,sweeps,precision")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    backends = args.backends.split(",")
    if "startup" not in skip:
        startup(backends, args.repeats)
    if "sweeps" not in skip:
        sweeps(backends, args.repeats)
    if "precision" not in skip:
        precision(args.models.split(","), max(1, args.repeats - 1))


if __name__ == "__main__":
    main()
