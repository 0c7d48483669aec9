"""Tests in this folder run only when asked: OCCLUDE_BACKEND_CHECK=1 (with KERAS_BACKEND set
to the backend to check). tests/test_backend_matrix.py runs them, one process per backend."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("OCCLUDE_BACKEND_CHECK") == "1":
        return
    skip = pytest.mark.skip(reason="backend checks run via tests/test_backend_matrix.py")
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(skip)
