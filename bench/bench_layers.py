"""occlude.layers against Keras's built-in RandomErasing, CutMix and MixUp.

Speed: the same ``tf.data`` pipeline (224x224 float32 images in 0-255 with one-hot
labels, batch 32, ``map(layer)``) with each layer, in interleaved rounds: every round
runs our layer and its Keras counterpart once each, in alternating order. The table
gives the median images/s over the rounds and the median of the per-round ratios
ours / Keras (a same-round ratio is robust to the load of a shared machine drifting).
Cutout and Hide-and-Seek have no Keras counterpart; they are compared with Keras's
RandomErasing, its only occluding layer. The saliency-guided layers follow alone (fewer
rounds and batches), with random maps.

Semantics: what each layer actually does, measured on small images (applied rate, the
fill's distribution, CutMix's label error, masks, integer labels, reproducibility under a
parallel map): the figures of the docs' comparison table (docs/training.md).

    python bench/bench_layers.py [--rounds 5] [--steps 20] [--only speed|semantics]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from occlude.layers import (
    AttentiveCutMix,
    CutMix,
    Cutout,
    HideAndSeek,
    KeepCutout,
    MixUp,
    RandomErasing,
    SaliencyMix,
)

SIZE, BATCH, CLASSES = 224, 32, 10
Layer = Callable[[Any], Any]


# --- speed ---------------------------------------------------------------------------


def batches(count: int, seed: int = 0) -> tf.data.Dataset:
    """``count`` distinct batches of random images and one-hot labels, cached in memory."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (count * BATCH, SIZE, SIZE, 3)).astype("float32")
    labels = np.eye(CLASSES, dtype="float32")[rng.integers(0, CLASSES, count * BATCH)]
    data = tf.data.Dataset.from_tensor_slices({"images": images, "labels": labels})
    data = data.batch(BATCH).cache()
    for _ in data:  # fill the cache
        pass
    return data


def throughput(layer: Layer, data: tf.data.Dataset, steps: int) -> float:
    """Images per second through ``data.repeat().map(layer)`` over ``steps`` batches.

    One map call at a time and no prefetch: what is timed is the layer's own cost per batch
    (parallel calls and prefetching would fill buffers ahead of the clock)."""
    iterator = iter(data.repeat().map(layer))
    for _ in range(2):  # trace and warm up
        next(iterator)
    start = time.perf_counter()
    for _ in range(steps):
        next(iterator)
    return steps * BATCH / (time.perf_counter() - start)


def speed(rounds: int, steps: int) -> None:
    data = batches(4)
    keras_re = ("keras RandomErasing(factor=1.0)", keras.layers.RandomErasing(factor=1.0, seed=1))
    pairs: list[tuple[str, Layer, tuple[str, Layer]]] = [
        ("RandomErasing(prob=1.0) (noise fill)", RandomErasing(prob=1.0, seed=1), keras_re),
        (
            "RandomErasing(prob=1.0, fill='grey')",
            RandomErasing(prob=1.0, fill="grey", seed=1),
            keras_re,
        ),
        ("Cutout()", Cutout(seed=1), keras_re),
        ("HideAndSeek(fill='grey')", HideAndSeek(fill="grey", seed=1), keras_re),
        ("CutMix()", CutMix(seed=1), ("keras CutMix()", keras.layers.CutMix(seed=1))),
        ("MixUp()", MixUp(seed=1), ("keras MixUp()", keras.layers.MixUp(seed=1))),
    ]
    ours_ips: dict[str, list[float]] = {}
    theirs_ips: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    for r in range(rounds):
        for i, (name, ours, (_, theirs)) in enumerate(pairs):
            if (r + i) % 2:
                b = throughput(theirs, data, steps)
                a = throughput(ours, data, steps)
            else:
                a = throughput(ours, data, steps)
                b = throughput(theirs, data, steps)
            ours_ips.setdefault(name, []).append(a)
            theirs_ips.setdefault(name, []).append(b)
            ratios.setdefault(name, []).append(a / b)
    print(
        f"\n{platform.machine()}, {os.cpu_count()} cores, keras {keras.__version__}, "
        f"tensorflow {tf.__version__}; {rounds} rounds of {steps} batches of "
        f"{BATCH}x{SIZE}x{SIZE}x3\n"
    )
    print("| occlude layer | images/s | Keras layer | images/s | ours / Keras |")
    print("|---|---:|---|---:|---:|")
    for name, _, (other, _) in pairs:
        ours, theirs = statistics.median(ours_ips[name]), statistics.median(theirs_ips[name])
        ratio = statistics.median(ratios[name])
        print(f"| `{name}` | {ours:.0f} | `{other}` | {theirs:.0f} | **{ratio:.2f}** |")


