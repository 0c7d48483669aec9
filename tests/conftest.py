"""Fixtures shared by the test modules; helpers live in ``support/``, ``kerasmodels.py``
(small Keras models), ``reference.py`` (the naive oracle) and ``badfiles.py``.

Session fixtures are built once per process (once per worker under ``pytest -n``) and are
read-only: tests that change what they return copy it first."""

from __future__ import annotations

from pathlib import Path

import pytest
from kerasmodels import red_detector


@pytest.fixture(scope="session")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The red-object detector (kerasmodels.red_detector) saved as a .keras file, once."""
    return red_detector(tmp_path_factory.mktemp("models") / "red.keras")


@pytest.fixture(scope="session")
def real_out(tmp_path_factory: pytest.TempPathFactory, model_file: Path) -> Path:
    """A real sensitivity and robustness run into one folder (test_report_synth.real_run),
    once; the report's tests read it or copy it."""
    from test_report_synth import real_run

    return real_run(tmp_path_factory.mktemp("report-real"), model_file)
