"""Incremental scores equal full re-inference of the same Keras model (float32 round-off).

Each check compares ``session.score`` with ``model(copies, training=False)`` on copies
built the obvious way, and the sensitivity maps made from both; it also checks that the
full map is far from zero, so that a wrong engine cannot pass on a flat network.
"""

from __future__ import annotations

import numpy as np
import pytest
from incmodels import (
    HAND_BUILT,
    border_and_interior,
    build,
    calibrate_batchnorm,
    full_scores,
    occluded,
    pattern_image,
    randomize,
    sweep_map,
)

from occlude.fill import gaussian_blur
from occlude.incremental import IncrementalModel
from occlude.sensitivity.windows import window_boxes

TOL = 1e-5


def fills(x: np.ndarray) -> dict[str, np.ndarray]:
    """Constant, mean and blurred (non-constant) fill images, in the preprocessed range."""
    return {
        "grey": np.full_like(x, 0.3),
        "mean": np.broadcast_to(x.mean(axis=(0, 1)), x.shape).astype(np.float32),
        "blur": gaussian_blur(x, 2.0),
    }


def assert_exact(
    model,
    inc: IncrementalModel,
    x: np.ndarray,
    fill: np.ndarray,
    boxes,
    deep: bool = False,
    floor: bool = False,
) -> None:
    """Scores within TOL of the largest output; maps within TOL of their largest value.

    ``deep``: random-weight deep nets have a large common mode (logits ~1e4 that move by
    ~20 under occlusion), so float32 cannot resolve their maps to TOL of the map's peak:
    full re-inference at batch 1 and at batch 16 already differ by 4e-4 of the peak. For
    them the map is held to TOL of the largest output, the scores' own resolution.

    ``floor``: a net so ill-conditioned that full re-inference at batch 1 and at batch 16
    differ by more than TOL (random EfficientNet); the engine may then differ from full
    re-inference by at most twice that measured round-off.
    """
    session = inc.session(x)
    got = session.score(fill, boxes)
    want = full_scores(model, occluded(x, fill, boxes))
    base = full_scores(model, x[None])[0]
    scale = np.abs(want).max()
    tol = TOL * scale
    if floor:
        tol = max(tol, 2 * np.abs(full_scores(model, occluded(x, fill, boxes), 1) - want).max())
    np.testing.assert_allclose(session.base_scores, base, rtol=0, atol=tol)
    assert np.abs(got - want).max() <= tol
    k = int(np.argmax(base))
    height, width = x.shape[:2]
    map_want = sweep_map(height, width, boxes, base[k] - want[:, k])
    map_got = sweep_map(height, width, boxes, session.base_scores[k] - got[:, k])
    peak = np.abs(map_want).max()
    assert peak > 100 * TOL * scale, "the full map is flat: this check would prove nothing"
    assert np.abs(map_got - map_want).max() <= max(TOL * (scale if deep else peak), tol)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HAND_BUILT))
def test_hand_built_models_all_windows_and_fills(name: str) -> None:
    size = (23, 30)  # odd, non-square
    model = build(HAND_BUILT[name], size)
    inc = IncrementalModel(model, batch_size=5)
    x = pattern_image(*size)
    for (patch, stride), (fill_name, fill) in zip(
        [(5, 5), (7, 3), (4, 4)], fills(x).items(), strict=True
    ):
        boxes = window_boxes(*size, patch, stride)
        assert_exact(model, inc, x, fill, boxes), fill_name


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_any_batch_size_and_mixed_box_sizes(batch_size: int) -> None:
    size = (17, 13)
    model = build(HAND_BUILT["branches"], size, seed=3)
    inc = IncrementalModel(model, batch_size=batch_size)
    x = pattern_image(*size, seed=3)
    boxes = np.concatenate(
        [window_boxes(*size, 3, 2), window_boxes(*size, 6, 6), [[0, 0, 17, 13], [5, 4, 6, 5]]]
    )
    assert_exact(model, inc, x, fills(x)["blur"], boxes)


def test_unknown_layer_switches_to_full_and_stays_exact() -> None:
    model = build(HAND_BUILT["unknown_middle"], (16, 20))
    inc = IncrementalModel(model, batch_size=4)
    est = inc.estimate(4)
    assert est.switch_layer is not None and est.switch_layer.startswith("up_sampling2d")
    # Keras numbers layer names per process ("conv2d", then "conv2d_1"): match the prefix
    assert any(n.startswith("up_sampling2d") for n, _ in inc.unknown_layers())
    assert 0.0 < est.macs_fraction < 1.0


def _application(name: str, size: tuple[int, int], seed: int = 0):
    import keras

    ctor = getattr(keras.applications, name)
    model = ctor(weights=None, input_shape=(*size, 3), classifier_activation=None)
    return randomize(model, seed)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "size"),
    [("ResNet50", (224, 224)), ("MobileNetV2", (224, 224)), ("VGG16", (96, 128)),
     ("EfficientNetB0", (128, 96))],
)  # fmt: skip
def test_applications_border_and_interior_windows(name: str, size: tuple[int, int]) -> None:
    model = _application(name, size)
    inc = IncrementalModel(model, batch_size=16)
    x = pattern_image(*size, seed=1)
    if name.startswith("EfficientNet"):
        x = (x + 1) * 127.5  # its own Rescaling and Normalization take 0-255 pixels
        calibrate_batchnorm(model, x)
    fill = fills(x)
    for patch, stride, fill_name in ((16, 16, "grey"), (32, 16, "blur")):
        boxes = border_and_interior(window_boxes(*size, patch, stride), *size, interior=4)
        if size[0] * size[1] > 20000:
            boxes = boxes[:: 7 if patch == 16 else 4]  # the 224 nets: every few border windows
        elif name.startswith("EfficientNet"):
            boxes = boxes[::2]  # its round-off floor costs one more full pass at batch 1
        assert_exact(
            model, inc, x, fill[fill_name], boxes, deep=True, floor=name.startswith("EfficientNet")
        )


@pytest.mark.slow
def test_efficientnet_has_nothing_to_gain() -> None:
    model = _application("EfficientNetB0", (224, 224))
    est = IncrementalModel(model, batch_size=8).estimate(16)
    assert not est.worth_it and est.macs_fraction > 0.9


@pytest.mark.slow
def test_nested_application_inside_a_user_model_is_flattened() -> None:
    import keras

    base = keras.applications.MobileNetV2(
        weights=None, input_shape=(48, 64, 3), include_top=False, alpha=0.35
    )
    inputs = keras.Input((48, 64, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = randomize(keras.Model(inputs, keras.layers.Dense(3)(x)), seed=2)
    inc = IncrementalModel(model, batch_size=8)
    assert inc.estimate(8).macs_fraction < 0.9
    assert not any("mobilenet" in n for n, _ in inc.unknown_layers())
    x = (pattern_image(48, 64, seed=2) + 1) * 127.5
    assert_exact(model, inc, x, np.full_like(x, 128.0), window_boxes(48, 64, 8, 8))
