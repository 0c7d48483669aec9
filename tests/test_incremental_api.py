"""The engine's library API: checks on arguments, estimates, fallbacks, compile-once."""

from __future__ import annotations

import numpy as np
import pytest
from incmodels import HAND_BUILT, build, full_scores, occluded, pattern_image, randomize

from occlude.errors import UsageError
from occlude.incremental import IncrementalModel
from occlude.sensitivity.windows import window_boxes

SIZE = (19, 24)


@pytest.fixture(scope="module")
def model():
    return build(HAND_BUILT["branches"], SIZE, seed=5)


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [({"batch_size": 0}, "batch_size"), ({"approx": 0.0}, "approx"),
     ({"approx": 1.5}, "approx"), ({"threshold": 0}, "threshold"),
     ({"input_size": (20, 24)}, "input_size")],
)  # fmt: skip
def test_bad_arguments_name_the_parameter(model, kwargs: dict, names: str) -> None:
    with pytest.raises(UsageError, match=names):
        IncrementalModel(model, **kwargs)


def test_bad_images_and_boxes_name_the_parameter(model) -> None:
    inc = IncrementalModel(model, batch_size=4)
    x = pattern_image(*SIZE)
    with pytest.raises(UsageError, match=r"x_clean .*received shape \(24, 19, 3\)"):
        inc.session(x.transpose(1, 0, 2))
    session = inc.session(x)
    with pytest.raises(UsageError, match="x_fill"):
        session.score(x[:5], np.array([[0, 0, 2, 2]]))
    with pytest.raises(UsageError, match=r"boxes .*received \[0, 0, 2, 20\]"):
        session.score(x, np.array([[0, 0, 2, 20]]))
    with pytest.raises(UsageError, match="boxes must be an"):
        session.score(x, np.array([[0.0, 0.0, 2.0, 2.0]]))
    with pytest.raises(UsageError, match="patch"):
        inc.estimate((0, 3))


def test_estimate_reports_cost_switch_and_decision(model) -> None:
    inc = IncrementalModel(model)
    est = inc.estimate(4)
    assert est.patch == (4, 4) and est.tau == 1.0
    assert 0.0 < est.macs_fraction < 0.75 and est.worth_it
    assert est.full_macs == sum(s.macs for s in inc.specs) > 0
    assert est.switch_layer is not None and "global_average_pooling" in est.switch_layer
    whole = inc.estimate((19, 24))  # a patch over the whole image: nothing to gain
    assert whole.macs_fraction == pytest.approx(1.0) and not whole.worth_it
    assert inc.estimate((100, 3)).patch == (19, 3)  # clipped to the image


@pytest.mark.slow
def test_base_scores_empty_batches_and_one_compile_per_shape(model) -> None:
    import tensorflow as tf

    inc = IncrementalModel(model, batch_size=4)
    x = pattern_image(*SIZE, seed=1)
    session = inc.session(x)
    np.testing.assert_allclose(session.base_scores, full_scores(model, x[None])[0], atol=1e-5)
    assert session.score(x, np.zeros((0, 4), np.int64)).shape == (0, 6)
    boxes = window_boxes(*SIZE, 4, 3)  # 48 windows: 12 batches, one of them padded
    fill = np.zeros_like(x)
    session.score(fill, boxes)
    inc.session(pattern_image(*SIZE, seed=2)).score(fill, boxes[:8])
    step = inc._steps[(4, 4)]
    if isinstance(step, tf.types.experimental.PolymorphicFunction):
        assert step.experimental_get_tracing_count() == 1
        session.score(fill, boxes[:7])  # 4 + 3: the short batch runs at 4, no new trace
        assert step.experimental_get_tracing_count() == 1
        session.score(fill, boxes[:1])  # a batch of 1: one more shape
        assert step.experimental_get_tracing_count() == 2


