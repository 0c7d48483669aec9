"""Augmentation methods: each sampler's statistics against its paper (fixed seeds), the
method classes and their registry, per-output generators, and replaying what was sampled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from scipy import stats

from occlude.augment import (
    METHODS,
    Context,
    CutMix,
    CutMixParams,
    Cutout,
    HideAndSeek,
    MixUp,
    MixUpParams,
    Noise,
    RandomErasing,
    augmentation,
    match_partner,
    output_rng,
    output_seed,
    params_from_dict,
    replay,
)
from occlude.augment.geometry import BoxParams
from occlude.augment.methods import Mixer, Occluder, occluders
from occlude.box import Box
from occlude.errors import UsageError

N = 4000


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def binomial_ok(successes: int, trials: int, p: float) -> bool:
    return bool(stats.binomtest(successes, trials, p).pvalue > 1e-3)


def ramp(h: int, w: int, c: int = 3) -> np.ndarray:
    return (np.arange(h * w * c).reshape(h, w, c) % 50 + 100).astype(np.uint8)


# --- per-output generators ----------------------------------------------------------


def test_output_seed_depends_on_seed_path_and_copy_only() -> None:
    base = output_seed(0, "cats/a.png", 0)
    assert base == output_seed(0, "cats/a.png", 0)
    others = {output_seed(1, "cats/a.png", 0), output_seed(0, "cats/b.png", 0)}
    others.add(output_seed(0, "cats/a.png", 1))
    assert base not in others and len(others) == 3
    assert 0 <= base < 2**128
    a = output_rng(3, "x.png", 2).random(5)
    np.testing.assert_array_equal(a, np.random.default_rng(output_seed(3, "x.png", 2)).random(5))


# --- the method classes and the registry ----------------------------------------------


def listed(names: list[str]) -> str:
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def test_the_registry_holds_every_method_in_order() -> None:
    assert list(METHODS) == ["cutout", "hide-and-seek", "random-erasing", "mixup", "cutmix",
                             "keep-cutout", "saliency-mix", "attentive-cutmix"]  # fmt: skip
    assert [METHODS[n] for n in METHODS][:5] == [Cutout, HideAndSeek, RandomErasing, MixUp, CutMix]
    assert occluders() == ("cutout", "hide-and-seek", "random-erasing")  # not the guided ones
    mixing = ("mixup", "cutmix", "saliency-mix", "attentive-cutmix")
    for name, cls in METHODS.items():
        assert cls.name == name and cls.reference
        assert issubclass(cls, Mixer) == cls.mixing == (name in mixing)
        assert issubclass(cls, Occluder) != cls.mixing
        assert cls.guided == (name in ("keep-cutout", "saliency-mix", "attentive-cutmix"))


def test_defaults_are_the_papers() -> None:
    assert augmentation("cutout") == Cutout(prob=1.0, holes=1, size=0.5)
    assert str(augmentation("cutout").fill) == "grey"
    assert augmentation("hide-and-seek").grid == (0, 16, 32, 44, 56)
    assert augmentation("hide-and-seek").hide_prob == 0.5
    assert str(augmentation("hide-and-seek").fill) == "dataset-mean"
    assert augmentation("random-erasing").prob == 0.5
    assert augmentation("random-erasing").area_range == (0.02, 0.4)
    assert augmentation("random-erasing").aspect_range == (0.3, 1 / 0.3)
    assert str(augmentation("random-erasing").fill) == "noise"
    assert augmentation("mixup").alpha == 0.2
    assert augmentation("cutmix").alpha == 1.0


def test_options_given_as_none_take_the_defaults_and_sequences_become_tuples() -> None:
    method = augmentation("hide-and-seek", grid=[8, 16], hide_prob=None, fill="black", prob=None)
    assert method == HideAndSeek(grid=(8, 16), fill="black")  # type: ignore[arg-type]
    settings = {"method": "hide-and-seek", "prob": 1.0, "fill": [0.0, 0.0, 0.0], "grid": [8, 16]}
    assert method.settings() == {**settings, "hide_prob": 0.5}
    erasing = augmentation("random-erasing", area_range=[0.1, 0.2], aspect_range=[1, 2])
    assert erasing.area_range == (0.1, 0.2) and erasing.aspect_range == (1.0, 2.0)
    json.dumps(erasing.settings())  # JSON-able, for fingerprints and manifests


BAD_OPTIONS = [
    ("cutout", {"holes": 0}, "holes must be an int from 1 to 1024; received 0", ("holes",)),
    ("cutout", {"holes": 1.5}, "holes must be an int from 1 to 1024; received 1.5", ("holes",)),
    ("cutout", {"size": 0}, "size must be a positive number; received 0", ("size",)),
    ("cutout", {"fill": "blur"}, "fill 'blur' is not available here", ("fill",)),
    ("cutout", {"fill": "purple"}, "unknown fill 'purple'", ("fill",)),
    ("hide-and-seek", {"grid": [16, -1]}, "grid must be one or more cell sides", ("grid",)),
    ("hide-and-seek", {"grid": []}, "grid must be one or more cell sides in pixels", ("grid",)),
    ("hide-and-seek", {"hide_prob": 2.0}, "hide_prob must be between 0 and 1; received 2.0",
     ("hide_prob",)),
    ("random-erasing", {"area_range": [0.5, 0.2]}, "area_range needs 0 < low <= high <= 1",
     ("area_range",)),
    ("random-erasing", {"area_range": [0.4]}, "area_range must be (low, high)", ("area_range",)),
    ("random-erasing", {"aspect_range": [3, 1]}, "aspect_range needs 0 < low <= high",
     ("aspect_range",)),
    ("random-erasing", {"max_attempts": 0}, "max_attempts must be an int from 1 to 10000",
     ("max_attempts",)),
    ("mixup", {"alpha": 0}, "alpha must be a positive number below 1,000,000", ("alpha",)),
    ("cutmix", {"alpha": -1}, "alpha must be a positive number below 1,000,000", ("alpha",)),
    *[(name, {"prob": 1.5}, "prob must be between 0 and 1; received 1.5", ("prob",))
      for name in METHODS],
]  # fmt: skip


@pytest.mark.parametrize(("name", "options", "message", "params"), BAD_OPTIONS)
def test_augmentation_validates_per_method_and_names_the_parameter(
    name: str, options: dict[str, Any], message: str, params: tuple[str, ...]
) -> None:
    with pytest.raises(UsageError) as caught:
        augmentation(name, **options)
    assert message in str(caught.value)
    assert caught.value.params == params


FOREIGN = [
    (name, option)
    for name, cls in METHODS.items()
    for option in sorted({o for c in METHODS.values() for o in c.option_names()})
    if option not in cls.option_names()
]


@pytest.mark.parametrize(("name", "option"), FOREIGN)
def test_an_option_of_another_method_is_an_error_naming_its_owners(name: str, option: str) -> None:
    owners = [n for n, cls in METHODS.items() if option in cls.option_names()]
    with pytest.raises(UsageError) as caught:
        augmentation(name, **{option: 1})
    assert str(caught.value) == (
        f"{option} applies to {listed(owners)} only; received it with method {name}"
    )
    assert caught.value.params == (option, "method")


def test_foreign_options_cover_what_the_command_line_offers() -> None:
    assert ("cutout", "alpha") in FOREIGN and ("mixup", "fill") in FOREIGN
    assert ("random-erasing", "holes") in FOREIGN and ("cutmix", "grid") in FOREIGN


def test_unknown_methods_and_options() -> None:
    with pytest.raises(UsageError, match="unknown method 'gridmask'; choose cutout, hide-and-seek"):
        augmentation("gridmask")
    with pytest.raises(UsageError, match="unknown option 'bogus' for method cutout"):
        augmentation("cutout", bogus=1)


def context(shape: tuple[int, int], partners: list[np.ndarray], dataset_mean: Any = None) -> Any:
    """Partners, and importance maps (of another size) for the guided methods."""
    maps = [np.random.default_rng(i).random((shape[0] // 2, shape[1] // 3)) for i in range(3)]
    return Context(partners, dataset_mean, maps[0], maps[1:])


def sampled(name: str, seed: int) -> Any:
    """Parameters of ``name`` for a 30x40 image, applied or skipped by the coin."""
    method = augmentation(name, prob=0.5)
    partners = [ramp(30, 40)[::-1].copy(), ramp(30, 40)]
    return method(ramp(30, 40), rng(seed), context((30, 40), partners, (9, 9, 9))).params


@pytest.mark.parametrize("name", list(METHODS))
def test_params_from_dict_round_trips_every_methods_to_dict(name: str) -> None:
    seen_applied = set()
    for seed in range(12):
        params = sampled(name, seed)
        seen_applied.add(bool(np.all(params.applied)))
        data = json.loads(json.dumps(params.to_dict()))  # through a manifest line
        assert params_from_dict(name, data).to_dict() == params.to_dict()
        assert type(params) is METHODS[name].params_type
    assert seen_applied == {True, False}


def test_params_from_dict_refuses_incomplete_records() -> None:
    with pytest.raises(UsageError, match=r"cutout params are incomplete or malformed \(KeyError"):
        params_from_dict("cutout", {"applied": True})
    with pytest.raises(UsageError, match="unknown method 'blur'"):
        params_from_dict("blur", {})


# --- replay: parameters -> pixels ------------------------------------------------------


@pytest.mark.parametrize("name", list(METHODS))
def test_apply_replays_what_calling_the_method_produced(name: str) -> None:
    """kornia's ``aug(x, params=aug._params)``: the sampled parameters (and the fill or
    partner) rebuild the output exactly."""
    image = ramp(30, 40)
    partners = [ramp(20, 25)[::-1].copy(), np.full((30, 40, 3), 7, np.uint8)]
    extra = {"alpha": 1.0} if METHODS[name].mixing else {"fill": "noise"}
    if name == "hide-and-seek":
        extra["grid"] = (8,)  # every copy hides something
    method = augmentation(name, prob=1.0, **extra)
    for k in range(5):
        result = method(image, output_rng(0, "a.png", k), context((30, 40), partners))
        partner = None
        if result.partner_index is not None:
            partner = match_partner(partners[result.partner_index], image)
        again = method.apply(image, result.params, fill=result.fill, partner=partner)
        np.testing.assert_array_equal(again, result.image)
        assert not np.array_equal(result.image, image)


def test_apply_skips_when_not_applied_and_asks_for_what_it_needs() -> None:
    img = ramp(6, 6)
    cut = augmentation("cutout")
    out = cut.apply(img, BoxParams.of([Box(0, 0, 2, 2)]), fill=(0.0, 0.0, 0.0))
    expected = img.copy()
    expected[:2, :2] = 0
    np.testing.assert_array_equal(out, expected)
    skipped = cut.apply(img, BoxParams.of([], applied=False))
    np.testing.assert_array_equal(skipped, img)
    assert skipped is not img
    mix = augmentation("mixup")
    other = ramp(6, 6)[::-1].copy()
    lam = MixUpParams.from_dict({"applied": True, "lam": 0.3, "lam_sampled": 0.3})
    exact = 0.3 * img.astype(np.float64) + 0.7 * other.astype(np.float64)
    np.testing.assert_array_equal(mix.apply(img, lam, partner=other), np.rint(exact))
    boxed = {"applied": True, "boxes": [[0, 0, 1, 1]], "lam": 0.9, "lam_sampled": 0.9}
    with pytest.raises(UsageError, match="cutmix needs a partner image"):
        augmentation("cutmix").apply(img, CutMixParams.from_dict(boxed))
    with pytest.raises(UsageError, match="cutout needs a fill value"):
        cut.apply(img, BoxParams.of([Box(0, 0, 2, 2)]))


def save(path: Path, arr: np.ndarray) -> Path:
    Image.fromarray(arr).save(path)
    return path


@pytest.mark.parametrize("name", list(METHODS))
def test_replay_rebuilds_an_output_from_its_record(name: str, tmp_path: Path) -> None:
    source = save(tmp_path / "a.png", ramp(30, 40))
    other = save(tmp_path / "b.png", ramp(30, 40)[::-1].copy())
    method = augmentation(name, prob=1.0)
    ctx = context((30, 40), [np.asarray(Image.open(other))], (10.0, 20.0, 30.0))
    result = method(np.asarray(Image.open(source)), output_rng(0, "a.png", 0), ctx)
    record: dict[str, Any] = {"method": name, "source": "a.png", "params": result.params_dict()}
    if method.mixing:
        record["partner"] = "b.png"
    elif isinstance(result.fill, Noise):
        record["fill"] = "noise"
    else:
        record["fill"] = [float(v) for v in result.fill]  # type: ignore[union-attr]
    np.testing.assert_array_equal(replay(record, base=tmp_path), result.image)


def test_replay_needs_the_fill_of_an_occluding_method(tmp_path: Path) -> None:
    save(tmp_path / "a.png", ramp(4, 4))
    record = {"method": "cutout", "source": "a.png", "params": {"applied": True, "boxes": []}}
    with pytest.raises(UsageError, match="a cutout record needs its fill"):
        replay(record, base=tmp_path)