def guided_speed(rounds: int, steps: int) -> None:
    """The saliency-guided layers (no Keras counterpart) on the same batches, with maps."""
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(4 * BATCH, SIZE, SIZE)).astype("float32")
    data = tf.data.Dataset.zip(batches(4), tf.data.Dataset.from_tensor_slices(maps).batch(BATCH))
    data = data.map(lambda d, s: {**d, "saliency": s}).cache()
    layers: list[tuple[str, Layer]] = [
        ("KeepCutout()", KeepCutout(seed=1)),
        ("SaliencyMix()", SaliencyMix(seed=1)),
        ("SaliencyMix(label_by='saliency')", SaliencyMix(label_by="saliency", seed=1)),
        ("AttentiveCutMix()", AttentiveCutMix(seed=1)),
    ]
    runs: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, layer in layers:
            runs.setdefault(name, []).append(throughput(layer, data, steps))
    print("\n| guided layer (no Keras counterpart) | images/s |")
    print("|---|---:|")
    for name, _ in layers:
        print(f"| `{name}` | {statistics.median(runs[name]):.0f} |")


# --- semantics -----------------------------------------------------------------------


def _np(x: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def erasing_rows() -> list[tuple[str, str, str]]:
    """Applied rate at 'always', and where the fill's values lie."""
    n, value = 4000, 100.5
    images = np.full((n, 32, 32, 3), value, dtype="float32")
    rows = []
    outs = {
        "keras": _np(keras.layers.RandomErasing(factor=1.0, seed=0)(images)),
        "ours": _np(RandomErasing(prob=1.0, seed=0)(images)),
    }
    changed = {k: float(np.mean(np.any(v != value, axis=(1, 2, 3)))) for k, v in outs.items()}
    rows.append(
        (
            "RandomErasing 'always' (Keras factor=1.0, ours prob=1.0): images erased",
            f"{changed['keras']:.3f}",
            f"{changed['ours']:.3f}",
        )
    )
    half = _np(RandomErasing(prob=0.5, seed=0)(images))
    rows.append(
        (
            "RandomErasing at prob 0.5 (ours): images erased",
            "-",
            f"{float(np.mean(np.any(half != value, axis=(1, 2, 3)))):.3f}",
        )
    )
    for key in ("keras", "ours"):
        filled = outs[key][outs[key] != value]
        outs[key] = filled
    bounds = {k: float(np.mean((v <= 0) | (v >= 255))) for k, v in outs.items()}
    rows.append(
        (
            "RandomErasing default fill: erased values exactly 0 or 255 (uniform: ~0)",
            f"{bounds['keras']:.3f}",
            f"{bounds['ours']:.4f}",
        )
    )
    stats = {k: f"mean {v.mean():.1f}, sd {v.std():.1f}" for k, v in outs.items()}
    rows.append(
        (
            "RandomErasing default fill: mean and sd (U(0, 255): 127.5, 73.6)",
            stats["keras"],
            stats["ours"],
        )
    )
    return rows


def cutmix_label_error(layer: Layer, batches_: int = 200, b: int = 8, side: int = 32) -> float:
    """Largest |partner's label weight - partner's pixel share| over many batches.

    Image i is constant i + 1 with one-hot class i, so every pixel tells its owner."""
    worst = 0.0
    images = np.broadcast_to(
        np.arange(1, b + 1, dtype="float32")[:, None, None, None], (b, side, side, 3)
    ).copy()
    labels = np.eye(b, dtype="float32")
    for step in range(batches_):
        # A different batch each step (and so fresh draws for a content-keyed layer).
        out = layer({"images": images + step * b, "labels": labels})
        pixels, mixed = _np(out["images"])[..., 0] - step * b, _np(out["labels"])
        for i in range(b):
            share = float(np.mean(pixels[i] != i + 1))
            worst = max(worst, abs((1.0 - mixed[i, i]) - share))
    return worst


def in_tf_data(layer: Layer, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The first element of ``from_tensors(data).map(layer)``, as a user's pipeline runs it."""
    element = next(iter(tf.data.Dataset.from_tensors(data).map(layer)))
    return {k: _np(v) for k, v in element.items()}


def outcome(fn: Callable[[], Any]) -> str:
    try:
        return str(fn())
    except Exception as error:  # what a user would see
        return f"{type(error).__name__}: {str(error).splitlines()[0][:60]}..."


def reproducible(make: Callable[[], Layer]) -> bool:
    """Two fresh iterations of a seeded layer under map(num_parallel_calls=4)."""
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (256, 32, 32, 3)).astype("float32")
    labels = np.eye(4, dtype="float32")[rng.integers(0, 4, 256)]
    layer = make()
    data = tf.data.Dataset.from_tensor_slices({"images": images, "labels": labels}).batch(8)
    data = data.map(layer, num_parallel_calls=4, deterministic=True)
    first = [_np(e["images"]) for e in data]
    second = [_np(e["images"]) for e in data]
    return all(np.array_equal(a, c) for a, c in zip(first, second, strict=True))


def semantics() -> None:
    rows = erasing_rows()
    rows.append(
        (
            "CutMix: largest difference between label weight and pixel share, 32x32",
            f"{cutmix_label_error(keras.layers.CutMix(seed=0)):.3f}",
            f"{cutmix_label_error(CutMix(seed=0)):.3f}",
        )
    )
    one = {"images": np.ones((16, 16, 3), "float32"), "labels": np.eye(4, dtype="float32")[0]}
    rows.append(
        (
            "CutMix on one unbatched image",
            outcome(
                lambda: (
                    "returned unchanged"
                    if np.all(in_tf_data(keras.layers.CutMix(seed=0), one)["images"] == 1)
                    else "changed"
                )
            ),
            outcome(lambda: CutMix(seed=0)(one)),
        )
    )
    masks = {
        "images": np.ones((8, 16, 16, 3), "float32"),
        "labels": np.eye(8, dtype="float32"),
        "segmentation_masks": np.zeros((8, 16, 16, 1), "float32"),
    }
    rows.append(
        (
            "MixUp with (8, 16, 16, 1) masks (eager): masks out",
            outcome(lambda: tuple(keras.layers.MixUp(seed=0)(masks)["segmentation_masks"].shape)),
            outcome(lambda: MixUp(seed=0)(masks)),
        )
    )
    ints = {"images": np.ones((8, 16, 16, 3), "float32"), "labels": np.arange(8, dtype="int32")}
    for name, theirs, ours in (
        ("MixUp", keras.layers.MixUp, MixUp),
        ("CutMix", keras.layers.CutMix, CutMix),
    ):
        rows.append(
            (
                f"{name} with int labels of shape (8,) in tf.data: labels out",
                outcome(lambda t=theirs: in_tf_data(t(seed=0), ints)["labels"].shape),
                outcome(lambda o=ours: o(seed=0)(ints))
                + "; with num_classes=8: "
                + outcome(
                    lambda o=ours: in_tf_data(o(seed=0, num_classes=8), ints)["labels"].shape
                ),
            )
        )
    rows.append(
        (
            "seeded CutMix, tf.data map(num_parallel_calls=4, deterministic=True), two runs equal",
            str(reproducible(lambda: keras.layers.CutMix(seed=0))),
            str(reproducible(lambda: CutMix(seed=0))),
        )
    )
    print(
        f"\nkeras {keras.__version__}, tensorflow {tf.__version__}, "
        f"backend {keras.backend.backend()}\n"
    )
    print("| measured | Keras built-in | occlude.layers |")
    print("|---|---|---|")
    for what, theirs, ours in rows:
        print(f"| {what} | {theirs} | {ours} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--only", choices=("speed", "semantics"))
    args = parser.parse_args()
    if args.only != "semantics":
        speed(args.rounds, args.steps)
        guided_speed(max(1, args.rounds // 2), max(2, args.steps // 4))
    if args.only != "speed":
        semantics()


if __name__ == "__main__":
    main()
