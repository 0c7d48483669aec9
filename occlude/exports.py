"""Lazy exports (PEP 562): a package's names, each imported from its module when first
asked for, so that importing the package loads nothing (``import occlude`` no numpy).

A package lists ``{module: "Name other_name ..."}`` and sets
``__getattr__, __dir__ = lazy(__name__, globals(), table)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def names(table: Mapping[str, str]) -> list[str]:
    """Every name a table lists, sorted (a package's ``__all__``)."""
    return sorted(name for listed in table.values() for name in listed.split())


def lazy(
    package: str, own: Mapping[str, Any], *tables: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for the names the ``tables`` list by
    module (``own``: the package's globals, which ``dir`` lists too)."""
    where = {name: module for table in tables for module, listed in table.items()
             for name in listed.split()}  # fmt: skip

    def getattr_(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(where[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def dir_() -> list[str]:
        return sorted(set(own) | set(where))

    return getattr_, dir_
