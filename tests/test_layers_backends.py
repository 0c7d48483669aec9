"""occlude.layers under the JAX and PyTorch backends: tests/backends in subprocesses (Keras's
backend is fixed when Keras is first imported, so it cannot change in this process).

Both subprocesses start together when the first test here runs, and each test waits for
its own: they overlap with each other.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# PyTorch runs a reduced set: rates, fills, exact labels and pixels, seeds, a model, tf.data,
# channels first and refusals.
SELECT = {
    "jax": None,
    "torch": "backend_is or applied_rate or noise or mixup or cutmix or seeds or fit or pipeline"
    " or channels_first or refused",
}
TIMEOUT = 480


@pytest.fixture(scope="module")
def runs() -> dict[str, subprocess.Popen[str]]:
    started = {}
    for backend, select in SELECT.items():
        if importlib.util.find_spec(backend) is None:
            continue
        env = {**os.environ, "KERAS_BACKEND": backend, "OCCLUDE_BACKEND_CHECK": "1"}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += ["tests/backends/test_layers_backend.py"] + (["-k", select] if select else [])
        started[backend] = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    yield started
    for proc in started.values():
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("backend", list(SELECT))
def test_layer_checks_pass_under(backend: str, runs: dict[str, subprocess.Popen[str]]) -> None:
    if backend not in runs:
        pytest.skip(f"{backend} is not installed")
    try:
        output, _ = runs[backend].communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        runs[backend].kill()
        output, _ = runs[backend].communicate()
        pytest.fail(f"{backend} checks took over {TIMEOUT} s:\n{output}")
    assert runs[backend].returncode == 0, f"{backend} checks failed:\n{output}"
