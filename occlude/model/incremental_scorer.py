"""A classifier's windows scored incrementally: the model edge of ``--compute``.

Wraps :class:`occlude.incremental.IncrementalModel` around a loaded classifier. The sweep
works in pixel space; keras.applications' preprocessing is per pixel, so the clean image and
the fill image are preprocessed once and an occluded copy's preprocessed input is the clean
one with the fill's pixels pasted in: exactly what the engine computes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from occlude.model.predict import preprocess_fn

if TYPE_CHECKING:
    from occlude.incremental import Estimate, IncrementalModel
    from occlude.model.loading import Classifier


@dataclass
class IncrementalScorer:
    """Scores occluded windows of one classifier from cached clean activations."""

    clf: Classifier
    batch_size: int = 32
    approx: float = 1.0
    _engine: IncrementalModel | None = field(default=None, repr=False)

    @property
    def engine(self) -> IncrementalModel:
        if self._engine is None:
            from occlude.incremental import IncrementalModel

            self._engine = IncrementalModel(self.clf.model, self.batch_size, approx=self.approx,
                                            input_size=self.clf.input_size)  # fmt: skip
        return self._engine

    @property
    def runs_whole(self) -> bool:
        """Whether the engine would only run whole copies: a model that does not compute
        in float32 (the engine is exact in float32 only), or one it cannot walk (e.g. a
        ``uint8`` input). ``occlusion_sensitivity`` then scores through ``predict``, so
        ``incremental=True`` gives exactly the full map."""
        return self.clf.precision != "float32" or self.engine.fallback is not None

    def estimate(self, patch: int) -> Estimate:
        return self.engine.estimate(patch)

    def session(self, image: np.ndarray) -> ScoringSession:
        """A clean pass over ``image`` (pixel space, model size)."""
        pre = self._preprocess(image)
        return ScoringSession(self, self.engine.session(pre))

    def _preprocess(self, image: np.ndarray) -> np.ndarray:
        x = np.array(image, dtype=np.float32, copy=True)[None]
        out: np.ndarray = np.asarray(preprocess_fn(self.clf.preprocess)(x), dtype=np.float32)[0]
        return out


@dataclass
class ScoringSession:
    """The engine's session for one image, in pixel space."""

    scorer: IncrementalScorer
    session: Any

    @property
    def base_scores(self) -> np.ndarray:
        return np.asarray(self.session.base_scores, dtype=np.float32).reshape(-1)

    def score(self, fill: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Scores (N, K) of the copies with ``boxes`` filled from ``fill`` (pixel space)."""
        pre = self.scorer._preprocess(fill)
        return np.asarray(self.session.score(pre, np.asarray(boxes)), dtype=np.float32)
