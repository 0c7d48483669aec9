"""Exact (and approximate) incremental inference for occlusion sensitivity.

An occluded copy differs from the clean image only inside one patch, so each layer's
output changes only inside a rectangle that grows with the receptive field (Krypton,
Nakandala et al., SIGMOD 2019). :class:`IncrementalModel` walks a Keras functional graph
once, caches one clean image's activations, and recomputes only those rectangles for
batches of copies, switching to full computation where tiles stop paying or where a
layer is global or unknown. See ``docs/incremental.md``.

Importing this package loads neither Keras nor TensorFlow; they load on first use.
"""

from __future__ import annotations

from occlude.incremental.engine import Estimate, IncrementalModel, Session
from occlude.incremental.plan import SWITCH_THRESHOLD, WORTH_IT, TilePlan

__all__ = ["SWITCH_THRESHOLD", "WORTH_IT", "Estimate", "IncrementalModel", "Session", "TilePlan"]
