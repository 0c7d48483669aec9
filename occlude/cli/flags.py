"""The one table from the library's Python parameters to the command line's flags.

Library errors name what a Python caller passed (``holes must be at least 1``); when such
an error reaches the command line, the words its ``params`` list are replaced by the flags
a shell user typed (``--holes must be at least 1``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

FLAGS: dict[str, str] = {
    # shared
    "out_dir": "--out",
    "json_path": "--json",
    "model=": "--model ",
    "preprocess=": "--preprocess ",
    "patch_sizes=": "--patch ",
    "weights=": "--weights ",
    "safe=False": "--unsafe-model",
    "preprocess": "--preprocess",
    "fill": "--fill",
    "seed": "--seed",
    "batch_size": "--batch-size",
    "workers": "--workers",
    "shard": "--shard",
    "engine": "--engine",
    "backend": "--backend",
    "compute": "--compute",
    "approx": "--approx",
    "precision": "--precision",
    "address": "--address",
    "gpus_per_worker": "--gpus-per-worker",
    "labels": "--labels",
    "class_names": "--class-names",
    "class_names=": "--class-names ",
    # sensitivity
    "class_index": "--class",
    "patch_sizes": "--patch",
    "strides": "--stride",
    "expect_box": "--expect-box",
    "expect_mask": "--expect-mask",
    "min_focus": "--min-focus",
    "report": "--report",
    "steps": "--steps",
    "animate_format": "--animate-format",
    "animate_scale": "--animate-scale",
    # augment
    "method": "--method",
    "copies": "--copies",
    "fmt": "--format",
    "prob": "--prob",
    "holes": "--holes",
    "size": "--size",
    "grid": "--grid",
    "hide_prob": "--hide-prob",
    "area_range": "--area-range",
    "aspect_range": "--aspect-range",
    "alpha": "--alpha",
    "maps=": "--maps ",
    "save_npy": "--save-npy",
    "keep_quantile": "--keep-quantile",
    "max_tries": "--max-tries",
    "top_k": "--top-k",
    "label_by": "--label-by",
    # robustness
    "methods": "--methods",
    "fractions": "--fractions",
    "min_accuracy": "--min-accuracy",
    "at": "--at",
    "gate_on": "--gate-on",
    "plot": "--plot",
}


def to_flags(message: str, params: Sequence[str]) -> str:
    """``message`` with each Python parameter in ``params`` replaced by its flag.

    >>> to_flags("holes must be at least 1; received 0", ["holes"])
    '--holes must be at least 1; received 0'
    >>> to_flags("pass weights=FILE or model=FILE.keras", ["weights=", "model="])
    'pass --weights FILE or --model FILE.keras'

    A word inside a path is left alone (a folder may be named as a parameter is):

    >>> to_flags("out/report/plot.png: report and plot would both write it", ["report", "plot"])
    'out/report/plot.png: --report and --plot would both write it'
    """
    for param in params:
        flag = FLAGS.get(param)
        if flag is None:
            continue
        tail = r"(?![\w/\\-])(?!\.\w)" if param[-1].isalnum() else ""
        message = re.sub(r"(?<![\w/\\.-])" + re.escape(param) + tail, flag, message)
    return message
