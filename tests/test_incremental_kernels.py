"""The engine's own kernels (raw ops on weights passed as arguments): the scores stay the
model's, and each session reads the model's weights as they are then."""

from __future__ import annotations

import numpy as np
from incmodels import build, full_scores, occluded, pattern_image
from test_incremental_exact import assert_exact

from occlude.incremental import IncrementalModel
from occlude.sensitivity.windows import window_boxes


def mixed(x):
    import keras

    L = keras.layers
    a = L.Conv2D(6, 3, padding="same", name="linear")(x)
    a = L.BatchNormalization(name="bn_linear")(a)
    b = L.DepthwiseConv2D(3, strides=2, padding="same", name="depthwise")(a)
    b = L.BatchNormalization(center=False, name="bn_depthwise")(b)
    c = L.Conv2D(6, 3, padding="same", activation="relu", name="relu")(b)
    c = L.BatchNormalization(name="bn_after_relu")(c)
    d = L.Conv2D(6, 1, use_bias=False, name="no_bias")(c)
    e = L.BatchNormalization(scale=False, name="bn_no_scale")(d)
    x = L.Add()([d, e])
    x = L.ReLU(max_value=6.0)(x)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(5)(x)


def test_raw_kernels_are_exact() -> None:
    model = build(mixed, (20, 20))
    x = pattern_image(20, 20)
    inc = IncrementalModel(model, 8)
    assert_exact(model, inc, x, np.zeros_like(x), window_boxes(20, 20, 5, 3))


def test_each_session_reads_the_weights_as_they_are_then() -> None:
    model = build(mixed, (20, 20))
    x = pattern_image(20, 20)
    boxes = window_boxes(20, 20, 5, 5)
    fill = np.zeros_like(x)
    inc = IncrementalModel(model, 8)
    before = inc.session(x).score(fill, boxes)
    bn = model.get_layer("bn_linear")
    bn.moving_mean.assign(np.asarray(bn.moving_mean) + 0.5)
    kernel = model.get_layer("relu").kernel
    kernel.assign(np.asarray(kernel) * 1.5)
    session = inc.session(x)
    got = session.score(fill, boxes)
    want = full_scores(model, occluded(x, fill, boxes))
    assert np.abs(got - before).max() > 100 * 1e-5 * np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())
    np.testing.assert_allclose(session.base_scores, full_scores(model, x[None])[0], atol=1e-5)
