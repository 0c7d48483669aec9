"""One way in for an array: ``augment(image, method, seed=..., **settings)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from occlude.augment.methods import Augmented, Context, Method, augmentation
from occlude.errors import UsageError


def augment(
    image: np.ndarray,
    method: str | Method,
    rng: np.random.Generator | None = None,
    *,
    seed: int | None = None,
    partner: np.ndarray | None = None,
    partners: Sequence[np.ndarray] = (),
    dataset_mean: Sequence[float] | None = None,
    saliency: np.ndarray | None = None,
    partner_saliency: Sequence[np.ndarray] | None = None,
    **settings: Any,
) -> Augmented:
    """Sample and apply one augmentation to ``image`` (H×W×C, uint8 or uint16).

    Args:
        method: a name (``"cutout"``, ``"mixup"`` ... see :data:`METHODS`) with its
            ``settings`` as keywords (``holes=2``, ``fill="noise"``; the paper's
            defaults otherwise), or a method object (``Cutout(holes=2)``) to reuse.
        rng, seed: where the draws come from: a ``numpy.random.Generator``, or a seed
            (the same seed gives the same result); neither: fresh entropy.
        partner: the image a mixing method (mixup, cutmix, saliency-mix,
            attentive-cutmix) mixes in; or ``partners``, several, one drawn per call.
        dataset_mean: the mean RGB colour (0-255) for ``fill="dataset-mean"``.
        saliency, partner_saliency: importance maps (H×W) for the guided methods.

    Returns:
        :class:`Augmented`: ``image``, ``params`` (what was drawn; ``params_dict()`` is
        JSON), ``label_weights`` (the source's and the partner's share of the label) and
        ``record(method, source, partner)`` for :func:`replay`.

    The draws: ONE int32 key from the generator; every draw of the method (the ``prob``
    coin, its parameters, a mixing method's partner, a noise fill) comes from that key.

    Raises:
        UsageError: unknown method or setting, settings with a method object, both
            ``rng`` and ``seed``, a partner for a method that does not mix or none for
            one that does.
    """
    if isinstance(method, Method):
        if settings:
            given = ", ".join(settings)
            raise UsageError(f"settings ({given}) go into the method object {method.name}; "
                             "give them with a method name", "settings")  # fmt: skip
        chosen = method
    elif isinstance(method, str):
        chosen = augmentation(method, **settings)
    else:
        raise UsageError(f"method must be a name or a method object; received "
                         f"{type(method).__name__}", "method")  # fmt: skip
    if rng is not None and seed is not None:
        raise UsageError("give rng or seed, not both", ("rng", "seed"))
    if partner is not None and len(partners) > 0:
        raise UsageError("give partner or partners, not both", ("partner", "partners"))
    pool: Sequence[np.ndarray] = [partner] if partner is not None else partners
    if len(pool) > 0 and not chosen.mixing:
        raise UsageError(f"partner applies to the mixing methods; {chosen.name} does not mix",
                         ("partner", "method"))  # fmt: skip
    draws = rng if rng is not None else np.random.default_rng(seed)
    others = None if partner_saliency is None else list(partner_saliency)
    return chosen(image, draws, Context(pool, dataset_mean, saliency, others))


augment_image = augment
"""``occlude.augment_image``: :func:`augment` at the top level, where ``occlude.augment``
is the package."""
