"""Backend-agnostic statistical and exact checks of occlude.layers.

Each ``check_*`` function builds its inputs with numpy, calls a layer eagerly on the
current Keras backend and asserts on numpy outputs. ``tests/test_layers_stats.py`` runs
them under TensorFlow, ``tests/backends/test_layers_backend.py`` under JAX and PyTorch.

Sampling tolerances are about 4.5 standard errors (stated at each check): the draws are
seeded, so a check gives the same answer every run, and a wrong definition (Keras's 51 %
"always", a linear aspect ratio, a batch-wide lambda) is far outside them.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from scipy import stats

from occlude.layers import CutMix, Cutout, HideAndSeek, MixUp, RandomErasing


def numpy(out: Any) -> Any:
    if isinstance(out, dict):
        return {k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in out.items()}
    return np.asarray(keras.ops.convert_to_numpy(out))


def run(layer: Any, data: Any) -> Any:
    """``layer(data)`` as numpy. Seeded layers are pure functions of their input, so under
    JAX they run jit-compiled (op-by-op JAX compiles every op for every new shape)."""
    if keras.backend.backend() == "jax" and layer.seed is not None:
        import jax

        return numpy(jax.jit(layer.__call__)(data))
    return numpy(layer(data))


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(N,) bool: which samples differ anywhere."""
    return np.any(before != after, axis=tuple(range(1, before.ndim)))


def distinct_images(n: int, side: int, channels: int = 1) -> np.ndarray:
    """Sample i is constant i + 1, so every output pixel tells which sample it came from."""
    values = np.arange(1, n + 1, dtype="float32").reshape(n, 1, 1, 1)
    return np.broadcast_to(values, (n, side, side, channels)).copy()


