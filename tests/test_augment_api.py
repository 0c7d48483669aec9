"""``occlude.augment.augment`` (``occlude.augment_image``): one way in for an array, by name
or method object, seeded or with a generator, with a partner for the mixing methods; its
result replays to the same pixels; the package exports the product."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import occlude
from occlude.augment import METHODS, Cutout, MixUp, augment, replay
from occlude.augment.methods.mixer import match_partner
from occlude.errors import UsageError


def _image(seed: int, shape: tuple[int, int] = (24, 32)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def test_a_seed_reproduces_and_the_top_level_is_the_same_function() -> None:
    image = _image(0)
    a = augment(image, "cutout", seed=5, holes=2)
    b = occlude.augment_image(image, "cutout", seed=5, holes=2)
    assert np.array_equal(a.image, b.image) and a.params_dict() == b.params_dict()
    assert a.params_dict()["applied"] is True and not np.array_equal(a.image, image)
    others = {augment(image, "cutout", seed=s, holes=2).params_dict()["boxes"][0][0]
              for s in range(8)}  # fmt: skip
    assert len(others) > 1  # seeds differ
    assert a.label_weights == (1.0, 0.0)


def test_a_generator_is_the_method_objects_call() -> None:
    image = _image(1)
    method = Cutout(holes=3, fill="noise")
    by_object = method(image, np.random.default_rng(9))
    by_call = augment(image, method, rng=np.random.default_rng(9))
    by_name = augment(image, "cutout", rng=np.random.default_rng(9), holes=3, fill="noise")
    assert np.array_equal(by_object.image, by_call.image)
    assert np.array_equal(by_object.image, by_name.image)
    rng = np.random.default_rng(2)
    first, second = augment(image, method, rng=rng), augment(image, method, rng=rng)
    assert not np.array_equal(first.image, second.image)  # one stream, advancing


def test_a_partner_for_the_mixing_methods_and_its_label_weights() -> None:
    image, partner = _image(2), _image(3, (30, 20))  # the partner is matched to the image
    for name in ("mixup", "cutmix"):
        result = augment(image, name, seed=4, partner=partner)
        lam = result.params.lam  # type: ignore[attr-defined]
        assert result.label_weights == (lam, 1.0 - lam) and 0.0 < lam < 1.0
        assert result.partner_index == 0 and result.image.shape == image.shape
    with pytest.raises(UsageError, match="needs at least one partner"):
        augment(image, "mixup", seed=0)
    with pytest.raises(UsageError, match="cutout does not mix"):
        augment(image, "cutout", seed=0, partner=partner)
    with pytest.raises(UsageError, match="rng or seed"):
        augment(image, "cutout", seed=0, rng=np.random.default_rng(0))
    with pytest.raises(UsageError, match="go into the method object"):
        augment(image, MixUp(), seed=0, partner=partner, alpha=0.4)
    with pytest.raises(UsageError, match="alpha applies to"):
        augment(image, "cutout", seed=0, alpha=0.4)


@pytest.mark.parametrize("name", ["cutout", "random-erasing", "hide-and-seek", "mixup", "cutmix"])
def test_the_params_replay_to_the_same_bytes(name, tmp_path) -> None:
    image, partner = _image(5), _image(6)
    Image.fromarray(image).save(tmp_path / "a.png")
    Image.fromarray(partner).save(tmp_path / "b.png")
    mixing = METHODS[name].mixing
    settings = {} if mixing else {"fill": "noise", "prob": 1.0}
    result = augment(image, name, seed=11, partner=partner if mixing else None, **settings)
    record = result.record(name, "a.png", "b.png" if mixing else None)
    assert replay(record, tmp_path).tobytes() == result.image.tobytes()


def test_the_package_lists_the_product_and_keeps_the_parts_importable() -> None:
    import occlude.augment as package

    assert set(package.__all__) >= {"augment", "augment_files", "replay", "Augmented", "METHODS"}
    assert {cls.__name__ for cls in METHODS.values()} <= set(package.__all__)
    assert "match_partner" not in package.__all__ and len(package.__all__) < 20
    assert package.match_partner is match_partner  # a part, importable from the package
    assert occlude.Cutout is Cutout and "augment_image" in occlude.__all__
