"""The saliency-guided layers: their building blocks against numpy, inputs, errors, config.

The layers' behaviour against a naive reference is in tests/backends/guided.py (run under
every backend by tests/test_layers_stats.py and tests/test_backend_matrix.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from occlude.layers import AttentiveCutMix, KeepCutout, SaliencyMix

BK = KeepCutout().backend


def numpy(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in x.items()}
    return np.asarray(keras.ops.convert_to_numpy(x))


def test_inputs_are_checked_up_front() -> None:
    images = np.zeros((2, 8, 8, 3), "float32")
    maps = np.zeros((2, 8, 8), "float32")
    for layer in (KeepCutout(), SaliencyMix(), AttentiveCutMix()):
        with pytest.raises(ValueError, match=r"needs importance maps: .*received images only"):
            layer(images)
        with pytest.raises(ValueError, match=r"saliency must be one map per image"):
            layer({"images": images, "saliency": np.zeros((2, 8, 7), "float32")})
        out = numpy(layer({"images": images, "saliency": maps[..., None]}))  # (B, H, W, 1) too
        assert out["saliency"].shape == (2, 8, 8, 1)
    for layer in (SaliencyMix(), AttentiveCutMix()):
        with pytest.raises(ValueError, match="needs a batch"):
            layer({"images": images[0], "saliency": maps[0]})
    out = numpy(KeepCutout(fill="white", seed=0)({"images": images[0], "saliency": maps[0]}))
    assert out["images"].shape == (8, 8, 3) and (out["images"] == 255).any()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: KeepCutout(keep_quantile=1.5), "keep_quantile must be between 0 and 1"),
        (lambda: KeepCutout(max_tries=0), "max_tries must be an int from 1 to 10000; received 0"),
        (
            lambda: SaliencyMix(label_by="cam"),
            "label_by must be 'area' or 'saliency'; received 'cam'",
        ),
        (lambda: AttentiveCutMix(grid=0), "grid must be an int from 1 to 32; received 0"),
        (lambda: AttentiveCutMix(grid=2, top_k=5), "top_k must be an int from 1 to grid"),
    ],
)
def test_errors_name_the_parameter(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_defaults_and_config_round_trip(tmp_path: Path) -> None:
    k, s, a = KeepCutout(), SaliencyMix(), AttentiveCutMix()
    assert (k.size, k.keep_quantile, k.max_tries, k.fill, k.prob) == (0.5, 0.5, 10, "grey", 1.0)
    assert (s.alpha, s.prob, s.label_by) == (1.0, 1.0, "area")
    assert (a.grid, a.top_k, a.prob, a.label_by) == (7, 6, 1.0, "area")
    layers = [
        KeepCutout(size=3, keep_quantile=0.3, max_tries=4, fill="mean", seed=1),
        SaliencyMix(alpha=0.5, label_by="saliency", num_classes=3, seed=2),
        AttentiveCutMix(grid=3, top_k=2, label_by="saliency", num_classes=3, seed=3),
    ]
    rng = np.random.default_rng(2)
    data = {
        "images": rng.uniform(0, 255, (4, 9, 9, 3)).astype("float32"),
        "labels": np.array([0, 1, 2, 1], "int32"),
        "saliency": rng.normal(size=(4, 9, 9)).astype("float32"),
    }
    for layer in layers:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
        got, expected = numpy(clone(dict(data))), numpy(layer(dict(data)))
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key])
        # Identity at inference (integer labels still become one-hot for the mixers).
        quiet = numpy(layer(dict(data), training=False))
        np.testing.assert_array_equal(quiet["images"], data["images"])


@pytest.mark.slow
def test_guided_layers_in_tf_data_with_an_unknown_batch_size() -> None:
    import tensorflow as tf

    rng = np.random.default_rng(3)
    data = {
        "images": rng.uniform(0, 255, (10, 12, 12, 3)).astype("float32"),
        "labels": np.eye(10, dtype="float32"),
        "saliency": rng.normal(size=(10, 12, 12)).astype("float32"),
    }
    for layer in (
        KeepCutout(seed=1),
        SaliencyMix(label_by="saliency", seed=2),
        AttentiveCutMix(seed=3),
    ):
        mapped = tf.data.Dataset.from_tensor_slices(data).batch(4).map(layer)  # batch: None
        sizes = [len(element["images"]) for element in mapped]
        assert sizes == [4, 4, 2]
