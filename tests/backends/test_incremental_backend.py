"""Incremental exactness under the active Keras backend (JAX, TensorFlow, ...).

Runs only with ``OCCLUDE_BACKEND_CHECK=1`` (set ``KERAS_BACKEND`` too); the normal suite
starts it under JAX and PyTorch in subprocesses (tests/test_backend_matrix.py). Models: a
hand-built one and a small MobileNetV2 at 64x64, randomized as in tests/incmodels.py.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from incmodels import randomize

pytestmark = pytest.mark.skipif(
    os.environ.get("OCCLUDE_BACKEND_CHECK") != "1", reason="set OCCLUDE_BACKEND_CHECK=1"
)


def _hand_built(size):
    import keras

    L = keras.layers
    inputs = keras.Input((*size, 3))
    x = L.ZeroPadding2D(((0, 1), (0, 1)))(inputs)
    x = L.Conv2D(6, 3, strides=2, activation="relu")(x)
    a = L.MaxPooling2D(3, strides=1, padding="same")(x)
    b = L.DepthwiseConv2D(3, dilation_rate=2, padding="same")(x)
    x = L.Add()([a, L.BatchNormalization()(b)])
    x = L.AveragePooling2D(3, strides=2, padding="same")(x)
    x = L.GlobalAveragePooling2D()(x)
    return randomize(keras.Model(inputs, L.Dense(4)(x)))


def _check(model, size, patch, stride, batch):
    import keras

    from occlude.incremental import IncrementalModel
    from occlude.sensitivity.windows import window_boxes

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (*size, 3)).astype(np.float32)
    fill = np.full_like(x, 0.25)

    boxes = window_boxes(*size, patch, stride)
    got = IncrementalModel(model, batch_size=batch).session(x).score(fill, boxes)
    copies = np.repeat(x[None], len(boxes), axis=0)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        copies[k, y0:y1, x0:x1] = fill[y0:y1, x0:x1]
    want = np.concatenate(
        [
            keras.ops.convert_to_numpy(model(copies[i : i + 8], training=False))
            for i in range(0, len(copies), 8)
        ]
    ).reshape(len(boxes), -1)
    scale = np.abs(want).max()
    assert np.abs(want - want.mean(axis=0)).max() > 1e-3 * scale
    assert np.abs(got - want).max() <= 1e-5 * scale


def test_hand_built_model_is_exact() -> None:
    import keras

    print("backend:", keras.backend.backend())
    _check(_hand_built((21, 26)), (21, 26), 5, 3, 8)


def test_small_mobilenet_is_exact() -> None:
    import keras

    model = keras.applications.MobileNetV2(
        weights=None, input_shape=(64, 64, 3), alpha=0.35, classes=10, classifier_activation=None
    )
    _check(randomize(model), (64, 64), 16, 16, 8)


def test_a_session_records_nothing_for_a_backward_pass() -> None:
    """The weights a session reads (BatchNorm's scale and shift are computed from the
    model's variables) and its scores carry no gradient history on PyTorch."""
    import keras

    from occlude.incremental import IncrementalModel
    from occlude.sensitivity.windows import window_boxes

    size = (21, 26)
    session = IncrementalModel(_hand_built(size), batch_size=8).session(
        np.zeros((*size, 3), np.float32)
    )
    assert len(session._weights) > 2  # the convolutions' and the BatchNorm's
    if keras.backend.backend() == "torch":
        assert all(w.grad_fn is None for w in session._weights)  # no history recorded
    scores = session.score(np.ones((*size, 3), np.float32), window_boxes(*size, 5, 3))
    assert isinstance(scores, np.ndarray) and np.isfinite(scores).all()
