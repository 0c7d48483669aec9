"""Paper-faithful occlusion augmentations: pure functions, methods and a folder pipeline.

Three layers, each usable alone:

* :mod:`~occlude.augment.functional`: image array + explicit parameters -> new array
  (``erase_boxes``, ``hide_cells``, ``mixup``, ``cutmix``);
* :mod:`~occlude.augment.methods`: one frozen class per method (``Cutout``,
  ``HideAndSeek``, ``RandomErasing``, ``Mixup``, ``Cutmix``) that validates its settings,
  samples its parameters from a ``numpy.random.Generator`` as its paper defines them, and
  applies them; the registry :data:`METHODS` and :func:`augmentation` build them by name;
* :func:`augment_files`: files and folders with a manifest, on the job runner.

Example::

    import numpy as np
    from occlude.augment import augmentation

    method = augmentation("random-erasing", prob=1.0)
    result = method(image, np.random.default_rng(0))
    result.image, result.params.to_dict()

Importing this package loads numpy and Pillow only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from occlude.augment.arrays import load_array
from occlude.augment.files import AugmentReport, augment_files
from occlude.augment.functional import (
    Noise,
    cutmix,
    erase_boxes,
    fill_colour,
    hidden_mask,
    hide_cells,
    match_partner,
    mixup,
)
from occlude.augment.manifest import replay
from occlude.augment.methods import (
    METHODS,
    Augmented,
    Context,
    Cutmix,
    CutmixParams,
    Cutout,
    CutoutParams,
    HideAndSeek,
    HideAndSeekParams,
    Method,
    Mixup,
    MixupParams,
    RandomErasing,
    RandomErasingParams,
    augmentation,
    params_from_dict,
    sample_cutmix,
    sample_cutout,
    sample_hide_and_seek,
    sample_mixup,
    sample_random_erasing,
)
from occlude.augment.params import Box, Params, box_area
from occlude.augment.seeding import output_rng, output_seed


def augment(
    image: np.ndarray,
    method: Method,
    rng: np.random.Generator,
    *,
    partners: Sequence[np.ndarray] = (),
    dataset_mean: Sequence[float] | None = None,
) -> Augmented:
    """Sample and apply ``method`` to one image, drawing everything from ``rng``.

    The draws, in order: the method's parameters (the ``prob`` coin first); for mixing
    methods the partner's index into ``partners``; for a noise fill the noise seed.
    ``partners`` may be a lazy sequence: only the chosen one is read.
    """
    return method(image, rng, Context(partners, dataset_mean))


__all__ = [
    "METHODS",
    "AugmentReport",
    "Augmented",
    "Box",
    "Context",
    "Cutmix",
    "CutmixParams",
    "Cutout",
    "CutoutParams",
    "HideAndSeek",
    "HideAndSeekParams",
    "Method",
    "Mixup",
    "MixupParams",
    "Noise",
    "Params",
    "RandomErasing",
    "RandomErasingParams",
    "augment",
    "augment_files",
    "augmentation",
    "box_area",
    "cutmix",
    "erase_boxes",
    "fill_colour",
    "hidden_mask",
    "hide_cells",
    "load_array",
    "match_partner",
    "mixup",
    "output_rng",
    "output_seed",
    "params_from_dict",
    "replay",
    "sample_cutmix",
    "sample_cutout",
    "sample_hide_and_seek",
    "sample_mixup",
    "sample_random_erasing",
]
