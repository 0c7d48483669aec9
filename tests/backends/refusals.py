"""Checks, on whichever Keras backend is running, that every layer honours channels-first
data and refuses what it cannot do with its own message (not a backend's error)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

from backends.checks import numpy, run
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


def every_layer(data_format: str) -> list[Any]:
    """One of each layer, seeded, with settings that change something in a 10 x 12 image."""
    kw: dict[str, Any] = {"data_format": data_format}
    return [
        Cutout(holes=3, size=4, fill=(10, 20, 30), ignore_class=9, seed=1, **kw),
        HideAndSeek(fill="noise", grid=(3, 4), seed=2, **kw),
        RandomErasing(prob=1.0, fill="noise", seed=3, **kw),
        KeepCutout(size=5, fill="white", seed=4, **kw),
        MixUp(alpha=1.0, num_classes=5, seed=5, **kw),
        CutMix(num_classes=5, seed=6, **kw),
        SaliencyMix(label_by="saliency", num_classes=5, seed=7, **kw),
        AttentiveCutMix(grid=3, top_k=2, num_classes=5, seed=8, **kw),
    ]


def example(n: int = 6) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(30)
    return {
        "images": rng.uniform(0, 255, (n, 10, 12, 3)).astype("float32"),
        "labels": rng.integers(0, 5, n).astype("int32"),
        "segmentation_masks": rng.integers(0, 4, (n, 10, 12, 1)).astype("uint8"),
        "saliency": rng.normal(size=(n, 10, 12)).astype("float32"),
    }


def usable(layer: Any, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The entries ``layer`` takes: saliency for the guided ones, no masks for MixUp."""
    drop = {"saliency"} if not layer.needs_saliency else set()
    drop |= {"segmentation_masks"} if isinstance(layer, MixUp) else set()
    return {k: v for k, v in data.items() if k not in drop}


def on_jax() -> bool:
    """JAX compiles each layer for each input (seconds each): its checks use fewer layers."""
    return bool(keras.backend.backend() == "jax")


def check_channels_first_is_the_transpose() -> None:
    """Every layer (under JAX one occluder and one mixer), channels first: exactly the
    transpose of its channels-last output for the same seed (images, masks; the labels are
    equal), batched and, for the occluders, one image."""
    data = example()
    first = {
        **data,
        "images": data["images"].transpose(0, 3, 1, 2),
        "segmentation_masks": data["segmentation_masks"].transpose(0, 3, 1, 2),
    }
    pairs = list(zip(every_layer("channels_last"), every_layer("channels_first"), strict=True))
    for last_layer, first_layer in [pairs[0], pairs[5]] if on_jax() else pairs:
        name = type(last_layer).__name__
        entries = usable(last_layer, data)
        expected = run(last_layer, entries)
        got = run(first_layer, {k: first[k] for k in entries})
        assert not np.array_equal(expected["images"], data["images"]), name
        np.testing.assert_array_equal(got["images"], expected["images"].transpose(0, 3, 1, 2))
        np.testing.assert_array_equal(got["labels"], expected["labels"])
        if "segmentation_masks" in expected:
            np.testing.assert_array_equal(
                got["segmentation_masks"], expected["segmentation_masks"].transpose(0, 3, 1, 2)
            )
        if not (last_layer.needs_batch or last_layer.needs_saliency or on_jax()):
            one = run(first_layer, first["images"][0])
            np.testing.assert_array_equal(
                one, run(last_layer, data["images"][0]).transpose(2, 0, 1)
            )

    # The mean fill is a reduction, which XLA may order otherwise for another layout.
    kw = {"holes": 2, "fill": "mean", "seed": 9}
    last = run(Cutout(data_format="channels_last", **kw), data["images"])
    got = run(Cutout(data_format="channels_first", **kw), first["images"])
    np.testing.assert_allclose(got, last.transpose(0, 3, 1, 2), rtol=1e-6)


def check_class_indices_out_of_range_are_refused() -> None:
    """Integer labels outside [0, num_classes) would be all-zero rows: every mixer refuses
    them, at inference too; under JAX also inside jit, when the values exist."""
    data = example(4)
    for layer in every_layer("channels_last")[4:]:
        for bad, seen in [([0, 1, 5, 2], "0, 5"), ([0, -1, 2, 3], "-1, 3")]:
            labels = np.array(bad, "int32")
            for training in (True, False):
                with pytest.raises(UsageError, match=f"from 0 to num_classes - 1 = 4; .*: {seen}$"):
                    layer(usable(layer, {**data, "labels": labels}), training=training)
        if not on_jax():
            good = usable(layer, {**data, "labels": np.array([0, 4, 4, 0], "int32")})
            np.testing.assert_allclose(run(layer, good)["labels"].sum(axis=1), 1.0, rtol=1e-6)
    if on_jax():
        import jax

        mixed = jax.jit(MixUp(num_classes=3, seed=0).__call__)
        good = {"images": data["images"], "labels": np.array([0, 1, 2, 1], "int32")}
        assert numpy(mixed(good))["labels"].shape == (4, 3)
        with pytest.raises(
            Exception, match=r"num_classes - 1 = 2; received \(lowest, highest\): 0, 5"
        ):
            numpy(mixed({**good, "labels": np.array([0, 1, 5, 1], "int32")}))


def check_inputs_are_refused_with_the_layers_messages() -> None:
    """Bool images, labels or masks of another batch size: the layer's message, before any
    backend op runs."""
    data = example(4)
    for layer in every_layer("channels_last"):
        name = type(layer).__name__
        entries = usable(layer, {**data, "labels": np.eye(5, dtype="float32")[data["labels"]]})
        with pytest.raises(UsageError, match=f"{name}: images must be integer or float; .*bool"):
            layer({**entries, "images": entries["images"] > 100})
        with pytest.raises(UsageError, match=f"{name}: labels must hold one label per image"):
            layer({**entries, "labels": entries["labels"][:3]})
        if "segmentation_masks" in entries:
            with pytest.raises(UsageError, match="segmentation_masks must be one map per image"):
                layer({**entries, "segmentation_masks": entries["segmentation_masks"][:3]})


REFUSAL_CHECKS = [
    check_channels_first_is_the_transpose,
    check_class_indices_out_of_range_are_refused,
    check_inputs_are_refused_with_the_layers_messages,
]