def test_models_it_cannot_walk_run_whole_and_exact() -> None:
    import keras

    class Subclassed(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.conv = keras.layers.Conv2D(4, 3, padding="same")
            self.pool = keras.layers.GlobalAveragePooling2D()

        def call(self, x):
            return self.pool(self.conv(x))

    sub = Subclassed()
    sub(np.zeros((1, *SIZE, 3), np.float32))
    with pytest.raises(UsageError, match="input_size"):
        IncrementalModel(sub)  # a subclassed model has no symbolic input
    alone = IncrementalModel(sub, input_size=SIZE)
    assert alone.fallback is not None and not alone.estimate(4).worth_it
    inputs = keras.Input((*SIZE, 3))
    wrapped = randomize(keras.Model(inputs, sub(inputs)))
    inc = IncrementalModel(wrapped, batch_size=3)
    est = inc.estimate(4)
    assert not est.worth_it and est.macs_fraction == 1.0
    x = pattern_image(*SIZE)
    boxes = window_boxes(*SIZE, 6, 6)
    got = inc.session(x).score(np.zeros_like(x), boxes)
    want = full_scores(wrapped, occluded(x, np.zeros_like(x), boxes))
    np.testing.assert_allclose(got, want, atol=1e-5 * np.abs(want).max())


def test_sequential_and_free_input_size() -> None:
    import keras

    layers = keras.layers
    seq = keras.Sequential(
        [keras.Input((None, None, 3)), layers.Conv2D(4, 3, strides=2, padding="same"),
         layers.ReLU(), layers.Conv2D(4, 3, padding="same"), layers.GlobalMaxPooling2D()]
    )  # fmt: skip
    randomize(seq)
    with pytest.raises(UsageError, match="input_size"):
        IncrementalModel(seq)
    inc = IncrementalModel(seq, batch_size=4, input_size=SIZE)
    assert inc.estimate(3).macs_fraction < 0.7
    x = pattern_image(*SIZE)
    boxes = window_boxes(*SIZE, 5, 4)
    got = inc.session(x).score(np.zeros_like(x), boxes)
    want = full_scores(seq, occluded(x, np.zeros_like(x), boxes))
    np.testing.assert_allclose(got, want, atol=1e-5 * np.abs(want).max())
    assert np.abs(want - want[0]).max() > 1e-3 * np.abs(want).max()


@pytest.mark.slow
def test_approx_one_is_exact_and_smaller_tau_computes_less(model) -> None:
    x = pattern_image(*SIZE, seed=4)
    fill = np.zeros_like(x)
    boxes = window_boxes(*SIZE, 4, 4)
    exact = IncrementalModel(model, batch_size=8)
    one = IncrementalModel(model, batch_size=8, approx=1.0)
    np.testing.assert_array_equal(
        one.session(x).score(fill, boxes), exact.session(x).score(fill, boxes)
    )
    half = IncrementalModel(model, batch_size=8, approx=0.4)
    assert half.estimate(4).macs_fraction < exact.estimate(4).macs_fraction
    approx = half.session(x).score(fill, boxes)
    assert approx.shape == (len(boxes), 6) and np.isfinite(approx).all()


@pytest.mark.slow
def test_approx_runs_on_a_small_mobilenet() -> None:
    import keras

    model = keras.applications.MobileNetV2(
        weights=None, input_shape=(96, 96, 3), alpha=0.35, classes=5, classifier_activation=None
    )
    randomize(model, seed=1)
    x = pattern_image(96, 96, seed=1)
    boxes = window_boxes(96, 96, 16, 16)
    exact = IncrementalModel(model, batch_size=16)
    want = exact.session(x).score(np.zeros_like(x), boxes)
    for tau in (0.5,):
        inc = IncrementalModel(model, batch_size=16, approx=tau)
        got = inc.session(x).score(np.zeros_like(x), boxes)
        assert got.shape == want.shape and np.isfinite(got).all()
        assert inc.estimate(16).macs_fraction <= exact.estimate(16).macs_fraction
