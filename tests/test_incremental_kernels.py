"""The engine's own kernels: BatchNorm folded into the convolution before it, raw ops.

Folding must leave the scores and the maps those of the model (float32 round-off), and
fold only where the convolution's output is read by the BatchNorm alone, before any
activation.
"""

from __future__ import annotations

import numpy as np
from incmodels import build, calibrate_batchnorm, pattern_image
from test_incremental_exact import assert_exact

from occlude.incremental import IncrementalModel
from occlude.incremental.kernels import fold
from occlude.sensitivity.windows import window_boxes


def folding(x):
    import keras

    L = keras.layers
    a = L.Conv2D(6, 3, padding="same", name="linear")(x)
    a = L.BatchNormalization(name="bn_linear")(a)  # folded
    b = L.DepthwiseConv2D(3, strides=2, padding="same", name="depthwise")(a)
    b = L.BatchNormalization(center=False, name="bn_depthwise")(b)  # folded
    c = L.Conv2D(6, 3, padding="same", activation="relu", name="relu")(b)
    c = L.BatchNormalization(name="bn_after_relu")(c)  # not: an activation comes between
    d = L.Conv2D(6, 1, use_bias=False, name="shared")(c)
    e = L.BatchNormalization(scale=False, name="bn_shared")(d)  # not: d has two readers
    x = L.Add()([d, e])
    x = L.Conv2D(6, 3, use_bias=False, padding="valid", name="no_bias")(x)
    x = L.BatchNormalization(name="bn_no_bias")(x)  # folded
    x = L.ReLU()(x)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(5)(x)


def test_batchnorm_folds_only_after_a_linear_convolution_read_by_it_alone() -> None:
    model = build(folding, (20, 20))
    inc = IncrementalModel(model, 8)
    folded = {inc.specs[i].name for i in fold(inc.nodes).folded}
    assert folded == {"bn_linear", "bn_depthwise", "bn_no_bias"}


def test_folded_engine_is_exact() -> None:
    model = build(folding, (20, 20))
    x = pattern_image(20, 20)
    calibrate_batchnorm(model, x)
    inc = IncrementalModel(model, 8)
    boxes = window_boxes(20, 20, 5, 3)
    assert_exact(model, inc, x, np.zeros_like(x), boxes)
