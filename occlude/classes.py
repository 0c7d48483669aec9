"""ImageNet-1k class names, shipped with the package so that they work offline.

Names follow Keras's ``decode_predictions`` (``tabby``, ``Egyptian_cat``); the WordNet
synonyms and ids (``tabby cat``, ``n02123045``) are accepted too.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from occlude.errors import UsageError

IMAGENET_CLASSES = 1000


@cache
def _table() -> list[tuple[str, str, tuple[str, ...]]]:
    text = resources.files("occlude").joinpath("data/imagenet_classes.json").read_text("utf-8")
    return [(wnid, name, tuple(syn)) for wnid, name, syn in json.loads(text)]


def imagenet_names() -> list[str]:
    """The 1000 ImageNet class names in Keras's order."""
    return [name for _, name, _ in _table()]


def unnamed(n_classes: int) -> str:
    """Why a model's classes have no names, and what to do: the end of a message that
    begins with the model ("red.keras has 2 outputs, so give an index")."""
    if n_classes != IMAGENET_CLASSES:
        return f"has {n_classes} outputs, so give an index"
    return (f"has {IMAGENET_CLASSES} outputs without names (a model file): give an index, or "
            "pass class_names=imagenet if they are ImageNet's classes")  # fmt: skip


def _norm(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("-", " ").lower().split())


def find_imagenet_class(text: str) -> int:
    """Index of an ImageNet class given its name, a WordNet synonym or its WordNet id.

    >>> find_imagenet_class("tabby")
    281
    >>> find_imagenet_class("Egyptian cat")
    285

    Raises:
        UsageError: no class or several classes have that name.
    """
    key = _norm(text)
    table = _table()
    for field in ("name", "synonym"):
        hits = [
            i
            for i, (wnid, name, syn) in enumerate(table)
            if (key == _norm(name) if field == "name" else key in {_norm(s) for s in syn})
            or key == wnid.lower()
        ]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            listed = ", ".join(f"{i} ({table[i][0]})" for i in hits)
            raise UsageError(f"class name {text!r} is ambiguous: give the index, one of {listed}")
    close = [name for _, name, _ in table if key and key in _norm(name)][:5]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UsageError(f"unknown ImageNet class name {text!r}{hint}")
