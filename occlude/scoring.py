"""Scoring batches with a model: one ``Predict`` type and one checked call.

Every command that runs a model (sensitivity sweeps, faithfulness curves, robustness)
scores through :func:`score_batch`, which checks the shape and refuses scores that are
NaN or infinite: a model that returns them fails that input with one clear line, never a
silent pass.
"""

from __future__ import annotations

from collections.abc import Callable

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
