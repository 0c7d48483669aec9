"""occlude.layers refuse what they cannot do, with their own messages (TensorFlow here;
tests/backends/refusals.py runs the backend-agnostic part under JAX and PyTorch too):
booleans and non-finite numbers as settings, limits that are stated, class indices out of
range (eagerly, and inside tf.data when the values exist), dtypes, batch sizes, and
channels-first data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from occlude.augment import geometry as geo
from occlude.errors import UsageError
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

LAYERS: dict[str, Callable[..., Any]] = {
    "Cutout": Cutout,
    "HideAndSeek": lambda **kw: HideAndSeek(**{"fill": "grey", **kw}),
    "RandomErasing": RandomErasing,
    "KeepCutout": KeepCutout,
    "MixUp": MixUp,
    "CutMix": CutMix,
    "SaliencyMix": SaliencyMix,
    "AttentiveCutMix": AttentiveCutMix,
}
# Every numeric setting of every layer, with a valid value of it.
NUMBERS = [
    ("Cutout", "holes", 2),
    ("Cutout", "size", 0.25),
    ("Cutout", "prob", 0.5),
    ("Cutout", "ignore_class", 3),
    ("Cutout", "seed", 1),
    ("Cutout", "fill", 128),
    ("HideAndSeek", "grid", 8),
    ("HideAndSeek", "hide_prob", 0.5),
    ("RandomErasing", "max_attempts", 10),
    ("KeepCutout", "keep_quantile", 0.5),
    ("KeepCutout", "max_tries", 5),
    ("MixUp", "alpha", 1),
    ("MixUp", "num_classes", 3),
    ("CutMix", "alpha", 1),
    ("SaliencyMix", "alpha", 1),
    ("AttentiveCutMix", "grid", 3),
    ("AttentiveCutMix", "top_k", 1),
]
PAIRS = [
    ("Cutout", "value_range"),
    ("RandomErasing", "area_range"),
    ("RandomErasing", "aspect_range"),
]


@pytest.mark.parametrize(("layer", "name", "good"), NUMBERS)
def test_numeric_settings_refuse_booleans_and_take_numpy_numbers(
    layer: str, name: str, good: Any
) -> None:
    for bad in (True, False, np.bool_(True)):
        with pytest.raises(UsageError, match=f"{name} must be .*received {bad!r}"):
            LAYERS[layer](**{name: bad})
    made = LAYERS[layer](**{name: np.asarray(good).dtype.type(good)})
    saved = made.get_config()[name]  # a plain Python number, for the JSON config
    saved = saved[0] if isinstance(saved, list) else saved  # HideAndSeek's grid: a list
    assert saved == good and type(saved) in (int, float)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize(
    ("layer", "name"), [(a, b) for a, b, _ in NUMBERS if b not in ("seed", "ignore_class")]
)
def test_numeric_settings_refuse_nan_and_infinity(layer: str, name: str, bad: float) -> None:
    with pytest.raises(UsageError, match=f"{name} .*received"):
        LAYERS[layer](**{name: bad})


@pytest.mark.parametrize(("layer", "name"), PAIRS)
@pytest.mark.parametrize(
    "bad", [(0.3, float("inf")), (float("nan"), 0.5), (-float("inf"), 0.5), (True, 0.5)]
)
def test_ranges_refuse_non_finite_bounds_and_booleans(
    layer: str, name: str, bad: tuple[float, float]
) -> None:
    with pytest.raises(UsageError, match=rf"{name} must be (finite|two numbers).*received"):
        LAYERS[layer](**{name: bad})


def test_random_erasing_with_an_infinite_aspect_range_is_refused() -> None:
    """It was accepted and never erased (no box of infinite aspect fits)."""
    with pytest.raises(UsageError, match=r"aspect_range must be finite; received \(0.3, inf\)"):
        RandomErasing(aspect_range=(0.3, float("inf")))


def test_fills_refuse_booleans_and_non_finite_colours() -> None:
    for bad in [(True, 0, 0), (255, 0, float("nan")), float("inf"), ("1", "2", "3")]:
        with pytest.raises(UsageError, match="fill must be"):
            Cutout(fill=bad)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Cutout(holes=1025), "holes must be an int from 1 to 1024; received 1025"),
        (lambda: Cutout(holes=10**6), "holes must be an int from 1 to 1024; received 1000000"),
        (
            lambda: RandomErasing(max_attempts=10**5),
            "max_attempts must be an int from 1 to 10000; received 100000",
        ),
        (lambda: KeepCutout(max_tries=10**5), "max_tries must be an int from 1 to 10000"),
        (lambda: AttentiveCutMix(grid=33), "grid must be an int from 1 to 32; received 33"),
        (lambda: HideAndSeek(fill="grey", grid=2**31), r"grid must be .* to 1073741824;"),
        (lambda: MixUp(alpha=1e6), "alpha must be a positive number below 1,000,000; received"),
        (lambda: CutMix(alpha=float("inf")), "alpha must be a positive number below 1,000,000"),
        (lambda: Cutout(data_format="NHWC"), "data_format must be 'channels_last', 'channels_"),
    ],
)
def test_limits_are_stated(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        make()


def test_many_holes_paint_the_union_of_their_boxes() -> None:
    """Several boxes per sample are painted at once (a product of 0/1 matrices): exactly the
    CLI's union of boxes; and the most holes allowed run."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (2, 9, 11, 3)).astype("uint8")
    boxes = [
        [(2, 1, 7, 5), (0, 6, 11, 9), (5, 0, 6, 9)],
        [(0, 0, 1, 1), (3, 3, 3, 8), (1, 2, 4, 4)],
    ]
    x0, y0, x1, y1 = (np.array([[b[k] for b in s] for s in boxes], "int32") for k in range(4))
    bk = Cutout().backend
    region = geo.box_region(bk, geo.Boxes(x0, y0, x1, y1), 9, 11, np.array([True, True]))
    out = np.asarray(geo.paint(bk, image.astype("float32"), region, np.float32(128.0)))
    for i in range(2):
        expected = image[i].copy()
        for bx0, by0, bx1, by1 in boxes[i]:
            expected[by0:by1, bx0:bx1] = 128
        np.testing.assert_array_equal(out[i].astype("uint8"), expected)
    images = np.zeros((2, 16, 16, 3), "float32")
    assert np.all(np.asarray(Cutout(holes=1024, size=2, fill="white", seed=0)(images)) == 255)


