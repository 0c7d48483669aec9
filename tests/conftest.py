"""Fixtures shared by the test modules; helpers live in ``support/``, ``kerasmodels.py``
(small Keras models), ``reference.py`` (the naive oracle) and ``badfiles.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
from kerasmodels import red_detector


@pytest.fixture(scope="session")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The red-object detector (kerasmodels.red_detector) saved as a .keras file, once."""
    return red_detector(tmp_path_factory.mktemp("models") / "red.keras")
