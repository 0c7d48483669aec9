"""Every method written once, on every adapter: its draws (vectorised over a batch of keys)
on NumPy and on Keras's backend, their statistics against the paper, their JSON, and the
folder adapter (``method(image, rng)``, ``apply``) on top. The Keras layers' own checks
(dict inputs, masks, tf.data) are in test_layers*.py and, per backend, tests/backends/."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from occlude import draws
from occlude.augment import augment, augmentation, output_rng
from occlude.augment.geometry import BoxParams
from occlude.augment.methods import METHODS, Context, Mixer, Occluder
from occlude.augment.methods.mixer import match_partner
from occlude.draws import NUMPY
from occlude.errors import UsageError
from occlude.fill import Noise
from occlude.image import colour_channels

N = 4000
CONVERTED = [name for name, cls in METHODS.items() if issubclass(cls, Occluder)]
VISIBLE = {"hide-and-seek": {"grid": (4,)}}
"""Settings that make a method change every small image it is applied to."""


def keras_backend() -> Any:
    from occlude.layers import Cutout

    return Cutout().backend


ADAPTERS = {"numpy": lambda: NUMPY, "keras": keras_backend}


@pytest.fixture(params=list(ADAPTERS))
def bk(request: pytest.FixtureRequest) -> Any:
    return ADAPTERS[request.param]()


def keys(n: int, seed: int = 0) -> np.ndarray:
    return draws.mix32(NUMPY, np.arange(n, dtype="int32") + np.int32(seed * 7919))


def arrays(params: Any) -> Any:
    """Params as NumPy arrays, whatever computed them."""
    import keras

    return type(params)(*(arrays(p) if isinstance(p, tuple) else p if isinstance(p, str) else
                          np.asarray(keras.ops.convert_to_numpy(p)) for p in params))  # fmt: skip


def guides(name: str, n: int, h: int, w: int) -> dict[str, Any]:
    """What a guided method samples from besides the keys: integer-valued maps (their sums
    are exact on every backend, so every backend draws the same)."""
    if not METHODS[name].guided:
        return {}
    maps = np.random.default_rng(h * w).integers(-1, 4, (n, h, w)).astype("float32")
    return {"saliency": maps}


def context(name: str, shape: tuple[int, ...]) -> Context:
    """The folder command's context for one image: its map for a guided method."""
    return Context(**{k: v[0] for k, v in guides(name, 1, *shape[:2]).items()})


def drawn(bk: Any, name: str, n: int, h: int, w: int, seed: int = 0, **settings: Any) -> Any:
    method = augmentation(name, **settings)
    return arrays(method.sample(bk, keys(n, seed), h, w, **guides(name, n, h, w)))


def binomial_ok(successes: int, trials: int, p: float) -> bool:
    return bool(stats.binomtest(successes, trials, p).pvalue > 1e-3)


# --- every method -------------------------------------------------------------------


@pytest.mark.parametrize("name", CONVERTED)
def test_prob_is_each_samples_coin(bk: Any, name: str) -> None:
    applied = drawn(bk, name, N, 20, 24, prob=0.3).applied
    assert applied.shape == (N,) and binomial_ok(int(applied.sum()), N, 0.3)
    assert drawn(bk, name, 50, 20, 24, prob=1.0).applied.all()
    assert not drawn(bk, name, 50, 20, 24, prob=0.0).applied.any()


@pytest.mark.parametrize("name", CONVERTED)
def test_draws_are_a_function_of_the_keys_alone(bk: Any, name: str) -> None:
    again = [repr(drawn(bk, name, 16, 20, 24, seed=1)) for _ in range(2)]
    assert again[0] == again[1] != repr(drawn(bk, name, 16, 20, 24, seed=2))
    # every backend draws the same from the same keys (integer arithmetic is exact)
    assert again[0] == repr(drawn(NUMPY, name, 16, 20, 24, seed=1))