# --- class indices -------------------------------------------------------------------


def mixed(layer: Any, labels: Any) -> dict[str, Any]:
    images = np.random.default_rng(4).uniform(0, 255, (4, 8, 8, 3)).astype("float32")
    return {"images": images, "labels": labels}


@pytest.mark.parametrize("make", [MixUp, CutMix])
def test_class_indices_out_of_range_are_refused_eagerly(make: Callable[..., Any]) -> None:
    layer = make(num_classes=3, seed=0)
    for labels, seen in [([0, 1, 3, 2], "0, 3"), ([[0], [-1], [2], [2]], "-1, 2")]:
        for as_tensor in (np.array, tf.constant):
            with pytest.raises(UsageError, match=rf"num_classes - 1 = 2; .*: {seen}$"):
                layer(mixed(layer, as_tensor(np.array(labels, "int64"))))
    out = layer(mixed(layer, np.array([0, 2, 2, 1], "uint8")))
    np.testing.assert_allclose(np.asarray(out["labels"]).sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.slow
def test_class_indices_out_of_range_stop_a_tf_data_pipeline() -> None:
    """Inside tf.data the values exist only when the pipeline runs: an assertion there stops
    it with the layer's message (clipping would train on wrong labels; all-zero rows on
    labels that sum to anything)."""
    layer = CutMix(num_classes=3, seed=0)
    images = np.zeros((8, 8, 8, 3), "float32")
    good = tf.data.Dataset.from_tensor_slices({"images": images, "labels": np.arange(8) % 3})
    assert len(list(good.batch(4).map(layer))) == 2
    labels = np.array([0, 1, 2, 0, 1, 7, 2, 0])
    bad = tf.data.Dataset.from_tensor_slices({"images": images, "labels": labels})
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes - 1 = 2"):
        list(bad.batch(4).map(layer))
    step = tf.function(lambda d: layer(d)["labels"])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"received \(lowest, highest\)"):
        step({"images": images, "labels": tf.constant(labels)})
    # Beyond int32 too (a cast first would wrap 2^32 + 1 to class 1).
    with pytest.raises(tf.errors.InvalidArgumentError, match="4294967297"):
        step({"images": images, "labels": tf.constant(np.where(labels == 7, 2**32 + 1, labels))})


def test_run_time_checks_leave_tf_data_free_to_parallelise_the_map() -> None:
    """The checks are bare Assert ops (no cond around them): tf.data parallelises a map whose
    only stateful ops are Asserts, so a seeded layer stays parallelisable."""
    from tensorflow.python.framework import op_def_registry

    spec = {
        "images": tf.TensorSpec((None, 8, 8, 3), tf.float32),
        "labels": tf.TensorSpec((None,), tf.int64),
        "segmentation_masks": tf.TensorSpec((None, 8, 8, 1), tf.uint8),
    }
    for layer in (CutMix(num_classes=3, seed=0), Cutout(seed=0, ignore_class=9)):
        graph = tf.function(layer).get_concrete_function(spec).graph
        kinds = {op.type for op in graph.get_operations()}
        stateful = {k for k in kinds if op_def_registry.get(k).is_stateful}
        assert stateful == {"Assert"}, stateful


def test_class_indices_out_of_range_are_nan_rows_where_xla_drops_assertions() -> None:
    layer = CutMix(num_classes=3, seed=0)
    step = tf.function(lambda d: layer(d)["labels"], jit_compile=True)
    images = np.zeros((4, 8, 8, 3), "float32")
    out = step({"images": images, "labels": tf.constant([0, 1, 7, 2])}).numpy()
    # Its row, and any row mixed with it: NaN; the others keep their labels.
    assert np.isnan(out[2]).all() and np.isfinite(out).all(axis=1).any()


