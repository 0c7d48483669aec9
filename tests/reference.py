"""A deliberately naive, independent implementation of the sensitivity-map contract.

One predict call per occluded copy, windows enumerated with a while loop, and a list of
score drops kept per pixel: slow, obvious, and sharing no code with occlude.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def naive_map(
    image: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    class_index: int,
    patch: int,
    stride: int,
    fill: np.ndarray,
) -> np.ndarray:
    height, width = image.shape[:2]
    base = float(predict(image[None].astype(np.float32))[0][class_index])
    drops: list[list[list[float]]] = [[[] for _ in range(width)] for _ in range(height)]

    def starts(length: int) -> list[int]:
        if patch >= length:
            return [0]
        out, pos = [], 0
        while pos < length - patch + stride:
            out.append(pos)
            pos += stride
        return out

    for y in starts(height):
        for x in starts(width):
            copy = image.astype(np.float32).copy()
            for yy in range(y, min(y + patch, height)):
                for xx in range(x, min(x + patch, width)):
                    copy[yy, xx] = fill[yy, xx] if fill.ndim == 3 else fill
            score = float(predict(copy[None])[0][class_index])
            for yy in range(y, min(y + patch, height)):
                for xx in range(x, min(x + patch, width)):
                    drops[yy][xx].append(base - score)
    return np.array([[np.mean(drops[i][j]) for j in range(width)] for i in range(height)])


def linear_model(weights: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """scores[b, k] = sum(weights[k] * image[b]): a model whose every map is computable."""

    def predict(batch: np.ndarray) -> np.ndarray:
        flat = np.asarray(batch, dtype=np.float64).reshape(len(batch), -1)
        return flat @ weights.reshape(len(weights), -1).T

    return predict
