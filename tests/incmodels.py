"""Models and helpers for the incremental-engine tests (built here, never downloaded).

Random-weight networks give almost the same score for every copy, which would let a
wrong engine pass: ``randomize`` draws He-scaled kernels, small random biases and random
BatchNorm statistics so that occluding a patch moves the scores.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def randomize(model: Any, seed: int = 0, temper: float = 1.0) -> Any:
    """He-scaled kernels, random biases and BatchNorm statistics; the last kernel × temper."""
    rng = np.random.default_rng(seed)
    weights = [w for layer in model.layers for w in layer.weights]
    last_kernel = max((k for k, w in enumerate(weights) if len(w.shape) >= 2), default=-1)
    for k, w in enumerate(weights):
        path, shape = w.path, tuple(w.shape)
        if "moving_variance" in path:
            value = rng.uniform(0.5, 1.5, shape)
        elif "moving_mean" in path or "beta" in path or path.endswith("bias"):
            value = rng.normal(0.0, 0.1, shape)
        elif "gamma" in path:
            value = rng.uniform(0.7, 1.3, shape)
        elif len(shape) >= 2:
            fan_in = np.prod(shape[:2]) if "depthwise" in path else np.prod(shape[:-1])
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
            if k == last_kernel:
                value *= temper
        else:
            continue
        w.assign(value.astype("float32"))
    return model


def occluded(x: np.ndarray, fill: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The copies, built the obvious way: x with fill pasted over each box (rows
    ``[x0, y0, x1, y1]``)."""
    copies = np.repeat(x[None], len(boxes), axis=0)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        copies[k, y0:y1, x0:x1] = fill[y0:y1, x0:x1]
    return copies


def full_scores(model: Any, copies: np.ndarray, batch: int = 16) -> np.ndarray:
    """model(copies, training=False), flattened to (N, K) float32."""
    out = [
        np.asarray(model(copies[i : i + batch], training=False)).reshape(
            len(copies[i : i + batch]), -1
        )
        for i in range(0, len(copies), batch)
    ]
    return np.concatenate(out).astype(np.float32)


def sweep_map(height: int, width: int, boxes: np.ndarray, drops: np.ndarray) -> np.ndarray:
    """Mean score drop over the windows covering each pixel (the sensitivity contract)."""
    sums = np.zeros((height, width))
    counts = np.zeros((height, width))
    for (x0, y0, x1, y1), d in zip(boxes, drops, strict=True):
        sums[y0:y1, x0:x1] += d
        counts[y0:y1, x0:x1] += 1
    return sums / np.maximum(counts, 1)


def border_and_interior(
    boxes: np.ndarray, height: int, width: int, interior: int = 4
) -> np.ndarray:
    """Every window touching the border plus a few interior ones (spread over the image)."""
    border = (
        (boxes[:, 0] == 0) | (boxes[:, 1] == 0) | (boxes[:, 2] == width) | (boxes[:, 3] == height)
    )
    inner = np.flatnonzero(~border)
    pick = inner[np.linspace(0, len(inner) - 1, min(interior, len(inner))).astype(int)]
    return boxes[np.sort(np.concatenate([np.flatnonzero(border), pick]))]


def pattern_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A structured preprocessed-range image in [-1, 1]: smooth gradients, blobs and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    img = np.stack([np.sin(6 * yy + c) * np.cos(5 * xx - c) for c in range(3)], axis=-1)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.2)
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2) < r**2
        img[blob] = rng.uniform(-1, 1, 3)
    img += rng.normal(0, 0.1, img.shape)
    return np.clip(img, -1, 1).astype(np.float32)


def build(layers_fn: Callable[[Any], Any], size: tuple[int, int], seed: int = 0) -> Any:
    """A functional model ``layers_fn(input)`` on (height, width, 3) inputs, randomized."""
    import keras

    inputs = keras.Input((*size, 3))
    return randomize(keras.Model(inputs, layers_fn(inputs)), seed)


def head(x: Any, classes: int = 6) -> Any:
    import keras

    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.layers.Dense(classes)(x)


def stride_odd(x: Any) -> Any:
    """Stride 2 with odd sizes, "same" and "valid", a 5x5 kernel, flatten head."""
    import keras

    L = keras.layers
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu")(x)
    x = L.Conv2D(6, 5, strides=2, padding="valid")(x)
    x = L.Conv2D(6, 2, strides=1, padding="same")(x)
    return L.Dense(5)(L.Flatten()(x))