# --- dtypes, batch sizes, masks -----------------------------------------------------------


@pytest.mark.parametrize("dtype", ["bool", "complex64"])
def test_images_must_be_integers_or_floats(dtype: str) -> None:
    with pytest.raises(UsageError, match=f"Cutout: images must be integer or float; .*{dtype}"):
        Cutout()(np.zeros((2, 8, 8, 3), dtype))


def test_labels_must_be_numbers_for_the_mixers() -> None:
    with pytest.raises(UsageError, match=r"MixUp: labels must be integer or float; .*bool"):
        MixUp(num_classes=2)(mixed(None, np.array([True, False, True, True])))


@pytest.mark.parametrize("make", [Cutout, MixUp])
def test_labels_of_another_batch_size_are_refused(make: Callable[..., Any]) -> None:
    with pytest.raises(UsageError, match=r"labels must hold one label per image, \(B, ...\);"):
        make()(mixed(None, np.eye(3, dtype="float32")))
    with pytest.raises(UsageError, match=r"received labels of shape \(\) for images"):
        make()(mixed(None, np.float32(1)))


@pytest.mark.slow
def test_batch_sizes_known_only_in_tf_data_are_checked_there() -> None:
    rng = np.random.default_rng(5)
    data = {
        "images": rng.uniform(0, 255, (8, 8, 8, 3)).astype("float32"),
        "labels": np.eye(8, dtype="float32"),
    }
    for layer in (Cutout(seed=0), CutMix(seed=0)):
        batches = tf.data.Dataset.from_tensor_slices(data).batch(4)  # batch size None
        short = batches.map(lambda d: {**d, "labels": d["labels"][1:]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="labels must hold one entry"):
            list(short.map(layer))
        assert len(list(batches.map(layer))) == 2


def test_masks_must_match_the_images_and_hold_ignore_class() -> None:
    images = np.zeros((2, 8, 8, 3), "float32")
    for masks in (np.zeros((2, 8, 7), "uint8"), np.zeros((3, 8, 8, 1), "uint8")):
        with pytest.raises(UsageError, match=r"segmentation_masks must be one map per image"):
            Cutout()({"images": images, "segmentation_masks": masks})
    with pytest.raises(
        UsageError, match=r"ignore_class=300 is not a value of .* uint8 \(0 to 255\)"
    ):
        Cutout(ignore_class=300)(
            {"images": images, "segmentation_masks": np.zeros((2, 8, 8), "uint8")}
        )
    with pytest.raises(UsageError, match=r"ignore_class=-1 is not a value of .* uint8"):
        Cutout(ignore_class=-1)(
            {"images": images, "segmentation_masks": np.zeros((2, 8, 8), "uint8")}
        )


# --- channels first ------------------------------------------------------------------------


@pytest.fixture
def channels_first() -> Any:
    before = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    yield
    keras.config.set_image_data_format(before)


def test_data_format_defaults_to_keras_setting_and_is_saved(channels_first: None) -> None:
    layer = Cutout(size=3, fill="white", seed=0)
    assert layer.data_format == "channels_first"
    assert Cutout(data_format="channels_last").data_format == "channels_last"
    config = layer.get_config()
    assert config["data_format"] == "channels_first"
    keras.config.set_image_data_format("channels_last")
    clone = Cutout.from_config(config)
    assert clone.data_format == "channels_first"
    # Stripes across the channel axis were the defect: the square covers all channels.
    out = np.asarray(clone(np.zeros((2, 3, 10, 12), "float32")))
    painted = out == 255
    assert painted.any() and np.all(painted == painted[:, :1])
    with pytest.raises(UsageError, match=r"images must be a batch \(B, C, H, W\) or one image"):
        clone(np.zeros((8, 8), "float32"))


@pytest.mark.slow
def test_channels_first_in_tf_data_with_saliency() -> None:
    rng = np.random.default_rng(6)
    images = rng.uniform(0, 255, (6, 3, 10, 12)).astype("float32")
    maps = rng.normal(size=(6, 1, 10, 12)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices({"images": images, "saliency": maps}).batch(3)
    for make in (KeepCutout, SaliencyMix):
        first = make(seed=1, data_format="channels_first")
        last = make(seed=1, data_format="channels_last")
        got = [d["images"].numpy() for d in data.map(first)]
        expected = [
            last(
                {"images": images[i : i + 3].transpose(0, 2, 3, 1), "saliency": maps[i : i + 3, 0]}
            )
            for i in (0, 3)
        ]
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, np.asarray(e["images"]).transpose(0, 3, 1, 2))
    with pytest.raises(UsageError, match=r"saliency must be one map per image, .*\(B, C, H, W\)"):
        SaliencyMix(data_format="channels_first")({"images": images, "saliency": maps[:, :, :, :5]})
