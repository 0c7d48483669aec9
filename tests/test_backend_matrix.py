"""The backend matrix: the tests in ``tests/backends/`` (the layers' statistical, exact and
refusal checks, and the incremental engine's exactness) run once per Keras backend, each in
its own process, as Keras's own CI runs its suite once per ``KERAS_BACKEND``.

Keras's backend is fixed when Keras is first imported, so it cannot change in this process.
TensorFlow runs the same checks in-process through the ordinary test files
(``test_layers_stats.py``, ``test_incremental_exact.py``); here JAX and PyTorch do.

To run one cell of the matrix by hand::

    KERAS_BACKEND=jax OCCLUDE_BACKEND_CHECK=1 python -m pytest tests/backends

Both processes start when the first test here runs, and each test waits for its own.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("jax", "torch")
TIMEOUT = 900

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, subprocess.Popen[str]]]:
    started = {}
    for backend in BACKENDS:
        if importlib.util.find_spec(backend) is None:
            continue
        env = {**os.environ, "KERAS_BACKEND": backend, "OCCLUDE_BACKEND_CHECK": "1"}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-s"]
        command += ["tests/backends"]
        started[backend] = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    yield started
    for proc in started.values():
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_backend_checks_pass_under(
    backend: str, runs: dict[str, subprocess.Popen[str]]
) -> None:
    if backend not in runs:
        pytest.skip(f"{backend} is not installed")
    try:
        output, _ = runs[backend].communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        runs[backend].kill()
        output, _ = runs[backend].communicate()
        pytest.fail(f"{backend} checks took over {TIMEOUT} s:\n{output}")
    assert runs[backend].returncode == 0, f"{backend} checks failed:\n{output}"
    # both halves of the matrix ran: the layers' checks and the incremental engine's
    assert f"backend: {backend}" in output, output
    assert " passed" in output and " failed" not in output, output
