"""Fixtures shared by the test modules; helpers live in ``support/``, ``kerasmodels.py``
(small Keras models), ``reference.py`` (the naive oracle) and ``badfiles.py``.

Session fixtures are built once per process (once per worker under ``pytest -n``) and are
read-only: tests that change what they return copy it first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kerasmodels import red_detector

# Tests never write JAX's compilation cache into the user's home (tests/test_compile_cache.py
# turns it on in a folder of its own).
os.environ.setdefault("OCCLUDE_NO_COMPILE_CACHE", "1")
# JAX compiles every eager operation and every traced function with XLA; the tests run
# hundreds of tiny programs whose compile time, not run time, is their cost, and XLA's CPU
# backend compiles several times faster without LLVM's optimisation passes. Those passes
# change how fast the machine code runs, not what it computes: every JAX check passes at
# both levels (the user's default is kept outside the tests). Child processes inherit it.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")


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


# --- parallel runs (pytest -n auto --dist loadfile) -------------------------------------

LONGEST_FIRST = (
    "test_backend_matrix.py",  # JAX and PyTorch each run tests/backends in a child pytest
    "test_incremental_exact.py",  # ResNet50, VGG16, MobileNetV2, EfficientNetB0
    "test_scale_out.py",  # a Ray cluster, shards
    "test_backends.py",  # the CLI under each backend, in child processes
    "test_incremental_dtypes.py",
)
"""Files that take far longer than the rest (pytest --durations, summed per file), longest
first, started first so that no worker is left with one of them at the end while the others
idle. The rest keep pytest's order."""


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist hands whole files to workers, by default the files with the most tests
    # first; keep the order made below instead (the option exists from pytest-xdist 3.6).
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: within a rank, and within a file, the order is pytest's