@pytest.mark.parametrize("name", CONVERTED)
def test_params_survive_json_and_replay_the_same_pixels(name: str) -> None:
    image = (np.arange(20 * 24 * 3).reshape(20, 24, 3) % 251).astype(np.uint8)
    method = augmentation(name, prob=1.0, fill="noise", **VISIBLE.get(name, {}))
    for k in range(4):
        result = method(image, output_rng(0, "a.png", k), context(name, image.shape))
        params = type(method).params_from_dict(result.params_dict())
        np.testing.assert_array_equal(method.apply(image, params, fill=result.fill), result.image)
        assert result.params_dict()["key"] == result.key
        assert not np.array_equal(result.image, image)


@pytest.mark.parametrize("name", CONVERTED)
def test_the_folder_adapter_draws_one_key_from_the_generator(name: str) -> None:
    image = np.full((12, 16, 3), 9, np.uint8)
    maps = context(name, image.shape).saliency
    result = augment(image, name, rng=output_rng(5, "a", 0), prob=1.0, fill="noise", saliency=maps)
    g = output_rng(5, "a", 0)
    assert result.key == int(g.integers(-(2**31), 2**31, dtype=np.int64))
    assert result.fill == Noise(result.key, keyed=True)


@pytest.mark.parametrize("name", CONVERTED)
@pytest.mark.parametrize("shape", [(14, 18, 1), (14, 18, 2), (14, 18, 3), (14, 18, 4)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_alpha_is_kept_and_colours_are_in_the_images_units(
    name: str, shape: tuple[int, ...], dtype: Any
) -> None:
    image = np.full(shape, 3, dtype)
    maps = context(name, shape).saliency
    out = augment(
        image, name, seed=1, prob=1.0, fill="white", saliency=maps, **VISIBLE.get(name, {})
    ).image
    assert out.dtype == dtype and out.shape == shape
    cc = colour_channels(image)
    assert set(np.unique(out[..., :cc])) == {3, np.iinfo(dtype).max}
    np.testing.assert_array_equal(out[..., cc:], image[..., cc:])


# --- cutout -------------------------------------------------------------------------


def test_cutout_centres_are_uniform_over_all_pixels_and_squares_are_clipped(bk: Any) -> None:
    boxes = drawn(bk, "cutout", N, 32, 32).boxes
    x0, y0, x1, y1 = (c[:, 0] for c in boxes)
    assert np.all((x0 >= 0) & (x0 < x1) & (x1 <= 32) & (y0 >= 0) & (y0 < y1) & (y1 <= 32))
    assert np.all((x1 - x0 <= 16) & (y1 - y0 <= 16))
    # with side 16 on 32 px at most one end is clipped, so the centre is recoverable
    for lo, hi in ((x0, x1), (y0, y1)):
        centres = np.where(lo > 0, lo + 8, hi - 8)
        assert stats.chisquare(np.bincount(centres, minlength=32)).pvalue > 1e-3
    # the square is whole only when 8 <= centre <= 24 on both axes: (17/32)^2
    whole = int(np.sum((x1 - x0) * (y1 - y0) == 256))
    assert binomial_ok(whole, N, (17 / 32) ** 2)


@pytest.mark.parametrize(
    ("shape", "size", "side"),
    [((32, 32), 0.5, 16), ((480, 640), 0.5, 240), ((480, 640), 20, 20), ((3, 3), 0.01, 1)],
)
def test_cutout_side_is_a_fraction_of_the_shorter_side_or_pixels(
    bk: Any, shape: tuple[int, int], size: float, side: int
) -> None:
    x0, y0, x1, y1 = (c[:, 0] for c in drawn(bk, "cutout", 200, *shape, size=size).boxes)
    assert max(x1 - x0) == side and max(y1 - y0) == side


def test_cutout_holes_are_independent_squares(bk: Any) -> None:
    boxes = drawn(bk, "cutout", 500, 50, 40, holes=3, size=10).boxes
    assert boxes.x0.shape == (500, 3)
    assert len({tuple(b) for b in np.stack(boxes, axis=2).reshape(-1, 4)}) > 1000
    with pytest.raises(UsageError, match="holes must be an int from 1 to 1024; received 0"):
        augmentation("cutout", holes=0)
    with pytest.raises(UsageError, match=r"size of 1 or more .* whole; received 16\.5"):
        augmentation("cutout", size=16.5)


def test_cutout_params_json_is_version_ones() -> None:
    data = {"applied": True, "boxes": [[1, 2, 5, 6], [0, 0, 3, 3]]}
    assert BoxParams.from_dict(data).to_dict() == data
    skipped = {"applied": False, "boxes": []}
    assert BoxParams.from_dict(skipped).to_dict() == skipped


# --- random erasing -----------------------------------------------------------------


def erased(bk: Any, n: int, shape: tuple[int, int], seed: int, **kw: Any) -> np.ndarray:
    """(n', 4) boxes x0, y0, x1, y1 of the images where one fitted."""
    params = drawn(bk, "random-erasing", n, *shape, seed=seed, prob=1.0, **kw)
    return np.stack([c[:, 0] for c in params.boxes], axis=1)[params.fitted]


def test_random_erasing_area_in_range_and_log_aspect_centred_on_zero(bk: Any) -> None:
    boxes = erased(bk, N, (200, 200), 6)
    assert len(boxes) == N  # on a square image a box fits within 100 attempts
    x0, y0, x1, y1 = boxes.T
    areas = (x1 - x0) * (y1 - y0) / 200**2
    assert areas.min() >= 0.019 and areas.max() <= 0.405
    log_aspect = np.log((y1 - y0) / (x1 - x0))
    assert abs(log_aspect).max() <= math.log(1 / 0.3) + 0.05
    assert stats.ttest_1samp(log_aspect, 0.0).pvalue > 1e-3
    # log-uniform aspect: as many boxes taller than wide as wider than tall
    wide, tall = int((log_aspect < 0).sum()), int((log_aspect > 0).sum())
    assert binomial_ok(wide, wide + tall, 0.5)


def test_random_erasing_aspect_is_log_uniform_and_area_uniform(bk: Any) -> None:
    # large image, small areas: every draw fits, so the raw distributions show
    x0, y0, x1, y1 = erased(bk, N, (1000, 1000), 7, area_range=(0.02, 0.05)).T
    low, high = math.log(0.3), math.log(1 / 0.3)
    log_aspect = np.log((y1 - y0) / (x1 - x0))
    assert stats.kstest(log_aspect, stats.uniform(low, high - low).cdf).pvalue > 1e-3
    x0, y0, x1, y1 = erased(bk, N, (1000, 1000), 8, aspect_range=(1.0, 1.0)).T
    areas = (x1 - x0) * (y1 - y0) / 1e6
    assert stats.kstest(areas, stats.uniform(0.02, 0.38).cdf).pvalue > 1e-3


def test_random_erasing_top_left_is_uniform_over_fitting_positions(bk: Any) -> None:
    boxes = erased(bk, N, (40, 40), 9, area_range=(0.25, 0.25), aspect_range=(1.0, 1.0))
    assert set(boxes[:, 2] - boxes[:, 0]) == {20}
    counts = np.bincount(boxes[:, 0], minlength=21)
    assert len(counts) == 21 and stats.chisquare(counts).pvalue > 1e-3


def test_random_erasing_prob_and_giving_up(bk: Any) -> None:
    params = drawn(bk, "random-erasing", N, 32, 32)
    assert binomial_ok(int(params.applied.sum()), N, 0.5)  # the paper's p = 0.5
    # one row of pixels: no box of >= 2% of the area and aspect >= 0.3 is 1 px tall
    stuck = drawn(bk, "random-erasing", 5, 1, 1000, prob=1.0)
    assert not stuck.fitted.any() and (stuck.attempts == 100).all()
    assert augmentation("random-erasing").params_type(*stuck).to_dict() == {
        "applied": True, "boxes": [], "attempts": 100}  # fmt: skip
    limited = drawn(bk, "random-erasing", 5, 1, 1000, prob=1.0, max_attempts=7)
    assert (limited.attempts == 7).all()
    with pytest.raises(
        UsageError, match=r"area_range needs 0 < low <= high <= 1; received 0\.5,0\.2"
    ):
        augmentation("random-erasing", area_range=(0.5, 0.2))
    with pytest.raises(UsageError, match=r"aspect_range needs 0 < low <= high; received 0,2"):
        augmentation("random-erasing", aspect_range=(0.0, 2.0))
    with pytest.raises(UsageError, match="max_attempts must be an int from 1 to 10000"):
        augmentation("random-erasing", max_attempts=10_001)


# --- hide-and-seek ------------------------------------------------------------------


def hidden_cells(bk: Any, n: int, shape: tuple[int, int], **kw: Any) -> Any:
    params = drawn(bk, "hide-and-seek", n, *shape, prob=1.0, **kw)
    return params.grid, params.hidden


def test_hide_and_seek_hides_about_half_the_cells_inside_the_image(bk: Any) -> None:
    grid, hidden = hidden_cells(bk, 300, (100, 70), grid=(16,))
    assert (grid == 16).all()
    rows, cols = math.ceil(100 / 16), math.ceil(70 / 16)
    assert not hidden[:, rows:].any() and not hidden[:, :, cols:].any()
    assert binomial_ok(int(hidden.sum()), 300 * rows * cols, 0.5)


def test_hide_and_seek_hide_prob_and_grid_choice(bk: Any) -> None:
    _, hidden = hidden_cells(bk, 200, (64, 64), grid=(8,), hide_prob=0.2)
    assert binomial_ok(int(hidden.sum()), 200 * 64, 0.2)
    grid, _ = hidden_cells(bk, N, (64, 64))
    counts = [int((grid == s).sum()) for s in (0, 16, 32, 44, 56)]
    assert sum(counts) == N and stats.chisquare(counts).pvalue > 1e-3
    # S = 0 hides nothing, as in the reference code
    params = drawn(bk, "hide-and-seek", 20, 64, 64, grid=(0,))
    assert all(params.__class__(*(p[i : i + 1] for p in params)).to_dict()["hidden"] == []
               for i in range(20))  # fmt: skip


def test_every_hide_and_seek_cell_is_wholly_hidden_or_wholly_kept() -> None:
    img = (np.arange(45 * 61 * 3).reshape(45, 61, 3) % 200).astype(np.uint8)
    for seed in range(50):
        result = augment(img, "hide-and-seek", seed=seed, fill="white")
        painted = (result.image == 255).all(axis=2)
        p = result.params_dict()
        expected = np.zeros((45, 61), bool)
        for r, c in p["hidden"]:
            expected[r * p["grid"] : (r + 1) * p["grid"], c * p["grid"] : (c + 1) * p["grid"]] = (
                True
            )
        np.testing.assert_array_equal(painted, expected)


def test_hide_and_seek_grid_is_checked() -> None:
    with pytest.raises(
        UsageError, match=r"grid must be one or more cell sides .*received \(16, -1\)"
    ):
        augmentation("hide-and-seek", grid=(16, -1))
    assert augmentation("hide-and-seek", grid=8).grid == (8,)


# --- every mixer ----------------------------------------------------------------------

MIXERS = [name for name, cls in METHODS.items() if issubclass(cls, Mixer)]
MIXING = [name for name in MIXERS if not METHODS[name].guided]  # placed by keys alone


def mixed(bk: Any, name: str, n: int, h: int, w: int, seed: int = 0, others: int = 1,
          **settings: Any) -> Any:  # fmt: skip
    return arrays(augmentation(name, **settings).sample(bk, keys(n, seed), h, w, others))


def ramp(h: int, w: int, c: int = 3, dtype: Any = np.uint8) -> np.ndarray:
    return (np.arange(h * w * c).reshape(h, w, c) % 50 + 100).astype(dtype)


@pytest.mark.parametrize("name", MIXING)
def test_a_mixers_prob_is_each_samples_coin_and_lam_is_one_where_skipped(
    bk: Any, name: str
) -> None:
    params = mixed(bk, name, N, 20, 24, prob=0.3)
    assert params.applied.shape == (N,) and binomial_ok(int(params.applied.sum()), N, 0.3)
    assert (params.lam[~params.applied] == 1.0).all() and (params.lam[params.applied] < 1).any()
    assert mixed(bk, name, 50, 20, 24, prob=1.0).applied.all()
    assert not mixed(bk, name, 50, 20, 24, prob=0.0).applied.any()


@pytest.mark.parametrize("name", MIXERS)
def test_mixer_draws_are_a_function_of_the_keys_alone(bk: Any, name: str) -> None:
    first, again = (mixed(bk, name, 64, 20, 24, seed=1, others=5) for _ in range(2))
    assert repr(first) == repr(again) != repr(mixed(bk, name, 64, 20, 24, seed=2, others=5))
    # every backend draws the same from the same keys (lam's float maths up to a few ulps)
    on_numpy = mixed(NUMPY, name, 64, 20, 24, seed=1, others=5)
    for got, want in zip(first, on_numpy, strict=True):
        if isinstance(want, str):  # a setting the params carry (saliency-mix's label_by)
            assert str(got) == want
            continue
        np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=1e-5)


@pytest.mark.parametrize("name", MIXERS)
def test_the_partner_is_uniform_over_the_candidates(bk: Any, name: str) -> None:
    partner = mixed(bk, name, N, 8, 8, others=3).partner
    assert partner.dtype == np.int32 and set(partner) == {0, 1, 2}
    assert stats.chisquare(np.bincount(partner, minlength=3)).pvalue > 1e-3
    assert (mixed(bk, name, 50, 8, 8, others=1).partner == 0).all()


@pytest.mark.parametrize("name", MIXING)
def test_mixer_params_survive_json_and_replay_the_same_pixels(name: str) -> None:
    image, partners = ramp(20, 24), [ramp(10, 12)[::-1].copy(), np.full((20, 24, 4), 7, np.uint8)]
    method = augmentation(name, prob=1.0)
    seen = set()
    for k in range(12):
        result = method(image, output_rng(0, "a.png", k), Context(partners))
        assert result.partner_index == int(result.params.partner[0])  # type: ignore[attr-defined]
        seen.add(result.partner_index)
        params = type(method).params_from_dict(result.params_dict())
        partner = match_partner(partners[result.partner_index or 0], image)
        np.testing.assert_array_equal(method.apply(image, params, partner=partner), result.image)
        assert result.params_dict()["key"] == result.key and result.fill is None
    assert seen == {0, 1}


@pytest.mark.parametrize("name", MIXING)
def test_the_folder_mixer_draws_one_key_from_the_generator(name: str) -> None:
    image, partner = np.full((12, 16, 3), 9, np.uint8), np.full((12, 16, 3), 99, np.uint8)
    result = augment(image, name, rng=output_rng(5, "a", 0), partner=partner)
    g = output_rng(5, "a", 0)
    assert result.key == int(g.integers(-(2**31), 2**31, dtype=np.int64))
    lam = float(result.params.lam[0])  # type: ignore[attr-defined]
    assert result.label_weights == (lam, 1.0 - lam)
    skipped = augment(image, name, seed=0, partner=partner, prob=0.0)
    np.testing.assert_array_equal(skipped.image, image)
    assert skipped.params_dict()["lam"] == 1.0 and skipped.params_dict()["lam_sampled"] is None
    with pytest.raises(UsageError, match=f"{name} needs at least one partner image"):
        augmentation(name)(image, output_rng(0, "a", 0))


@pytest.mark.parametrize("name", MIXING)
@pytest.mark.parametrize("shape", [(14, 18, 1), (14, 18, 2), (14, 18, 3), (14, 18, 4)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_mixers_keep_alpha_and_the_images_units(
    name: str, shape: tuple[int, ...], dtype: Any
) -> None:
    image, partner = np.full(shape, 3, dtype), np.full(shape, np.iinfo(dtype).max, dtype)
    partner[..., colour_channels(image) :] = 5  # the partner's alpha is not mixed in
    out = augment(image, name, seed=1, partner=partner, alpha=1.0).image
    assert out.dtype == dtype and out.shape == shape
    cc = colour_channels(image)
    assert (out[..., :cc] > 3).any()
    np.testing.assert_array_equal(out[..., cc:], image[..., cc:])


# --- mixup ----------------------------------------------------------------------------


def test_mixup_lam_is_beta_alpha_alpha(bk: Any) -> None:
    for alpha in (0.2, 1.0):
        params = mixed(bk, "mixup", N, 8, 8, seed=3, alpha=alpha)
        np.testing.assert_array_equal(params.lam, params.lam_sampled)
        assert stats.kstest(params.lam, stats.beta(alpha, alpha).cdf).pvalue > 1e-3
    with pytest.raises(UsageError, match=r"alpha must be a positive number below .*received 0"):
        augmentation("mixup", alpha=0.0)


def test_mixup_pixels_are_lam_a_plus_one_minus_lam_b() -> None:
    g = np.random.default_rng(12)
    a = g.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    b = g.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    for k in range(30):
        result = augment(a, "mixup", rng=output_rng(0, "a.png", k), partners=[b])
        lam = float(result.params.lam[0])  # type: ignore[attr-defined]
        exact = lam * a.astype(np.float64) + (1 - lam) * b.astype(np.float64)
        np.testing.assert_array_equal(result.image, np.rint(exact))


# --- cutmix ---------------------------------------------------------------------------


def test_cutmix_lam_is_one_minus_clipped_box_area(bk: Any) -> None:
    params = mixed(bk, "cutmix", N, 48, 64, seed=4)
    x0, y0, x1, y1 = (c[:, 0] for c in params.boxes)
    area = (x1 - x0) * (y1 - y0)
    np.testing.assert_allclose(params.lam, 1 - area / (48 * 64), rtol=1e-6)
    assert stats.kstest(params.lam_sampled, stats.beta(1.0, 1.0).cdf).pvalue > 1e-3
    # the unclipped box has area (1 - lam_sampled) H W, up to rounding of its sides
    r = np.sqrt(1 - params.lam_sampled.astype(np.float64))
    unclipped = np.round(64 * r) * np.round(48 * r)
    assert (np.abs(unclipped - (1 - params.lam_sampled) * 48 * 64) <= 0.5 * 112 * r + 1).all()
    assert (area <= unclipped).all()
    assert (area < unclipped).sum() > N // 4  # clipping is common: the centre is uniform


def test_cutmix_pastes_partner_into_the_recorded_box() -> None:
    a = np.zeros((30, 40, 3), np.uint8)
    b = np.full((60, 80, 3), 255, np.uint8)  # a different size: resized to a's
    for k in range(10):
        result = augment(a, "cutmix", rng=output_rng(1, "x", k), partners=[b])
        ((x0, y0, x1, y1),) = result.params_dict()["boxes"]
        expected = np.zeros_like(a)
        expected[y0:y1, x0:x1] = 255
        np.testing.assert_array_equal(result.image, expected)
        assert result.label_weights[0] == pytest.approx(1 - (expected[..., 0] > 0).mean())
