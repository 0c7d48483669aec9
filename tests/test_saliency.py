"""The one saliency module (:mod:`occlude.saliency`) on every adapter: NumPy (the folder
command, focus) and Keras's backend (the layers), against naive float64 references; the
guided mixers' label weights; focus as a share of positive mass."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from backends.guided import centre_importances
from test_methods import ADAPTERS

from occlude import saliency as S
from occlude.augment import geometry as geo
from occlude.augment.methods import SaliencyMix
from occlude.checks import check_label_by
from occlude.errors import UsageError
from occlude.sensitivity.metrics import focus


@pytest.fixture(params=list(ADAPTERS))
def bk(request: pytest.FixtureRequest) -> Any:
    return ADAPTERS[request.param]()


def numpy(x: Any) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


def test_the_positive_part_drops_negative_and_non_finite_values(bk: Any) -> None:
    maps = np.array([[[1.0, -2.0], [np.nan, np.inf]]], "float32")
    np.testing.assert_array_equal(numpy(S.positive(bk, maps)), [[[1.0, 0.0], [0.0, 0.0]]])
    np.testing.assert_array_equal(numpy(S.positive(bk, maps[..., None])), [[[1, 0], [0, 0]]])


def test_every_centres_box_importance_matches_a_naive_sum(bk: Any) -> None:
    maps = np.random.default_rng(0).normal(size=(2, 9, 11)).astype("float32")
    table = S.integral(bk, S.positive(bk, maps))
    totals = numpy(S.totals(bk, table))[:, None, None]
    np.testing.assert_allclose(totals[:, 0, 0], np.maximum(maps, 0).sum(axis=(1, 2)), rtol=1e-5)
    for side in (1, 4, 5, 30):
        sums = numpy(S.centred_box_sums(bk, table, side, 9, 11)).reshape(2, 9, 11)
        expected = np.stack([centre_importances(m, side) for m in maps])
        np.testing.assert_allclose(sums / totals, expected, rtol=1e-5, atol=1e-6)


def test_region_sums_agree_with_a_slice(bk: Any) -> None:
    maps = np.random.default_rng(2).random((2, 8, 10)).astype("float32")
    boxes = geo.Boxes(*(np.asarray(v, "int32") for v in ([1, 0], [2, 3], [7, 10], [5, 8])))
    expected = [maps[0, 2:5, 1:7].sum(), maps[1, 3:8, 0:10].sum()]
    region = geo.box_region(bk, boxes, 8, 10, np.asarray([True, True]))
    sums = S.region_sums(bk, maps, region.expand(bk, 1))
    np.testing.assert_allclose(numpy(sums), expected, rtol=1e-5)


def test_share_is_zero_without_positive_mass(bk: Any) -> None:
    part, total = np.array([1.0, 0.0], "float32"), np.array([4.0, 0.0], "float32")
    np.testing.assert_array_equal(numpy(S.share(bk, part, total)), [0.25, 0.0])


def test_peak_is_the_first_maximum_in_raster_order(bk: Any) -> None:
    maps = np.zeros((4, 4, 5), "float32")
    maps[0, 2, 1] = maps[0, 1, 3] = 5.0  # raster order: (y 1, x 3) comes first
    maps[1] = -1.0  # all equal: the first pixel
    maps[2, 3, 4] = 0.5
    maps[3] = -2.0
    maps[3, 0, :3] = np.nan  # NaN is never the peak; the least negative is
    maps[3, 2, 2] = -0.5
    x, y = (numpy(v) for v in S.peak(bk, maps))
    assert list(zip(x, y, strict=True)) == [(3, 1), (0, 0), (4, 3), (2, 2)]


def test_top_k_takes_ties_in_index_order(bk: Any) -> None:
    values = np.array([[1, 3, 3, 0, 3], [0, 0, 0, 0, 0]], "float32")
    np.testing.assert_array_equal(
        numpy(S.top_k_mask(bk, values, 2)), [[0, 1, 1, 0, 0], [1, 1, 0, 0, 0]]
    )


@pytest.mark.parametrize(("n", "grid"), [(14, 4), (7, 7), (5, 7), (224, 7)])
def test_cells_have_floor_boundaries(bk: Any, n: int, grid: int) -> None:
    bounds = numpy(S.cell_bounds(bk, n, grid))
    assert list(bounds) == [i * n // grid for i in range(grid + 1)]


def test_cell_sums_static_and_from_the_integral_image_agree(bk: Any) -> None:
    maps = np.random.default_rng(3).random((2, 23, 30)).astype("float32")
    rows, cols = S.cell_bounds(bk, 23, 7), S.cell_bounds(bk, 30, 7)
    ys, xs = (S.cell_bounds(None, n, 7) for n in (23, 30))
    expected = [[[m[ys[r] : ys[r + 1], xs[c] : xs[c + 1]].sum() for r in range(7)
                  for c in range(7)]] for m in maps]  # fmt: skip
    static = numpy(S.cell_sums(bk, maps, rows, cols)).reshape(2, 1, -1)
    tensors = [bk.convert_to_tensor(v, dtype="int32") for v in (rows, cols)]
    traced = numpy(S.cell_sums(bk, bk.convert_to_tensor(maps), *tensors)).reshape(2, 1, -1)
    np.testing.assert_allclose(static, expected, rtol=1e-5)
    np.testing.assert_allclose(traced, expected, rtol=1e-4)


def test_label_weights_by_area_and_by_saliency(bk: Any) -> None:
    boxes = geo.Boxes(*(np.asarray([[v]], "int32") for v in (0, 0, 2, 2)))  # a quarter
    src = np.ones((1, 4, 4), "float32")
    src[0, :2, :2] = 3.0  # the source's evidence sits where the partner is pasted
    partner = np.zeros((1, 4, 4), "float32")
    partner[0, 0, 0] = 1.0

    def weight(rule: str, source: Any, theirs: Any, applied: bool = True) -> float:
        method = SaliencyMix(label_by=rule, prob=float(applied))
        params = method.sample(bk, bk.convert_to_tensor(np.asarray([7], "int32")), 4, 4)
        placed = method.placed(bk, params, boxes, source, theirs)
        share, lam = float(numpy(placed.share)[0]), float(numpy(placed.lam)[0])
        assert lam == pytest.approx(1.0 - share)
        return share

    assert weight("area", src, partner) == 0.25
    # the source keeps 12 of 24 (outside), the partner brings all of its 1 of 1 (inside)
    a, b = 12 / 24, 1.0
    assert weight("saliency", src, partner) == pytest.approx(b / (a + b))
    assert weight("saliency", 0 * src, 0 * partner) == 0.25  # no evidence: by area
    assert weight("saliency", None, partner) == 0.25  # no source map: by area
    assert weight("saliency", src, partner, applied=False) == 0.0


def test_focus_is_the_share_of_positive_mass_inside_the_region() -> None:
    values = np.array([[1.0, -5.0, np.nan], [3.0, 0.0, np.inf]])
    region = np.array([[True, True, True], [False, False, True]])
    assert focus(values, region) == 0.25  # NaN and infinities are no evidence
    assert focus(np.minimum(-np.abs(values), 0.0), region) == 0.0  # no positive mass
    with pytest.raises(UsageError, match="region shape"):
        focus(values, region[:, :2])


def test_label_by_is_checked_once() -> None:
    assert check_label_by("saliency") == "saliency"
    with pytest.raises(UsageError, match="label_by must be 'area' or 'saliency'") as err:
        check_label_by("pixels")
    assert "label_by" in err.value.params


def test_maps_are_fitted_to_the_image_and_must_be_2d() -> None:
    small = np.zeros((10, 15), np.float32)
    small[9, 14] = 1.0
    fitted = S.fit(small, (40, 60))
    assert fitted.shape == (40, 60) and fitted[39, 59] == fitted.max() > 0
    np.testing.assert_array_equal(S.fit(small, (10, 15)), small)
    with pytest.raises(UsageError, match="saliency must be an H×W map"):
        S.fit(np.zeros((2, 3, 4)), (2, 3))
