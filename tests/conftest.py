"""Fixtures shared by the test modules; helpers live in ``support/``, ``kerasmodels.py``
(small Keras models), ``reference.py`` (the naive oracle) and ``badfiles.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kerasmodels import red_detector

# Tests never write JAX's compilation cache into the user's home (tests/test_compile_cache.py
# turns it on in a folder of its own).
os.environ.setdefault("OCCLUDE_NO_COMPILE_CACHE", "1")


@pytest.fixture(scope="session")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The red-object detector (kerasmodels.red_detector) saved as a .keras file, once."""
    return red_detector(tmp_path_factory.mktemp("models") / "red.keras")
