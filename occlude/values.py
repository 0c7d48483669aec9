"""Values a person typed: whole numbers and numbers in plain ASCII, lists without repeats.

Python's ``int()`` and ``float()`` accept more than a person means: ``1_0`` is 10, Arabic-
Indic or full-width digits are digits, and ``nan``, ``inf`` and ``1e999`` are floats. A
shard ``1_0/20`` or a threshold ``nan`` is a typo, not a number, so every number the
command line or a label reads goes through :func:`read_int` or :func:`read_float`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

from occlude.errors import UsageError

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

T = TypeVar("T", bound=Hashable)


def read_int(text: str) -> int | None:
    """``text`` as an int when it is ASCII digits with an optional sign (spaces around
    allowed), else None.

    >>> read_int(" 12 "), read_int("-3"), read_int("1_0"), read_int("\\u0661"), read_int("1.0")
    (12, -3, None, None, None)
    """
    value = text.strip()
    return int(value) if _INT.fullmatch(value) else None


def read_float(text: str) -> float | None:
    """``text`` as a finite float when it is a plain decimal number (``0.5``, ``.5``,
    ``-2``, ``1e-3``), else None: no ``nan``, ``inf``, underscores or non-ASCII digits.

    >>> read_float("0.25"), read_float("1e-3"), read_float("nan"), read_float("1e999")
    (0.25, 0.001, None, None)
    """
    value = text.strip()
    if not _FLOAT.fullmatch(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def distinct(
    values: Iterable[T], param: str, key: Callable[[T], Hashable] | None = None
) -> tuple[T, ...]:
    """``values`` as a tuple, refusing one given twice (``key`` says when two are the same):
    each value of a list such as ``fractions`` makes its own row, so a repeat is a typo.

    >>> distinct([0.1, 0.2], "fractions")
    (0.1, 0.2)
    """
    seen: set[Hashable] = set()
    out = []
    for value in values:
        k = key(value) if key is not None else value
        if k in seen:
            raise UsageError(f"{param} lists {value} twice", param)
        seen.add(k)
        out.append(value)
    return tuple(out)