def dilated(x: Any) -> Any:
    import keras

    L = keras.layers
    x = L.Conv2D(5, 3, dilation_rate=2, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("swish")(x)
    x = L.Conv2D(5, 3, dilation_rate=(1, 3), padding="valid")(x)
    x = L.DepthwiseConv2D(3, dilation_rate=2, padding="same")(x)
    return head(x)


def padded(x: Any) -> Any:
    """Explicit ZeroPadding2D before "valid" strided convolutions (ResNet/MobileNet style)."""
    import keras

    L = keras.layers
    x = L.ZeroPadding2D(((0, 1), (0, 1)))(x)
    x = L.Conv2D(6, 3, strides=2, padding="valid")(x)
    x = L.ZeroPadding2D(((2, 1), (1, 3)))(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="valid")(x)
    x = L.Cropping2D(((1, 0), (0, 1)))(x)
    return head(x)


def pooled(x: Any) -> Any:
    """Max and average pooling, "same" (odd sizes) and "valid", strides 1-3."""
    import keras

    L = keras.layers
    x = L.Conv2D(6, 3, padding="same", activation="relu")(x)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    x = L.Conv2D(6, 3, padding="same")(x)
    x = L.AveragePooling2D(3, strides=2, padding="same")(x)
    x = L.MaxPooling2D(2, strides=1, padding="valid")(x)
    x = L.AveragePooling2D(2, strides=1, padding="valid")(x)
    return head(x)


def branches(x: Any) -> Any:
    """Add of two branches with different receptive fields, Multiply, Concatenate, separable."""
    import keras

    L = keras.layers
    x = L.Conv2D(8, 3, padding="same")(x)
    a = L.Conv2D(8, 1)(x)
    b = L.Conv2D(8, 5, padding="same")(L.ReLU(6.0)(x))
    x = L.Add()([a, b])
    c = L.SeparableConv2D(8, 3, strides=2, padding="same")(x)
    d = L.Conv2D(8, 1, strides=2)(x)
    x = L.Concatenate()([c, d, L.Multiply()([c, d])])
    x = L.BatchNormalization()(x)
    return head(x)


def unknown_middle(x: Any) -> Any:
    """An UpSampling2D (not handled) between known layers: full from there on."""
    import keras

    L = keras.layers
    x = L.Rescaling(0.5, offset=0.1)(x)
    x = L.Conv2D(6, 3, padding="same", activation="relu")(x)
    x = L.UpSampling2D()(x)
    x = L.Conv2D(6, 3, strides=2, padding="same")(x)
    return head(x)


def nested(x: Any) -> Any:
    """A Sequential block and a functional block nested inside the model."""
    import keras

    L = keras.layers
    block = keras.Sequential(
        [L.Conv2D(6, 3, padding="same"), L.BatchNormalization(), L.ReLU()], name="seq_block"
    )
    inner_in = keras.Input((None, None, 6))
    y = L.Conv2D(6, 3, strides=2, padding="same")(inner_in)
    inner = keras.Model(inner_in, L.Add()([y, L.Conv2D(6, 1, strides=2)(inner_in)]), name="fn")
    x = L.Conv2D(6, 3, padding="same")(x)
    x = inner(block(x))
    x = L.Dropout(0.5)(x)
    return head(x)


HAND_BUILT = {
    "stride_odd": stride_odd,
    "dilated": dilated,
    "padded": padded,
    "pooled": pooled,
    "branches": branches,
    "unknown_middle": unknown_middle,
    "nested": nested,
}


def calibrate_batchnorm(model: Any, x: np.ndarray, seed: int = 0) -> Any:
    """Set every BatchNorm's moving statistics near those of its input on ``x``.

    He-scaled random weights make deep squeeze-and-excitation nets (EfficientNet) lose the
    image on the way: their outputs stop depending on it. Statistics drawn around the
    real ones keep each layer's activations near unit scale, layer after layer.
    """
    from occlude.incremental.graph import build_graph

    rng = np.random.default_rng(seed)
    nodes = build_graph(model, x.shape[:2])
    values: dict[int, Any] = {0: x[None].astype(np.float32)}
    for i in range(1, len(nodes)):
        node = nodes[i]
        if type(node.op).__name__ == "BatchNormalization":
            v = np.asarray(values[node.spec.inputs[0]])
            axes = tuple(range(v.ndim - 1))
            mean, var = v.mean(axis=axes), v.var(axis=axes)
            node.op.moving_mean.assign(mean + rng.normal(0, 0.05, mean.shape) * np.sqrt(var))
            node.op.moving_variance.assign(var * rng.uniform(0.9, 1.1, var.shape) + 1e-3)
        values[i] = node.call(values)
    return model
