"""Small Keras models with known behaviour, built in the tests (never downloaded)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from occlude.box import Box

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def red_detector(path: Path, size: tuple[int, int] = (32, 48)) -> Path:
    """Two classes on a non-square input: 0 = "a red object is present", 1 = not.

    redness = relu(R - (G + B) / 2 - 0.2) per pixel (after 1/255 rescaling), averaged
    over the image; the softmax logits are (40 * redness - 1, 1 - 40 * redness).
    """
    import keras

    inputs = keras.Input((*size, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    conv = keras.layers.Conv2D(1, 1, activation="relu")
    x = conv(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(2)
    x = dense(x)
    outputs = keras.layers.Softmax()(x)
    model = keras.Model(inputs, outputs)
    conv.set_weights([np.array([1.0, -0.5, -0.5]).reshape(1, 1, 3, 1), np.array([-0.2])])
    dense.set_weights([np.array([[40.0, -40.0]]), np.array([-1.0, 1.0])])
    model.save(path)
    return path


def red_image(size: tuple[int, int], box: tuple[int, int, int, int] | None) -> np.ndarray:
    """A grey-noise image (uint8) with an optional red ``Box`` (x0, y0, x1, y1)."""
    rng = np.random.default_rng(sum(size))
    image = rng.uniform(100, 140, (*size, 3)).astype(np.uint8)
    if box is not None:
        image[Box.of(box).slices()] = (240, 20, 20)
    return image
