"""Scoring batches with a model: one ``Predict`` type and one checked call.

Every command that runs a model (sensitivity sweeps, faithfulness curves, robustness)
scores through :func:`score_batch`, which checks the shape and refuses scores that are
NaN or infinite: a model that returns them fails that input with one clear line, never a
silent pass.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np

from occlude.errors import ScoreError, UsageError

Predict = Callable[[np.ndarray], np.ndarray]
"""Maps a float32 batch (B, H, W, 3) of pixel-space images (0-255) to scores (B, K)."""


def score_batch(predict: Predict, batch: np.ndarray) -> np.ndarray:
    """``predict(batch)`` as a (B, K) float array, checked.

    Raises:
        UsageError: ``predict`` returned a shape that does not match the batch.
        ScoreError: some score is NaN or infinite.
    """
    scores = np.asarray(predict(batch))
    if scores.ndim == 0 or len(scores) != len(batch):
        raise UsageError(
            f"predict returned shape {scores.shape} for a batch of {len(batch)}", "predict"
        )
    scores = scores.reshape(len(batch), -1)
    if not np.isfinite(scores).all():
        bad = int((~np.isfinite(scores)).any(axis=1).sum())
        raise ScoreError(
            f"the model returned NaN or infinite scores for {bad} of {len(batch)} images"
        )
    return scores


def balanced_batch_size(total: int, max_batch: int) -> int:
    """The smallest batch that needs as many calls as ``max_batch`` would.

    265 windows plus the base image with ``max_batch=32`` need 9 calls either way; batches
    of 30 pad the last call with 4 dummies instead of 22.

    >>> balanced_batch_size(266, 32)
    30
    """
    if total <= 0:
        return max(1, max_batch)
    calls = -(-total // max_batch)
    return -(-total // calls)


def reusable_batch_size(total: int, max_batch: int, compiled: Collection[int] = ()) -> int:
    """The batch for ``total`` copies: :func:`balanced_batch_size`, unless a size already
    compiled needs no more calls and at most doubles it (then that one: no new compile).

    >>> reusable_batch_size(17, 32, {31})
    31
    >>> reusable_batch_size(17, 32, {31, 17}), reusable_batch_size(8, 32, {31})
    (17, 8)
    """
    best = balanced_batch_size(total, max_batch)  # any size from it to max_batch: same calls
    return min((s for s in compiled if best <= s <= min(max_batch, 2 * best)), default=best)
