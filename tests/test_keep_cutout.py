"""KeepCutout (KeepAugment's selective cut) on every adapter: its draws against the paper
(NumPy and Keras's backend; tests/backends/ runs the layer on each backend), its JSON and
the folder adapter. The checks every method shares are in test_methods.py."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
from backends.guided import centre_importances, importance
from test_methods import ADAPTERS, arrays, keys

from occlude.augment import augment, augmentation
from occlude.augment.methods.keep_cutout import KeepCutoutParams, quantile
from occlude.draws import NUMPY
from occlude.errors import UsageError


@pytest.fixture(params=list(ADAPTERS))
def bk(request: pytest.FixtureRequest) -> Any:
    return ADAPTERS[request.param]()


def kept(bk: Any, saliency: np.ndarray, n: int, seed: int = 0, **settings: Any) -> Any:
    """n draws on one map (the same map for each key)."""
    maps = np.broadcast_to(saliency, (n, *saliency.shape))
    h, w = saliency.shape
    method = augmentation("keep-cutout", **settings)
    return arrays(method.sample(bk, keys(n, seed), h, w, saliency=maps))


def box_share(saliency: np.ndarray, box: Any) -> float:
    x0, y0, x1, y1 = (int(v) for v in box)
    region = np.zeros(saliency.shape, bool)
    region[y0:y1, x0:x1] = True
    return importance(saliency, region)


def test_the_kept_square_is_under_the_threshold_unless_the_draws_ran_out(bk: Any) -> None:
    saliency = np.zeros((32, 32), np.float32)
    saliency[8:16, 8:16] = 1.0  # the object
    p = kept(bk, saliency, 400, size=8, max_tries=3)
    boxes = np.stack([c[:, 0] for c in p.boxes], axis=1)
    np.testing.assert_allclose(p.threshold, np.quantile(centre_importances(saliency, 8), 0.5))
    np.testing.assert_allclose(p.importance, [box_share(saliency, b) for b in boxes], atol=1e-6)
    out = p.ran_out
    assert np.all(p.attempts[out] == 3) and np.all(p.importance[out] > p.threshold[out])
    assert np.all(p.importance[~out] <= p.threshold[~out])
    assert np.all((p.attempts[~out] >= 1) & (p.attempts[~out] <= 3))
    assert (~out).sum() > 300 and out.sum() > 0


def test_it_erases_the_object_less_often_than_cutout(bk: Any) -> None:
    saliency = np.zeros((32, 32), np.float32)
    saliency[4:12, 20:28] = 1.0
    keep = kept(bk, saliency, 300, size=12, max_tries=10)
    plain = arrays(augmentation("cutout", size=12).sample(bk, keys(300), 32, 32))

    def erased(params: Any) -> int:
        boxes = np.stack([c[:, 0] for c in params.boxes], axis=1)
        return sum(box_share(saliency, b) > 0.25 for b in boxes)

    assert erased(keep) < erased(plain) / 4


def test_without_importance_the_first_square_is_kept(bk: Any) -> None:
    p = kept(bk, np.full((16, 16), -1.0, np.float32), 50)
    assert np.all(p.attempts == 1) and not p.ran_out.any()
    assert np.all(p.importance == 0) and np.all(p.threshold == 0)


def test_quantile_is_numpys_linear_quantile(bk: Any) -> None:
    values = np.abs(np.random.default_rng(1).normal(size=(4, 50))).astype("float32")
    values[1, :30] = 0.0  # ties, and ties at zero
    values[2, 10:] = values[2, 0]
    for q in (0.0, 0.1, 0.5, 0.77, 0.99, 1.0):
        got = keras.ops.convert_to_numpy(quantile(bk, values, q))
        np.testing.assert_allclose(got, np.quantile(values, q, axis=1), rtol=1e-6)


def test_params_json_is_version_ones() -> None:
    data = {"applied": True, "boxes": [[1, 2, 9, 10]], "attempts": 3, "importance": 0.25,
            "threshold": 0.5, "ran_out": False}  # fmt: skip
    assert KeepCutoutParams.from_dict(data).to_dict() == data
    skipped = {"applied": False, "boxes": [], "attempts": 0, "importance": None,
               "threshold": None, "ran_out": False}  # fmt: skip
    assert KeepCutoutParams.from_dict(skipped).to_dict() == skipped


def test_the_folder_adapter_fits_the_map_and_needs_one() -> None:
    image = np.zeros((40, 60, 3), np.uint8)
    small = np.zeros((10, 15), np.float32)
    small[:5] = 1.0  # the top half matters
    for seed in range(5):
        out = augment(image, "keep-cutout", seed=seed, size=10, fill="white", saliency=small)
        ((x0, y0, x1, y1),) = out.params_dict()["boxes"]
        assert (out.image[..., 0] == 255).sum() == (x1 - x0) * (y1 - y0)
        assert out.params.importance[0] <= out.params.threshold[0] or out.params.ran_out[0]
    with pytest.raises(UsageError, match="keep-cutout needs the image's saliency map"):
        augment(image, "keep-cutout", seed=0)
    with pytest.raises(UsageError, match="keep-cutout samples from a saliency map"):
        augmentation("keep-cutout").sample(None, keys(1), 4, 4)
    with pytest.raises(UsageError, match="no robustness curve"):
        augmentation("keep-cutout").at_fraction(NUMPY, np.zeros(1, np.int32), 4, 4, 0.1)


def test_settings_are_checked_naming_the_parameter() -> None:
    with pytest.raises(UsageError, match="max_tries must be an int from 1 to 10000") as err:
        augmentation("keep-cutout", max_tries=10_001)
    assert err.value.params == ("max_tries",)
    with pytest.raises(UsageError, match="keep_quantile"):
        augmentation("keep-cutout", keep_quantile=1.5)
