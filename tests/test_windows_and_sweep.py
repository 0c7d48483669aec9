"""The sensitivity map's contract: window geometry, the sweep against the naive oracle in
``reference.py`` and hand-computed maps, fills, and independence from the batch size."""

from __future__ import annotations

import numpy as np
import pytest
from reference import linear_model, naive_map

from occlude import ScoreError, UsageError, occlusion_sensitivity
from occlude.fill import gaussian_blur
from occlude.scoring import balanced_batch_size
from occlude.sensitivity import (
    axis_starts,
    check_scales,
    count_windows,
    default_patch_sizes,
    window_boxes,
)
from occlude.sensitivity.core import fill_pixels
from occlude.sensitivity.windows import coverage


def pixel_model(*terms: tuple[int, int, float]):  # type: ignore[no-untyped-def]
    """Score of class 0 = sum of weight * red value at (y, x); class 1 = constant 0."""

    def predict(batch: np.ndarray) -> np.ndarray:
        s = sum(w * batch[:, y, x, 0].astype(np.float64) for y, x, w in terms)
        return np.stack([s, np.zeros(len(batch))], axis=1)

    return predict


def region_mean_model(x0: int, y0: int, x1: int, y1: int):  # type: ignore[no-untyped-def]
    def predict(batch: np.ndarray) -> np.ndarray:
        s = batch[:, y0:y1, x0:x1, :].astype(np.float64).mean(axis=(1, 2, 3))
        return np.stack([s, 1.0 - s / 255.0], axis=1)

    return predict


# --- window geometry ---------------------------------------------------------------------


def test_axis_starts_follow_the_contract() -> None:
    assert axis_starts(224, 40, 40) == [0, 40, 80, 120, 160, 200]  # the seed's 6x6 grid
    assert axis_starts(10, 4, 3) == [0, 3, 6]  # 6 < 10 - 4 + 3; last window clipped to 10
    assert axis_starts(10, 4, 2) == [0, 2, 4, 6]  # 8 is not < 8
    assert axis_starts(5, 8, 2) == [0]  # patch >= length: one window
    assert axis_starts(5, 5, 1) == [0]


def test_seed_grid_is_six_by_six_and_covers_every_pixel_once() -> None:
    boxes = window_boxes(224, 224, 40, 40)
    assert len(boxes) == 36
    assert boxes[0].tolist() == [0, 0, 40, 40]
    assert boxes[-1].tolist() == [200, 200, 224, 224]  # clipped at the edge
    cover = coverage(224, 224, boxes)
    assert cover.min() == 1 and cover.max() == 1


@pytest.mark.parametrize(("h", "w", "p", "s"), [(7, 5, 3, 2), (9, 4, 4, 3), (5, 13, 6, 1)])
def test_every_pixel_is_covered_and_windows_stay_inside(h: int, w: int, p: int, s: int) -> None:
    boxes = window_boxes(h, w, p, s)
    for x0, y0, x1, y1 in boxes:
        assert 0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w
        assert y1 - y0 == min(p, h - y0) and x1 - x0 == min(p, w - x0)
    assert coverage(h, w, boxes).min() >= 1


