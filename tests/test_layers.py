"""occlude.layers: fills, masks, labels, dtypes, errors and configs of the layers (the
methods' draws, on every adapter, are in test_methods.py)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

from occlude.fill import Fill
from occlude.layers import CutMix, Cutout, HideAndSeek, MixUp, RandomErasing


def numpy(out: Any) -> Any:
    if isinstance(out, dict):
        return {k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in out.items()}
    return np.asarray(keras.ops.convert_to_numpy(out))


# --- fills --------------------------------------------------------------------------


def whole(layer_fill: Any, images: np.ndarray, **kwargs: Any) -> np.ndarray:
    """A Cutout covering the whole image (side 1000, clipped), so every pixel is fill."""
    return numpy(Cutout(size=1000, fill=layer_fill, seed=0, **kwargs)(images))


@pytest.mark.parametrize(
    ("value_range", "grey", "white"),
    [((0, 255), 127.5, 255.0), ((0, 1), 0.5, 1.0), ((-1, 1), 0.0, 1.0)],
)
def test_constant_fills_are_scaled_to_value_range(
    value_range: tuple[float, float], grey: float, white: float
) -> None:
    images = np.full((2, 4, 4, 3), 0.25, "float32")
    assert np.all(whole("grey", images, value_range=value_range) == np.float32(grey))
    assert np.all(whole("white", images, value_range=value_range) == np.float32(white))
    low, high = value_range
    rgb = whole((255, 0, 51), images, value_range=value_range)[0, 0, 0]
    np.testing.assert_allclose(rgb, [high, low, low + 0.2 * (high - low)], rtol=1e-6)


def test_integer_images_round_half_to_even_as_the_cli() -> None:
    images = np.zeros((1, 3, 3, 3), "uint8")
    out = whole("grey", images)
    assert out.dtype == np.uint8 and np.all(out == 128)  # 127.5 -> 128, as --fill grey


def test_grey_images_get_the_luma_of_a_colour() -> None:
    images = np.zeros((1, 3, 3, 1), "float32")
    np.testing.assert_allclose(whole("255,0,0", images), 0.299 * 255, rtol=1e-6)
    with pytest.raises(ValueError, match="received images with 2 channels"):
        whole((255, 0, 0), np.zeros((1, 3, 3, 2), "float32"))


def test_mean_fill_is_each_images_own_mean() -> None:
    rng = np.random.default_rng(2)
    images = rng.uniform(0, 255, (3, 5, 6, 3)).astype("float32")
    out = whole("mean", images)
    np.testing.assert_allclose(
        out, np.broadcast_to(images.mean(axis=(1, 2), keepdims=True), out.shape), rtol=1e-5
    )


def test_fill_is_parsed_once_and_errors_name_fill() -> None:
    assert Cutout(fill="64").method.fill == Fill("constant", (64.0, 64.0, 64.0))
    assert Cutout(fill="10,20,30").method.fill == Fill("constant", (10.0, 20.0, 30.0))
    for bad, match in [
        ("purple", "unknown fill 'purple'"),
        (300, "fill colour must be 0-255 per channel; received 300"),
        ((1, 2), "one number or three"),
        ("dataset-mean", "dataset_mean"),
    ]:
        with pytest.raises(ValueError, match=match):
            Cutout(fill=bad)


# --- masks, labels, other entries ------------------------------------------------------


def test_occluders_leave_labels_and_masks_or_write_ignore_class() -> None:
    images = np.full((4, 8, 8, 3), 10.0, "float32")
    masks = np.ones((4, 8, 8, 1), "int32")
    labels = np.arange(4, dtype="int32")
    data = {"images": images, "labels": labels, "segmentation_masks": masks, "ids": labels}
    for layer in (
        Cutout(fill="white", seed=1),
        RandomErasing(prob=1.0, fill="white", seed=1),
        HideAndSeek(fill="white", grid=2, seed=1),
    ):
        out = numpy(layer(dict(data)))
        np.testing.assert_array_equal(out["labels"], labels)
        np.testing.assert_array_equal(out["ids"], labels)
        np.testing.assert_array_equal(out["segmentation_masks"], masks)
        assert out["labels"].dtype == np.int32
    out = numpy(Cutout(fill="white", ignore_class=255, seed=1)(dict(data)))
    occluded = out["images"][..., 0] != 10.0
    assert occluded.any()
    np.testing.assert_array_equal(out["segmentation_masks"][..., 0], np.where(occluded, 255, 1))


def test_cutmix_pastes_masks_with_pixels_and_mixup_refuses_them() -> None:
    images = np.stack([np.full((8, 8, 3), v, "float32") for v in (1, 2)])
    masks = np.stack([np.full((8, 8), v, "uint8") for v in (1, 2)])
    out = numpy(CutMix(seed=3)({"images": images, "segmentation_masks": masks}))
    assert np.array_equal(out["segmentation_masks"], out["images"][..., 0].astype("uint8"))
    assert out["segmentation_masks"].dtype == np.uint8
    with pytest.raises(ValueError, match="refuses segmentation_masks"):
        MixUp()({"images": images, "segmentation_masks": masks})


def test_integer_labels_need_num_classes_and_are_then_one_hot() -> None:
    images = np.stack([np.full((4, 4, 3), v, "float32") for v in range(4)])
    labels = np.array([0, 1, 2, 3], "int32")
    for layer_class in (MixUp, CutMix):
        with pytest.raises(ValueError, match="one-hot labels, or num_classes=N"):
            layer_class()({"images": images, "labels": labels})
        for shape in [(4,), (4, 1)]:
            out = numpy(
                layer_class(num_classes=5, seed=0)(
                    {"images": images, "labels": labels.reshape(shape)}
                )
            )
            assert out["labels"].shape == (4, 5) and out["labels"].dtype == np.float32
            np.testing.assert_allclose(out["labels"].sum(axis=1), 1.0, rtol=1e-6)
            assert np.all(out["labels"][:, 4] == 0)
        with pytest.raises(ValueError, match=r"\(B, num_classes=5\)"):
            layer_class(num_classes=5)({"images": images, "labels": np.eye(4, dtype="float32")})
        # At inference the conversion still happens, so the output has one structure.
        out = numpy(
            layer_class(num_classes=5)({"images": images, "labels": labels}, training=False)
        )
        np.testing.assert_array_equal(out["labels"], np.eye(5, dtype="float32")[labels])


def test_mixers_refuse_entries_they_cannot_keep_consistent() -> None:
    images = np.zeros((2, 4, 4, 3), "float32")
    with pytest.raises(ValueError, match=r"cannot keep \['bounding_boxes'\]"):
        CutMix()({"images": images, "bounding_boxes": np.zeros((2, 1, 4), "float32")})


def test_a_batch_of_one_has_no_partner_and_is_unchanged() -> None:
    images = np.full((1, 4, 4, 3), 9.0, "float32")
    labels = np.eye(3, dtype="float32")[:1]
    for layer in (MixUp(seed=0), CutMix(seed=0)):
        out = numpy(layer({"images": images, "labels": labels}))
        np.testing.assert_array_equal(out["images"], images)
        np.testing.assert_array_equal(out["labels"], labels)


# --- batches, dtypes, training ------------------------------------------------------------


def test_unbatched_images_work_for_occluders_and_mixers_say_they_need_a_batch() -> None:
    image = np.full((8, 8, 3), 10.0, "float32")
    out = numpy(Cutout(fill="white", seed=0)({"images": image, "labels": np.float32(1)}))
    assert out["images"].shape == (8, 8, 3) and (out["images"] == 255).any()
    assert out["labels"].shape == ()
    for layer in (MixUp(), CutMix()):
        with pytest.raises(ValueError, match=r"needs a batch \(B, H, W, C\); received one image"):
            layer(image)
    with pytest.raises(ValueError, match=r"received shape \(8, 8\)"):
        Cutout()(image[..., 0])
    with pytest.raises(ValueError, match="'images' entry; received a dict with keys"):
        Cutout()({"image": image})


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float16", "float32", "float64"])
def test_output_dtype_is_input_dtype(dtype: str) -> None:
    images = np.full((4, 8, 8, 3), 3, dtype)
    for layer in (Cutout(seed=0), RandomErasing(prob=1.0, seed=0), MixUp(seed=0), CutMix(seed=0)):
        assert numpy(layer(images)).dtype == np.dtype(dtype)


def test_prob_zero_and_inference_are_the_identity() -> None:
    rng = np.random.default_rng(4)
    images = rng.uniform(0, 255, (6, 8, 8, 3)).astype("float32")
    labels = np.eye(6, dtype="float32")
    data = {"images": images, "labels": labels}
    layers = [
        Cutout(seed=0),
        HideAndSeek(fill="grey", seed=0),
        RandomErasing(prob=1.0, seed=0),
        MixUp(seed=0),
        CutMix(seed=0),
    ]
    for layer in layers:
        out = numpy(layer(dict(data), training=False))
        np.testing.assert_array_equal(out["images"], images)
        np.testing.assert_array_equal(out["labels"], labels)
        assert not np.array_equal(numpy(layer(dict(data)))["images"], images)  # direct: augments
    for layer in (
        Cutout(prob=0.0),
        HideAndSeek(fill="grey", prob=0.0),
        RandomErasing(prob=0.0),
        MixUp(prob=0.0),
        CutMix(prob=0.0),
    ):
        out = numpy(layer(dict(data)))
        np.testing.assert_array_equal(out["images"], images)
        np.testing.assert_array_equal(out["labels"], labels)


# --- parameters ------------------------------------------------------------------------


def test_defaults_are_the_clis() -> None:
    c = Cutout()
    assert (c.holes, c.size, c.fill, c.prob) == (1, 0.5, "grey", 1.0)
    h = HideAndSeek(fill="grey")
    assert (h.grid, h.hide_prob, h.prob) == ((0, 16, 32, 44, 56), 0.5, 1.0)
    r = RandomErasing()
    assert (r.prob, r.area_range, r.fill, r.max_attempts) == (0.5, (0.02, 0.4), "noise", 100)
    assert r.aspect_range == pytest.approx((0.3, 1 / 0.3))
    assert (MixUp().alpha, MixUp().prob, CutMix().alpha, CutMix().prob) == (0.2, 1.0, 1.0, 1.0)
    assert Cutout().value_range == (0.0, 255.0)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Cutout(holes=0), "holes must be an int from 1 to 1024; received 0"),
        (lambda: Cutout(size=0), "size must be a positive number; received 0"),
        (lambda: Cutout(size=2.5), "size of 1 or more .* whole; received 2.5"),
        (lambda: Cutout(prob=1.5), "prob must be between 0 and 1; received 1.5"),
        (
            lambda: Cutout(value_range=(1, 1)),
            r"value_range needs finite low < high; received \(1, 1\)",
        ),
        (lambda: Cutout(seed=1.5), "seed must be an int or None; received 1.5"),
        (lambda: Cutout(ignore_class="x"), "ignore_class must be an int or None"),
        (lambda: HideAndSeek(), "HideAndSeek needs fill: .*dataset_mean"),
        (lambda: HideAndSeek(fill="grey", grid=(16, -1)), r"grid must be .*received \(16, -1\)"),
        (lambda: HideAndSeek(fill="grey", hide_prob=2), "hide_prob must be between 0 and 1"),
        (lambda: RandomErasing(area_range=(0.5, 0.1)), r"area_range needs 0 < low <= high <= 1"),
        (lambda: RandomErasing(area_range=(0.1,)), r"area_range must be \(low, high\)"),
        (lambda: RandomErasing(aspect_range=(0, 2)), "aspect_range needs 0 < low <= high"),
        (lambda: RandomErasing(max_attempts=0), "max_attempts must be an int from 1 to 10000"),
        (lambda: MixUp(alpha=0), "alpha must be a positive number below 1,000,000; received 0"),
        (
            lambda: CutMix(num_classes=0),
            "num_classes must be an int, at least 1, or None; received 0",
        ),
    ],
)
def test_errors_name_the_parameter_and_what_was_received(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_config_round_trip() -> None:
    layers = [
        Cutout(
            holes=2, size=5, fill=(1, 2, 3), prob=0.7, ignore_class=9, value_range=(0, 1), seed=3
        ),
        HideAndSeek(fill=[120.0, 110.0, 100.0], grid=(8, 16), hide_prob=0.25, seed=4),
        RandomErasing(prob=0.9, area_range=(0.1, 0.2), aspect_range=(0.5, 2), fill="mean", seed=5),
        MixUp(alpha=0.4, prob=0.5, num_classes=10, seed=6),
        CutMix(alpha=2.0, prob=0.5, num_classes=3, seed=7),
    ]
    images = np.random.default_rng(5).uniform(0, 1, (4, 12, 12, 3)).astype("float32")
    for layer in layers:
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert clone.get_config() == config
        np.testing.assert_array_equal(numpy(clone(images)), numpy(layer(images)))
