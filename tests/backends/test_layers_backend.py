"""occlude.layers' statistical and exact checks under the backend in KERAS_BACKEND."""

from __future__ import annotations

from collections.abc import Callable

import keras
import pytest

from backends.checks import CHECKS
from backends.guided import GUIDED_CHECKS
from backends.refusals import REFUSAL_CHECKS


def test_backend_is_the_one_asked_for() -> None:
    import os

    assert keras.backend.backend() == os.environ.get("KERAS_BACKEND", "tensorflow")


@pytest.mark.parametrize("check", CHECKS + GUIDED_CHECKS + REFUSAL_CHECKS, ids=lambda c: c.__name__)
def test_layer_check(check: Callable[[], None]) -> None:
    check()
