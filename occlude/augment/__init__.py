"""Paper-faithful occlusion augmentations: pure functions, samplers and a folder pipeline.

Three layers, each usable alone:

* :mod:`~occlude.augment.functional`: image array + explicit parameters -> new array
  (``erase_boxes``, ``hide_cells``, ``mixup``, ``cutmix``);
* :mod:`~occlude.augment.samplers`: ``numpy.random.Generator`` -> parameters, as each
  paper defines them (``sample_cutout``, ``sample_hide_and_seek``, ...);
* :mod:`~occlude.augment.run`: a method with settings (:func:`augmentation`), one image
  (:func:`augment`) and files and folders with a manifest (:func:`augment_files`).

Example::

    import numpy as np
    from occlude.augment import erase_boxes, sample_random_erasing

    rng = np.random.default_rng(0)
    params = sample_random_erasing(rng, image.shape[:2], prob=1.0)
    erased = erase_boxes(image, params.boxes, (127.5, 127.5, 127.5))

Importing this package loads numpy and Pillow only.
"""

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
from occlude.augment.params import (
    Box,
    CutmixParams,
    CutoutParams,
    HideAndSeekParams,
    MixupParams,
    Params,
    RandomErasingParams,
    box_area,
    params_from_dict,
)
from occlude.augment.run import (
    METHODS,
    Augmentation,
    Augmented,
    AugmentReport,
    augment,
    augment_files,
    augmentation,
    load_array,
    output_rng,
    output_seed,
    replay,
)
from occlude.augment.samplers import (
    sample_cutmix,
    sample_cutout,
    sample_hide_and_seek,
    sample_mixup,
    sample_random_erasing,
)

__all__ = [
    "METHODS",
    "AugmentReport",
    "Augmentation",
    "Augmented",
    "Box",
    "CutmixParams",
    "CutoutParams",
    "HideAndSeekParams",
    "MixupParams",
    "Noise",
    "Params",
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