def bounding_boxes(region: np.ndarray) -> list[tuple[int, int, int, int] | None]:
    """Per sample, the bounding box (x0, y0, x1, y1) of a (N, H, W) region, or None."""
    boxes: list[tuple[int, int, int, int] | None] = []
    for r in region:
        ys, xs = np.nonzero(r)
        boxes.append(None if ys.size == 0 else (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    return boxes


# --- prob: the applied rate -------------------------------------------------------


def check_applied_rate() -> None:
    """Each layer augments a sample with probability exactly ``prob``.

    N = 4000 at prob 0.5: SE = sqrt(0.25 / 4000) = 0.0079, tolerance 0.035 (4.4 SE).
    """
    n = 4000
    flat = np.full((n, 8, 8, 3), 100.0, "float32")
    layers = {
        "Cutout": Cutout(size=2, fill="white", prob=0.5, seed=1),
        "RandomErasing": RandomErasing(prob=0.5, fill="white", seed=1),
        "HideAndSeek": HideAndSeek(fill="white", grid=2, hide_prob=1.0, prob=0.5, seed=1),
    }
    for name, layer in layers.items():
        rate = changed(flat, run(layer, flat)).mean()
        assert abs(rate - 0.5) < 0.035, (name, rate)
    # Mixers: every sample its own value; alpha 1 makes lam == 1 (no visible mix) rare.
    mixed = distinct_images(n, 16)
    for layer in (MixUp(alpha=1.0, prob=0.5, seed=1), CutMix(alpha=1.0, prob=0.5, seed=1)):
        rate = changed(mixed, run(layer, mixed)).mean()
        assert abs(rate - 0.5) < 0.035, (type(layer).__name__, rate)
    # prob 1 is every sample (Keras's RandomErasing(factor=1.0) erases about 51 %).
    assert changed(flat, run(RandomErasing(prob=1.0, fill="white", seed=2), flat)).all()
    assert changed(flat, run(Cutout(prob=1.0, fill="white", seed=2), flat)).all()
    assert not changed(flat, run(Cutout(prob=0.0, seed=2), flat)).any()


# --- Random Erasing: area, aspect, retries -----------------------------------------


def check_random_erasing_geometry() -> None:
    """Areas within area_range, aspect ratios symmetric in log space, one whole box.

    N = 3000 boxes on 48 x 48. The mean of log(h / w) has SD about 0.6, so SE = 0.011 and
    the tolerance 0.05 is 4.5 SE; P(taller) - P(wider) has SE about 0.018, tolerance 0.08.
    A linear aspect ratio (as Albumentations) gives P(taller) about 0.77 and fails.
    """
    n, side = 3000, 48
    flat = np.full((n, side, side, 1), 100.0, "float32")
    out = run(RandomErasing(prob=1.0, fill="white", seed=3), flat)
    region = out[..., 0] != 100.0
    heights, widths = [], []
    for r, box in zip(region, bounding_boxes(region), strict=True):
        assert box is not None
        x0, y0, x1, y1 = box
        assert r.sum() == (x1 - x0) * (y1 - y0)  # one solid box
        heights.append(y1 - y0)
        widths.append(x1 - x0)
    h, w = np.asarray(heights, float), np.asarray(widths, float)
    area = h * w / side**2
    # Sides are rounded to whole pixels: allow that much around (0.02, 0.4).
    assert area.min() >= 0.02 * 0.6 and area.max() <= 0.4 * 1.25, (area.min(), area.max())
    assert area.min() < 0.04 and area.max() > 0.33
    log_aspect = np.log(h / w)
    assert abs(log_aspect.mean()) < 0.05, log_aspect.mean()
    assert abs(np.mean(h > w) - np.mean(w > h)) < 0.08
    # Boxes that can never fit (h = sqrt(0.4 * 3.3) > 1): redrawn 100 times, then nothing.
    never = RandomErasing(prob=1.0, area_range=(0.4, 0.4), aspect_range=(3.3, 3.3), seed=3)
    assert not changed(flat[:50], run(never, flat[:50])).any()


# --- Cutout: centre over every pixel, clipped at the border -------------------------


def check_cutout_border() -> None:
    """Squares of side 16 on 32 x 32, centre uniform over all 1024 pixels: clipped unless
    the centre is in the middle 17 x 17 pixels, so P(clipped) = 1 - (17/32)^2 = 0.7178.

    N = 2000: SE = 0.010, tolerance 0.045 (4.5 SE). A box kept inside the image (as
    Keras's CutMix does) gives 0 and fails.
    """
    n = 2000
    flat = np.full((n, 32, 32, 1), 100.0, "float32")
    out = run(Cutout(size=16, fill="white", seed=4), flat)
    region = out[..., 0] != 100.0
    clipped = 0
    for r, box in zip(region, bounding_boxes(region), strict=True):
        assert box is not None
        x0, y0, x1, y1 = box
        assert r.sum() == (x1 - x0) * (y1 - y0)
        w_, h_ = x1 - x0, y1 - y0
        assert (w_ == 16 or x0 == 0 or x1 == 32) and (h_ == 16 or y0 == 0 or y1 == 32)
        clipped += w_ * h_ < 256
    assert abs(clipped / n - (1 - (17 / 32) ** 2)) < 0.045, clipped / n


# --- Hide-and-Seek: whole cells at hide_prob ----------------------------------------


def check_hide_and_seek_cells() -> None:
    """Cells of 8 px on 30 x 30 (the last row and column clipped to 6 px) are hidden whole,
    each with probability hide_prob = 0.3.

    600 images x 16 cells = 9600 cells: SE = 0.0047, tolerance 0.021 (4.5 SE).
    """
    n = 600
    flat = np.full((n, 30, 30, 1), 100.0, "float32")
    out = run(HideAndSeek(fill="white", grid=8, hide_prob=0.3, seed=5), flat)
    hidden = out[..., 0] != 100.0
    cells = []
    for r in range(4):
        for c in range(4):
            block = hidden[:, r * 8 : (r + 1) * 8, c * 8 : (c + 1) * 8]
            whole = block.reshape(n, -1)
            assert np.all(whole.all(axis=1) | ~whole.any(axis=1))  # all or nothing
            cells.append(whole[:, 0])
    rate = np.mean(cells)
    assert abs(rate - 0.3) < 0.021, rate


def check_hide_and_seek_grid_choice() -> None:
    """The side is drawn per image from grid = (0, 8, 16) (0 hides nothing). On 32 x 32 at
    hide_prob 0.5 an image is unchanged with P = 1/3 + 1/3 * 0.5^4 + 1/3 * 0.5^16 = 0.3542.

    N = 3000: SE = 0.0087, tolerance 0.04 (4.6 SE). One side per batch would make the
    rate 0 or about 0.04 or 1.
    """
    n = 3000
    flat = np.full((n, 32, 32, 1), 100.0, "float32")
    out = run(HideAndSeek(fill="white", grid=(0, 8, 16), hide_prob=0.5, seed=6), flat)
    unchanged = 1.0 - changed(flat, out).mean()
    assert abs(unchanged - (1 / 3 + 1 / 3 * 0.5**4 + 1 / 3 * 0.5**16)) < 0.04, unchanged


# --- fills ------------------------------------------------------------------------------


def check_noise_fill() -> None:
    """Noise is uniform over value_range, independent across channels and samples.

    About 60,000 erased values. The KS statistic's bound 2.47 / sqrt(n) is the 1e-5 level;
    correlations must be below 4.5 / sqrt(n).
    """
    n = 400
    flat = np.full((n, 24, 24, 3), 5.0, "float32")  # outside the range: erased pixels show
    out = run(RandomErasing(prob=1.0, value_range=(-1, 1), seed=7), flat)
    erased = out != 5.0
    values = out[erased]
    assert values.min() >= -1.0 and values.max() < 1.0
    d = stats.kstest(values, stats.uniform(loc=-1, scale=2).cdf).statistic
    assert d < 2.47 / math.sqrt(values.size), d
    both = erased[..., 0] & erased[..., 1]
    r = np.corrcoef(out[..., 0][both], out[..., 1][both])[0, 1]
    assert abs(r) < 4.5 / math.sqrt(both.sum()), r
    pair = erased[0, ..., 0] & erased[1, ..., 0]
    if pair.sum() > 30:
        r = np.corrcoef(out[0, ..., 0][pair], out[1, ..., 0][pair])[0, 1]
        assert abs(r) < 4.5 / math.sqrt(pair.sum()), r
    # uint8 images: every whole value 0..255 equally likely (chi-square, 255 dof:
    # mean 255, SD 22.6; the bound is 5 SD).
    ints = np.zeros((n, 24, 24, 3), "uint8")
    out8 = run(RandomErasing(prob=1.0, seed=8), ints)
    assert out8.dtype == np.uint8
    counts = np.bincount(out8[out8 != 0], minlength=256)[1:]
    expected = counts.sum() / 255
    assert ((counts - expected) ** 2 / expected).sum() < 255 + 5 * 22.6


# --- mixers -------------------------------------------------------------------------


def _mixup_lambdas(alpha: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    images = distinct_images(n, 4)
    labels = np.eye(n, dtype="float32")
    out = run(MixUp(alpha=alpha, seed=seed), {"images": images, "labels": labels})
    lam = np.diagonal(out["labels"]).copy()
    partner = np.argmax(out["labels"] - np.eye(n, dtype="float32") * 2, axis=1)
    assert np.all(partner != np.arange(n))
    own = np.float32(lam)[:, None, None, None]
    expected = own * images + (np.float32(1) - own) * images[partner]
    # The blend is one matrix product, whose fused multiply-adds may round once instead of
    # twice: equal to within an ulp (a different lam would be far off).
    np.testing.assert_allclose(out["images"], expected, rtol=2.5e-7, atol=0)
    return lam, partner


def check_mixup_lambda() -> None:
    """lam ~ Beta(alpha, alpha) per sample and the pixels use exactly the labels' lam.

    N = 2000 per alpha; the KS bound 2.47 / sqrt(N) = 0.055 is the 1e-5 level (one lam per
    batch, or a uniform lam at alpha 0.2, is far beyond it).
    """
    n = 2000
    for alpha, seed in ((0.2, 9), (1.0, 10)):
        lam, partner = _mixup_lambdas(alpha, n, seed)
        d = stats.kstest(lam, stats.beta(alpha, alpha).cdf).statistic
        assert d < 2.47 / math.sqrt(n), (alpha, d)
        # The partner is uniform over the other samples: offsets uniform over 1..n-1.
        offsets = (partner - np.arange(n)) % n
        d = stats.kstest(offsets / n, stats.uniform(loc=1 / n, scale=(n - 1) / n).cdf).statistic
        assert d < 2.47 / math.sqrt(n), ("partner", d)


def check_cutmix_labels_follow_pixels() -> None:
    """The partner's label weight is its share of the pixels, counted exactly (not an
    approximation from box corners, which is off by up to 0.06 in Keras); masks are
    pasted exactly where the pixels are."""
    n, side = 500, 20
    images = distinct_images(n, side, 3)
    labels = np.eye(n, dtype="float32")
    masks = distinct_images(n, side).astype("int32")
    out = run(CutMix(seed=11), {"images": images, "labels": labels, "segmentation_masks": masks})
    clipped = 0
    for i in range(n):
        pasted = out["images"][i, ..., 0] != i + 1
        assert np.array_equal(pasted, out["segmentation_masks"][i, ..., 0] != i + 1)
        share = np.float32(pasted.sum()) / np.float32(side * side)
        if pasted.any():
            j = int(out["images"][i][pasted][0, 0]) - 1
            assert np.all(out["images"][i][pasted] == j + 1)  # one partner, its pixels
            # Bit-exact on TensorFlow and PyTorch; JAX's CPU division is not correctly
            # rounded (x / 400 is off by one ulp for 117 of 0..400), so allow 2 ulps.
            assert abs(out["labels"][i, j] - share) <= 2 * np.spacing(share), (i, share)
            x0, y0, x1, y1 = bounding_boxes(pasted[None])[0] or (0, 0, 0, 0)
            assert pasted.sum() == (x1 - x0) * (y1 - y0)
            clipped += x0 == 0 or y0 == 0 or x1 == side or y1 == side
        assert abs(out["labels"][i, i] - (1 - share)) <= 2 * np.spacing(np.float32(1))
        assert np.isclose(out["labels"][i].sum(), 1.0)
    assert clipped > n // 4  # boxes reach the border (and are clipped there)


# --- seeds ----------------------------------------------------------------------------


def check_seeds() -> None:
    """Same seed and batch: the same output; another seed: another; equal images in one
    batch: different draws; unseeded: every call fresh."""
    images = np.full((8, 16, 16, 3), 50.0, "float32")
    for make in (
        lambda s: Cutout(seed=s),
        lambda s: RandomErasing(prob=1.0, seed=s),
        lambda s: HideAndSeek(fill="grey", grid=4, seed=s),
    ):
        a, b, c = run(make(0), images), run(make(0), images), run(make(1), images)
        assert np.array_equal(a, b) and not np.array_equal(a, c)
        assert len({a[i].tobytes() for i in range(8)}) > 1  # equal images, different draws
    if keras.backend.backend() != "jax":  # eager JAX compiles every op (8 s); fit covers it
        fresh = Cutout(fill="white")
        assert not np.array_equal(numpy(fresh(images)), numpy(fresh(images)))


# --- Keras: in a model, in tf.data --------------------------------------------------------


def check_model_fit() -> None:
    """The occluding layers inside a model: trained a few steps, identity at inference."""
    rng = np.random.default_rng(12)
    x = rng.uniform(0, 255, (48, 16, 16, 3)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 48)]
    augment = [
        Cutout(size=4, seed=1),
        RandomErasing(seed=2),
        HideAndSeek(fill=(124, 116, 104), grid=(0, 4, 8)),  # unseeded: a counter in the model
    ]
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            *augment,
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    head = keras.Sequential(augment)
    np.testing.assert_array_equal(numpy(head(x, training=False)), x)
    assert not np.array_equal(numpy(head(x, training=True)), x)
    np.testing.assert_allclose(model.predict(x, verbose=0), model.predict(x, verbose=0))


def check_tf_data_pipeline() -> None:
    """A keras.layers.Pipeline of the layers and the mixers in a tf.data pipeline (TensorFlow
    computes there whatever Keras's backend is), then model.fit on it; seeded runs are equal.
    (A keras.Sequential fails inside tf.data under JAX: keras-team/keras#19895.)"""
    import tensorflow as tf

    rng = np.random.default_rng(13)
    x = rng.uniform(0, 255, (64, 16, 16, 3)).astype("float32")
    labels = rng.integers(0, 3, 64).astype("int32")
    augment = keras.layers.Pipeline([Cutout(size=4, seed=1), RandomErasing(seed=2)])

    data = tf.data.Dataset.from_tensor_slices({"images": x, "labels": labels})
    data = data.shuffle(64, seed=3, reshuffle_each_iteration=False).batch(16)
    data = data.map(lambda d: {**d, "images": augment(d["images"])})
    data = data.map(CutMix(num_classes=3, seed=4), num_parallel_calls=4, deterministic=True)
    data = data.map(MixUp(alpha=0.4, seed=5), num_parallel_calls=4, deterministic=True)
    data = data.map(lambda d: (d["images"], d["labels"]))
    first, second = ([numpy(b) for b, _ in data] for _ in range(2))  # two fresh iterators
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    history = model.fit(data, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])


# --- every method: the same draws as on NumPy ----------------------------------------


def check_methods_draw_exactly_as_on_numpy() -> None:
    """Each method's ``sample`` on this backend equals NumPy's for the same keys (integer
    arithmetic is exact), so test_methods.py's statistics hold here too."""
    from occlude import draws
    from occlude.augment.methods import METHODS, Mixer, Occluder

    keys = draws.mix32(draws.NUMPY, np.arange(64, dtype="int32"))
    bk = Cutout().backend
    for cls in (c for c in METHODS.values() if issubclass(c, Occluder)):
        method = cls(prob=0.5, fill="grey")
        for h, w in ((20, 24), (7, 5)):
            maps = np.random.default_rng(h * w).integers(-1, 4, (64, h, w)).astype("float32")
            guides = {"saliency": maps} if cls.guided else {}  # integer maps: exact sums
            here = method.sample(bk, bk.convert_to_tensor(keys), h, w, **guides)
            there = keras.tree.flatten(method.sample(draws.NUMPY, keys, h, w, **guides))
            here = keras.tree.flatten(here)
            for a, b in zip(here, there, strict=True):
                np.testing.assert_array_equal(numpy(a), b)
    # The mixers: lam up to the Beta sampler's float maths (a few ulps: JAX's log and exp
    # differ from NumPy's), the rest exactly (a box may move only if lam does).
    for cls in (c for c in METHODS.values() if issubclass(c, Mixer)):
        mixer = cls(prob=0.5)
        here = keras.tree.flatten(mixer.sample(bk, bk.convert_to_tensor(keys), 20, 24, 5))
        there = keras.tree.flatten(mixer.sample(draws.NUMPY, keys, 20, 24, 5))
        for a, b in zip(here, there, strict=True):
            if isinstance(b, str):  # a setting the params carry (saliency-mix's label_by)
                assert a == b
            else:
                np.testing.assert_allclose(numpy(a), b, rtol=1e-5)


CHECKS = [
    check_methods_draw_exactly_as_on_numpy,
    check_applied_rate,
    check_random_erasing_geometry,
    check_cutout_border,
    check_hide_and_seek_cells,
    check_hide_and_seek_grid_choice,
    check_noise_fill,
    check_mixup_lambda,
    check_cutmix_labels_follow_pixels,
    check_seeds,
    check_model_fit,
    check_tf_data_pipeline,
]
