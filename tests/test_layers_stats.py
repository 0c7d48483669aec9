"""The statistical and exact checks of occlude.layers, under Keras's backend here
(TensorFlow in CI); tests/test_backend_matrix.py runs them under JAX and PyTorch."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from backends.checks import CHECKS
from backends.guided import GUIDED_CHECKS
from backends.refusals import REFUSAL_CHECKS


@pytest.mark.slow
@pytest.mark.parametrize("check", CHECKS + GUIDED_CHECKS + REFUSAL_CHECKS, ids=lambda c: c.__name__)
def test_layer_check(check: Callable[[], None]) -> None:
    check()
