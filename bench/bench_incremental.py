"""Exact incremental inference against full re-inference (run: python bench/bench_incremental.py).

For each model and sweep, one image is scored both ways at the same batch size:

* full: compiled forward passes (``tf.function``) on the clean image and every occluded
  copy, copies built batch by batch, in balanced batches of at most ``--batch`` (as
  ``occlusion_sensitivity`` runs them: 197 jobs in 7 batches of 29);
* incremental: ``IncrementalModel.session`` (one clean pass, caches) and ``score``.

Repetitions alternate full / incremental so that both see the same machine load; the
table reports medians and the median of the per-repetition ratios. ``MACs`` is the
multiply-add fraction the engine computes (so ``1 / MACs`` is the speed-up limit), and
``max diff`` the largest score difference relative to the model's largest output.
VGG16 and ResNet50 use random He-scaled weights (speed does not depend on weights);
MobileNetV2 uses the real ImageNet weights when the file below exists.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parents[1]))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

import numpy as np

MOBILENET_WEIGHTS = (
    Path(__file__).resolve().parents[2] / "shared/models/mobilenet_v2_1.0_224_imagenet.weights.h5"
)
SWEEPS: dict[str, tuple[int, ...]] = {
    "16": (16,),
    "32": (32,),
    "56": (56,),
    "sweep": (16, 32, 56, 112),
}


def load(name: str):  # type: ignore[no-untyped-def]
    import keras
    from incmodels import randomize

    if name == "MobileNetV2" and MOBILENET_WEIGHTS.is_file():
        return keras.applications.MobileNetV2(weights=str(MOBILENET_WEIGHTS)), "imagenet"
    ctor = getattr(keras.applications, name)
    return randomize(ctor(weights=None, classifier_activation=None)), "random He"


def photo(size: int = 224) -> np.ndarray:
    """The cat photo, centre-cropped and resized, preprocessed to [-1, 1]."""
    from PIL import Image

    path = Path(__file__).parents[1] / "sample_images" / "cat.png"
    with Image.open(path) as im:
        im = im.convert("RGB")
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size))
        return np.asarray(im, dtype=np.float32) / 127.5 - 1.0


def all_boxes(patches: tuple[int, ...], size: int = 224) -> np.ndarray:
    from occlude.sensitivity.windows import window_boxes

    boxes = [window_boxes(size, size, p, p) for p in patches]
    return np.concatenate(boxes) if boxes else np.zeros((0, 4), dtype=np.int64)


def full_runner(model, batch: int):  # type: ignore[no-untyped-def]
    """Full re-inference as occlude's sweep runs it: balanced batches of at most ``batch``."""
    import tensorflow as tf

    from occlude.scoring import balanced_batch_size

    compiled = {}

    def forward(size: int):  # type: ignore[no-untyped-def]
        if size not in compiled:
            spec = tf.TensorSpec((size, 224, 224, 3), tf.float32)

            @tf.function(input_signature=[spec])
            def run(x):  # type: ignore[no-untyped-def]
                return tf.reshape(tf.cast(model(x, training=False), tf.float32), (size, -1))

            compiled[size] = run
        return compiled[size]

    def run(x: np.ndarray, fill: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        jobs = len(boxes) + 1  # the clean image, then every copy
        size = balanced_batch_size(jobs, batch)
        out = []
        for start in range(0, jobs, size):
            chunk = np.repeat(x[None], size, axis=0)
            for j in range(start, min(start + size, jobs)):
                if j > 0:
                    x0, y0, x1, y1 = boxes[j - 1]
                    chunk[j - start, y0:y1, x0:x1] = fill[y0:y1, x0:x1]
            out.append(forward(size)(tf.constant(chunk)).numpy()[: min(size, jobs - start)])
        return np.concatenate(out)[1:]

    return run


def bench_model(name: str, sweeps: list[str], batch: int, reps: int) -> list[dict]:
    from occlude.incremental import IncrementalModel

    model, weights = load(name)
    x = photo()
    fill = np.zeros_like(x)  # grey (pixel 127.5) after x / 127.5 - 1
    full = full_runner(model, batch)
    inc = IncrementalModel(model, batch_size=batch)
    rows = []
    for key in sweeps:
        patches = SWEEPS[key]
        boxes = all_boxes(patches)
        counts = [len(all_boxes((p,))) for p in patches]
        # As --compute auto runs a sweep: incremental on the scales where it pays, full on
        # the others (ResNet50's patch 112).
        paying = [p for p in patches if inc.estimate(p).worth_it or len(patches) == 1]
        fractions = [inc.estimate(p).macs_fraction if p in paying else 1.0 for p in patches]
        fraction = float(np.dot(counts, fractions) / sum(counts))
        fast, slow = all_boxes(tuple(paying)), all_boxes(tuple(set(patches) - set(paying)))

        def incremental(fast: np.ndarray = fast, slow: np.ndarray = slow) -> np.ndarray:
            scores = [inc.session(x).score(fill, fast)]
            if len(slow):
                scores.append(full(x, fill, slow))
            return np.concatenate(scores)

        want = full(x, fill, np.concatenate([fast, slow]))  # warm-up and reference scores
        got = incremental()
        diff = float(np.abs(got - want).max() / np.abs(want).max())
        t_full, t_inc, ratios = [], [], []
        for _ in range(reps):
            start = time.perf_counter()
            full(x, fill, boxes)
            t_full.append(time.perf_counter() - start)
            start = time.perf_counter()
            incremental()
            t_inc.append(time.perf_counter() - start)
            ratios.append(t_full[-1] / t_inc[-1])
        rows.append(
            {
                "model": name,
                "weights": weights,
                "patch": key,
                "windows": len(boxes),
                "macs": fraction,
                "full_s": float(np.median(t_full)),
                "inc_s": float(np.median(t_inc)),
                "speedup": float(np.median(ratios)),
                "range": (min(ratios), max(ratios)),
                "diff": diff,
                "switch": inc.estimate(patches[0]).switch_layer,
            }
        )
        print(_row(rows[-1]), flush=True)
    return rows


HEADER = (
    "| model | weights | patch | windows | MACs | limit | full s | incr. s | speed-up (min-max) "
    "| max diff | switches at |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def _row(r: dict) -> str:
    lo, hi = r["range"]
    return (
        f"| {r['model']} | {r['weights']} | {r['patch']} | {r['windows']} | {r['macs']:.2f} "
        f"| {1 / r['macs']:.1f}x | {r['full_s']:.2f} | {r['inc_s']:.2f} "
        f"| **{r['speedup']:.2f}x** ({lo:.2f}-{hi:.2f}) | {r['diff']:.1e} | {r['switch']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="VGG16,ResNet50,MobileNetV2")
    parser.add_argument("--patches", default="16,32,56,sweep")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    print(f"batch {args.batch}, {args.reps} alternating repetitions, medians\n")
    print(HEADER, flush=True)
    rows = []
    for name in args.models.split(","):
        rows += bench_model(name, args.patches.split(","), args.batch, args.reps)
    print("\n" + HEADER)
    for r in rows:
        print(_row(r))


if __name__ == "__main__":
    main()