def test_coverage_counts_overlapping_windows() -> None:
    # 3x3, patch 2, stride 1: the centre is in all four windows, corners in one each.
    cover = coverage(3, 3, window_boxes(3, 3, 2, 1))
    np.testing.assert_array_equal(cover, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_default_sweep_and_window_count() -> None:
    assert default_patch_sizes(224, 224) == (16, 32, 56, 112)
    assert default_patch_sizes(32, 48) == (2, 5, 8, 16)  # of the shorter side
    assert count_windows((224, 224)) == 196 + 49 + 16 + 4
    assert count_windows((224, 224), [40]) == 36
    assert count_windows((224, 224), [8, 16]) == 784 + 196
    assert count_windows((224, 224), [8, 16], [8]) == 784 + 27 * 27


def test_check_scales_spreads_one_stride_over_every_patch() -> None:
    assert check_scales([20, 40], [10]) == ((20, 40), (10, 10))
    assert check_scales([20, 40], [10, 20]) == ((20, 40), (10, 20))
    assert check_scales(None, None) == ((), ())


def test_balanced_batch_size_evens_out_the_last_call() -> None:
    assert balanced_batch_size(266, 32) == 30  # 9 calls of 30, not 8 of 32 and one of 10
    assert balanced_batch_size(64, 32) == 32
    assert balanced_batch_size(5, 32) == 5
    assert balanced_batch_size(0, 8) == 8


# --- hand-computed maps ------------------------------------------------------------------


def test_region_mean_model_exact_map() -> None:
    image = np.full((4, 4, 3), 255.0)
    result = occlusion_sensitivity(
        image, region_mean_model(0, 0, 2, 2), class_index=0, patch_sizes=[2], fill="black"
    )
    expected = np.zeros((4, 4))
    expected[:2, :2] = 255.0
    np.testing.assert_array_equal(result.map, expected)
    assert result.windows == 4
    assert result.base_score == 255.0
    assert result.map.dtype == np.float32


def test_overlapping_windows_are_averaged() -> None:
    # 3x3 image of ones, score = p(0,0) + 2 p(2,2); patch 2, stride 1 -> four windows:
    # TL covers (0,0): drop 1; TR and BL cover neither: 0; BR covers (2,2): drop 2.
    image = np.ones((3, 3, 3))
    result = occlusion_sensitivity(
        image,
        pixel_model((0, 0, 1.0), (2, 2, 2.0)),
        class_index=0,
        patch_sizes=[2],
        strides=[1],
        fill="black",
    )
    expected = [[1.0, 0.5, 0.0], [0.5, 0.75, 1.0], [0.0, 1.0, 2.0]]
    np.testing.assert_allclose(result.map, expected, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(result.scores[0], [2.0, 3.0, 3.0, 1.0])  # base score 3


def test_windows_are_clipped_at_the_edges() -> None:
    # 5x5, patch 3, stride 3: windows [0,3) and [3,5) per axis.
    image = np.full((5, 5, 3), 10.0)
    result = occlusion_sensitivity(
        image, pixel_model((4, 4, 1.0)), class_index=0, patch_sizes=[3], fill="black"
    )
    expected = np.zeros((5, 5))
    expected[3:, 3:] = 10.0
    np.testing.assert_array_equal(result.map, expected)
    assert result.windows == 4
    assert result.boxes[0].tolist() == [[0, 0, 3, 3], [3, 0, 5, 3], [0, 3, 3, 5], [3, 3, 5, 5]]


def test_patch_larger_than_the_image_on_one_axis() -> None:
    # 4x8 image, patch 6: one window along y ([0,4)), two along x ([0,6) and [6,8)).
    image = np.full((4, 8, 3), 3.0)
    result = occlusion_sensitivity(
        image, pixel_model((1, 7, 1.0)), class_index=0, patch_sizes=[6], fill="black"
    )
    assert result.windows == 2
    expected = np.zeros((4, 8))
    expected[:, 6:] = 3.0
    np.testing.assert_array_equal(result.map, expected)


def test_multi_scale_map_is_the_mean_of_the_scale_maps() -> None:
    image = np.full((4, 4, 3), 2.0)
    result = occlusion_sensitivity(
        image, pixel_model((0, 0, 1.0)), class_index=0, patch_sizes=[1, 4], fill="black"
    )
    fine = np.zeros((4, 4))
    fine[0, 0] = 2.0
    coarse = np.full((4, 4), 2.0)
    np.testing.assert_array_equal(result.scale_maps[0], fine)
    np.testing.assert_array_equal(result.scale_maps[1], coarse)
    np.testing.assert_array_equal(result.map, (fine + coarse) / 2)
    assert result.patch_sizes == (1, 4) and result.strides == (1, 4)
    assert result.windows == 16 + 1


def test_non_square_image_with_a_stride_per_patch() -> None:
    # 2x3 of ones, score = p(0, 2); patch 2 stride 1 (windows at x 0, 1) and patch 1 stride 1.
    image = np.ones((2, 3, 3))
    result = occlusion_sensitivity(
        image, pixel_model((0, 2, 1.0)), class_index=0, patch_sizes=[2, 1], strides=[1, 1],
        fill="black",
    )  # fmt: skip
    np.testing.assert_array_equal(result.scale_maps[0], [[0.0, 0.5, 1.0], [0.0, 0.5, 1.0]])
    np.testing.assert_array_equal(result.scale_maps[1], [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    assert result.windows == 2 + 6


# --- the naive oracle --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "patches", "strides", "fill"),
    [
        ((12, 12), [4], [4], "grey"),
        ((9, 14), [4, 6], [2, 3], "black"),  # non-square, overlapping
        ((10, 7), [3], [1], "mean"),
        ((8, 11), [9, 2], None, "blur"),  # patch >= height on one scale
        ((6, 6), [5], [5], "10,200,30"),
        ((7, 9), [3], [2], "white"),
        ((5, 8), [2, 4], [2], "42"),
    ],
)
def test_matches_the_independent_naive_implementation(shape, patches, strides, fill) -> None:
    rng = np.random.default_rng(7)
    image = rng.uniform(0, 255, (*shape, 3))
    predict = linear_model(rng.normal(size=(3, *shape, 3)))
    result = occlusion_sensitivity(
        image, predict, class_index=2, patch_sizes=patches, strides=strides, fill=fill
    )
    fill_img = fill_pixels(image, fill)
    steps = strides * len(patches) if strides and len(strides) == 1 else strides or patches
    per_scale = [
        naive_map(image, predict, 2, p, s, fill_img) for p, s in zip(patches, steps, strict=True)
    ]
    for got, want in zip(result.scale_maps, per_scale, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(result.map, np.mean(per_scale, axis=0), rtol=1e-5, atol=1e-3)


def test_result_does_not_depend_on_batch_size() -> None:
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (11, 9, 3))
    predict = linear_model(rng.normal(size=(4, 11, 9, 3)))
    results = [
        occlusion_sensitivity(
            image, predict, class_index=1, patch_sizes=[2, 3, 5], strides=[1, 2, 5], batch_size=b
        )
        for b in (1, 3, 32)
    ]
    for other in results[1:]:
        np.testing.assert_array_equal(other.map, results[0].map)
        for a, b in zip(other.scale_maps, results[0].scale_maps, strict=True):
            np.testing.assert_array_equal(a, b)


def test_batches_never_exceed_batch_size_and_progress_counts_every_image() -> None:
    sizes: list[int] = []
    progress: list[int] = []

    def predict(batch: np.ndarray) -> np.ndarray:
        sizes.append(len(batch))
        return np.zeros((len(batch), 2))

    result = occlusion_sensitivity(
        np.zeros((6, 6, 3)), predict, class_index=0, patch_sizes=[2], batch_size=4,
        on_progress=progress.append,
    )  # fmt: skip
    assert result.windows == 9
    assert sizes == [4, 4, 2]  # the plain image plus nine occluded copies
    assert progress == sizes


# --- fills ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fill", "colour"),
    [
        ("grey", (127.5, 127.5, 127.5)),
        ("gray", (127.5, 127.5, 127.5)),
        ("black", (0.0, 0.0, 0.0)),
        ("white", (255.0, 255.0, 255.0)),
        ("42", (42.0, 42.0, 42.0)),
        ("1,2,3", (1.0, 2.0, 3.0)),
    ],
)
def test_constant_fills(fill: str, colour: tuple[float, float, float]) -> None:
    image = np.zeros((3, 4, 3))
    np.testing.assert_array_equal(fill_pixels(image, fill), np.broadcast_to(colour, (3, 4, 3)))


def test_mean_fill_is_the_image_channel_means() -> None:
    image = np.zeros((2, 2, 3))
    image[0, 0] = (40, 80, 120)
    np.testing.assert_array_equal(fill_pixels(image, "mean")[1, 1], [10, 20, 30])


def test_blur_fill_matches_scipy() -> None:
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(3)
    image = rng.uniform(0, 255, (40, 32, 3))
    sigma = 32 / 16  # 1/16 of the shorter side
    want = gaussian_filter(image, sigma=(sigma, sigma, 0), mode="mirror", truncate=3.0)
    np.testing.assert_allclose(fill_pixels(image, "blur"), want, atol=1e-3)
    np.testing.assert_allclose(gaussian_blur(image, 0.0), image.astype(np.float32))


def test_the_fill_is_applied_before_the_model() -> None:
    # score = red at (0, 0): occluding it with white (255) from 10 raises the score.
    image = np.full((2, 2, 3), 10.0)
    result = occlusion_sensitivity(
        image, pixel_model((0, 0, 1.0)), class_index=0, patch_sizes=[1], fill="white"
    )
    expected = np.zeros((2, 2))
    expected[0, 0] = 10.0 - 255.0
    np.testing.assert_array_equal(result.map, expected)


# --- the target class and bad arguments ----------------------------------------------------


def test_top_class_is_the_unoccluded_argmax() -> None:
    image = np.full((4, 4, 3), 200.0)
    result = occlusion_sensitivity(image, region_mean_model(0, 0, 4, 4), patch_sizes=[2])
    assert result.class_index == 0
    np.testing.assert_allclose(result.base_scores, [200.0, 1 - 200 / 255])


def test_map_peak_falls_on_the_object() -> None:
    # A "detector" for red objects: class 0 = mean over pixels of relu(R - (G + B) / 2 - 50).
    def predict(batch: np.ndarray) -> np.ndarray:
        red = np.maximum(batch[..., 0] - (batch[..., 1] + batch[..., 2]) / 2 - 50, 0)
        score = red.reshape(len(batch), -1).mean(axis=1)
        return np.stack([score, -score], axis=1)

    rng = np.random.default_rng(0)
    image = rng.uniform(90, 110, (48, 64, 3))
    image[30:38, 10:18] = (250, 20, 20)
    result = occlusion_sensitivity(image, predict, class_index=0, patch_sizes=[4, 8, 16])
    y, x = np.unravel_index(np.argmax(result.map), result.map.shape)
    assert 30 <= y < 38 and 10 <= x < 18


@pytest.mark.parametrize(
    ("kwargs", "message", "params"),
    [
        ({"patch_sizes": [0]}, "patch_sizes must be positive; received 0", ("patch_sizes",)),
        ({"patch_sizes": [4], "strides": [0]}, "strides must be positive; received 0",
         ("strides",)),
        ({"patch_sizes": [4], "strides": [5]}, "strides 5 is larger than patch_sizes 4",
         ("strides", "patch_sizes")),
        ({"patch_sizes": [4, 2], "strides": [1, 1, 1]},
         "strides: give one or one per patch size; received 3 for 2 patch sizes",
         ("strides",)),
        ({"class_index": 9}, "class_index 9 is out of range: the model has 2 outputs",
         ("class_index",)),
        ({"batch_size": 0}, "batch_size must be at least 1; received 0", ("batch_size",)),
        ({"fill": "noise"}, "fill 'noise' is not available here", ("fill",)),
        ({"fill": "purple"}, "unknown fill 'purple'", ("fill",)),
        ({"fill": "300"}, "fill colour must be 0-255 per channel", ("fill",)),
    ],
)  # fmt: skip
def test_bad_arguments_raise_usage_errors_naming_the_parameter(kwargs, message, params) -> None:
    image = np.zeros((8, 8, 3))
    with pytest.raises(UsageError) as caught:
        occlusion_sensitivity(image, region_mean_model(0, 0, 2, 2), **kwargs)
    assert message in str(caught.value)
    assert caught.value.params == params
    assert "--" not in str(caught.value)  # the library speaks Python


def test_an_image_that_is_not_rgb_is_refused() -> None:
    with pytest.raises(UsageError, match=r"received shape \(4, 4\)"):
        occlusion_sensitivity(np.zeros((4, 4)), region_mean_model(0, 0, 2, 2))


def test_nan_scores_are_refused_not_mapped() -> None:
    def broken(batch: np.ndarray) -> np.ndarray:
        scores = np.ones((len(batch), 2))
        scores[-1, 0] = np.nan
        return scores

    with pytest.raises(ScoreError, match="NaN or infinite scores for 1 of 5 images"):
        occlusion_sensitivity(np.ones((4, 4, 3)), broken, class_index=0, patch_sizes=[2])


def test_scores_of_the_wrong_length_are_refused() -> None:
    def short(batch: np.ndarray) -> np.ndarray:
        return np.ones((len(batch) - 1, 2))

    with pytest.raises(UsageError, match=r"predict returned shape \(4, 2\) for a batch of 5"):
        occlusion_sensitivity(np.ones((4, 4, 3)), short, class_index=0, patch_sizes=[2])
