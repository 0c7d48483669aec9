"""The pure pixel functions of ``augment`` on hand-built parameters (exact arrays), and the
array model that image files are read into and written from."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from occlude.augment import Noise, augmentation, match_partner, params_from_dict
from occlude.augment.geometry import BoxParams
from occlude.augment.methods import Cutout
from occlude.augment.methods.occluder import colour_of
from occlude.box import Box
from occlude.errors import UsageError
from occlude.fill import FillValue, parse_fill
from occlude.imageio import array_to_pil, output_suffix, pil_to_array


def ramp(h: int, w: int, c: int = 3, dtype: type = np.uint8) -> np.ndarray:
    """Distinct-ish values everywhere, never equal to the fills used below."""
    return (np.arange(h * w * c).reshape(h, w, c) % 50 + 100).astype(dtype)


# --- box painting (cutout, random erasing) on the folder adapter ----------------------


def erase_boxes(image: np.ndarray, boxes: list[tuple[int, ...]], fill: FillValue) -> np.ndarray:
    """The box occluders' NumPy painter on hand-built boxes."""
    return Cutout().apply(image, BoxParams.of([Box(*b) for b in boxes]), fill=fill)


def test_erase_boxes_paints_exactly_the_end_exclusive_box() -> None:
    img = np.full((4, 5, 3), 9, np.uint8)
    out = erase_boxes(img, [(1, 2, 4, 4)], (10.0, 20.0, 30.0))
    expected = img.copy()
    expected[2:4, 1:4] = [10, 20, 30]
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.uint8


def test_erase_boxes_never_mutates_its_input_and_rounds_the_colour() -> None:
    img = ramp(6, 6)
    before = img.copy()
    out = erase_boxes(img, [(0, 0, 2, 2)], (127.5, 0.4, 254.6))
    np.testing.assert_array_equal(img, before)
    # rint: 127.5 -> 128 (half to even), 0.4 -> 0, 254.6 -> 255
    np.testing.assert_array_equal(out[0, 0], [128, 0, 255])
    assert out is not img


def test_erase_boxes_later_boxes_win_and_empty_boxes_are_ignored() -> None:
    img = np.zeros((3, 3, 1), np.uint8)
    out = erase_boxes(img, [(0, 0, 2, 2), (1, 1, 1, 3)], (50.0,))
    out = erase_boxes(out, [(1, 1, 3, 3)], (7.0,))
    expected = np.array([[50, 50, 0], [50, 7, 7], [0, 7, 7]], np.uint8)[..., None]
    np.testing.assert_array_equal(out, expected)


def test_erase_boxes_keeps_alpha() -> None:
    img = ramp(4, 4, 4)
    out = erase_boxes(img, [(0, 0, 4, 4)], (1.0, 2.0, 3.0))
    np.testing.assert_array_equal(out[..., 3], img[..., 3])
    assert (out[..., :3] == [1, 2, 3]).all()


def test_erase_boxes_noise_is_replayable_from_its_seed_and_covers_the_range() -> None:
    img = np.zeros((64, 64, 3), np.uint8)
    box = (8, 4, 40, 60)
    a = erase_boxes(img, [box], Noise(5))
    b = erase_boxes(img, [box], Noise(5))
    c = erase_boxes(img, [box], Noise(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    inside = a[4:60, 8:40]
    outside = a.copy()
    outside[4:60, 8:40] = 0
    assert not outside.any()
    # uniform 0..255 per pixel and channel: both ends occur, mean ~127.5
    assert inside.min() == 0 and inside.max() == 255
    assert abs(inside.mean() - 127.5) < 2.0
    expected = np.random.default_rng(5).integers(0, 255, (56, 32, 3), np.uint8, endpoint=True)
    np.testing.assert_array_equal(inside, expected)


def test_erase_boxes_rejects_a_colour_with_the_wrong_channel_count() -> None:
    with pytest.raises(UsageError, match="1 colour value"):
        erase_boxes(np.zeros((2, 2, 1), np.uint8), [(0, 0, 1, 1)], (1.0, 2.0, 3.0))


def test_check_image_says_what_it_received() -> None:
    with pytest.raises(UsageError, match=r"received shape \(2, 2\)"):
        erase_boxes(np.zeros((2, 2), np.uint8), [], (0.0,))
    with pytest.raises(UsageError, match="float32"):
        erase_boxes(np.zeros((2, 2, 3), np.float32), [], (0.0, 0.0, 0.0))


# --- fills (occlude.fill.colour in an image's units) ------------------------------


def test_colour_of_converts_rgb_to_luma_for_grey_and_scales_16_bit() -> None:
    rgb8 = np.zeros((2, 2, 3), np.uint8)
    grey8 = np.zeros((2, 2, 1), np.uint8)
    grey16 = np.zeros((2, 2, 1), np.uint16)
    la8 = np.zeros((2, 2, 2), np.uint8)
    colour = parse_fill("100,200,50")
    assert colour_of(colour, rgb8) == (100.0, 200.0, 50.0)
    luma = 0.299 * 100 + 0.587 * 200 + 0.114 * 50
    assert colour_of(colour, grey8) == pytest.approx((luma,))
    assert colour_of(colour, la8) == pytest.approx((luma,))
    assert colour_of(parse_fill("white"), grey16) == pytest.approx((65535.0,))
    out = erase_boxes(grey16, [(0, 0, 2, 2)], colour_of(parse_fill("grey"), grey16))
    assert (out == 32768).all()  # 127.5 * 257 = 32767.5, rounded half to even


def test_colour_of_mean_is_the_images_own_and_dataset_mean_is_given() -> None:
    img = np.array([[[0, 10, 20, 255], [100, 30, 40, 0]]], np.uint8)
    assert colour_of(parse_fill("mean", ["mean"]), img) == (50.0, 20.0, 30.0)
    dm = parse_fill("dataset-mean", ["dataset-mean"])
    assert colour_of(dm, img, (1.0, 2.0, 3.0)) == (1.0, 2.0, 3.0)
    with pytest.raises(UsageError, match="dataset's mean"):
        colour_of(dm, img)
    with pytest.raises(UsageError, match="not a colour"):
        colour_of(parse_fill("noise", ["noise"]), img)


# --- mixing: the mixers' painters on the folder adapter (NumPy, float64) -------------


def mixup(a: np.ndarray, b: np.ndarray, lam: float) -> np.ndarray:
    params = params_from_dict("mixup", {"applied": True, "lam": lam, "lam_sampled": lam})
    return augmentation("mixup").apply(a, params, partner=b)


def cutmix(a: np.ndarray, b: np.ndarray, boxes: list[list[int]]) -> np.ndarray:
    data = {"applied": True, "boxes": boxes, "lam": 0.5, "lam_sampled": 0.5}
    return augmentation("cutmix").apply(a, params_from_dict("cutmix", data), partner=b)


def test_mixup_is_the_rounded_convex_combination() -> None:
    a = np.array([[[0, 100, 255, 7]]], np.uint8)
    b = np.array([[[200, 50, 1, 99]]], np.uint8)
    out = mixup(a, b, 0.25)
    # 0.25*a + 0.75*b = 150, 62.5 -> 62 (half to even), 64.5 -> 64; alpha from a
    np.testing.assert_array_equal(out, [[[150, 62, 64, 7]]])
    np.testing.assert_array_equal(mixup(a, b, 1.0), a)
    np.testing.assert_array_equal(mixup(a, b, 0.0)[..., :3], b[..., :3])


def test_a_partner_must_match_the_source() -> None:
    a = ramp(4, 4)
    with pytest.raises(UsageError, match="match_partner"):
        mixup(a, ramp(4, 5), 0.5)
    with pytest.raises(UsageError, match="match_partner"):
        cutmix(a, a.astype(np.uint16), [[0, 0, 1, 1]])


def test_cutmix_pastes_the_partner_inside_the_box_and_keeps_alpha() -> None:
    a = np.zeros((3, 4, 4), np.uint8)
    b = np.full((3, 4, 3), 200, np.uint8)
    out = cutmix(a, b, [[1, 0, 3, 2]])
    expected = a.copy()
    expected[0:2, 1:3, :3] = 200
    np.testing.assert_array_equal(out, expected)
    assert (out[..., 3] == 0).all()


def test_match_partner_converts_model_depth_and_size() -> None:
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 255
    grey = match_partner(rgb, np.zeros((2, 2, 1), np.uint8))
    np.testing.assert_array_equal(grey, np.full((2, 2, 1), 76, np.uint8))  # 0.299 * 255
    grey_src = np.full((2, 2, 1), 10, np.uint8)
    back = match_partner(grey_src, np.zeros((2, 2, 4), np.uint8))
    np.testing.assert_array_equal(back, np.full((2, 2, 3), 10, np.uint8))
    deep = match_partner(grey_src, np.zeros((2, 2, 1), np.uint16))
    assert deep.dtype == np.uint16 and (deep == 2570).all()
    shallow = match_partner(deep, np.zeros((2, 2, 1), np.uint8))
    np.testing.assert_array_equal(shallow, grey_src)
    big = np.full((40, 60, 3), 77, np.uint8)
    resized = match_partner(big, np.zeros((10, 15, 3), np.uint8))
    assert resized.shape == (10, 15, 3) and (resized == 77).all()
    tall16 = np.full((8, 4, 1), 1000, np.uint16)
    assert (match_partner(tall16, np.zeros((4, 2, 1), np.uint16)) == 1000).all()


# --- image modes in and out -------------------------------------------------------


def roundtrip(img: Image.Image, fmt: str) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out


@pytest.mark.parametrize(
    ("mode", "shape", "dtype"),
    [
        ("1", (3, 4, 1), np.uint8),
        ("L", (3, 4, 1), np.uint8),
        ("LA", (3, 4, 2), np.uint8),
        ("RGB", (3, 4, 3), np.uint8),
        ("RGBA", (3, 4, 4), np.uint8),
        ("P", (3, 4, 3), np.uint8),
        ("CMYK", (3, 4, 3), np.uint8),
        ("I;16", (3, 4, 1), np.uint16),
        ("I", (3, 4, 1), np.uint16),
        ("F", (3, 4, 1), np.uint8),
    ],
)
def test_pil_to_array_modes(mode: str, shape: tuple[int, int, int], dtype: type) -> None:
    arr = pil_to_array(Image.new(mode, (4, 3)))
    assert arr.shape == shape and arr.dtype == dtype


def test_palette_with_transparency_becomes_rgba_and_16_bit_values_survive() -> None:
    pal = Image.new("P", (4, 3))
    pal.info["transparency"] = 0
    assert pil_to_array(pal).shape == (3, 4, 4)
    deep = np.array([[0, 1000, 65535]], np.uint16)
    arr = pil_to_array(roundtrip(Image.fromarray(deep), "PNG"))
    np.testing.assert_array_equal(arr[..., 0], deep)
    big = Image.fromarray(np.array([[70000, -5]], np.int32))
    np.testing.assert_array_equal(pil_to_array(big)[..., 0], [[65535, 0]])


def test_array_to_pil_adapts_to_the_output_format() -> None:
    deep = np.full((2, 2, 1), 65535, np.uint16)
    assert array_to_pil(deep, ".png").mode == "I;16"
    assert array_to_pil(deep, ".tif").mode == "I;16"
    jpeg = array_to_pil(deep, ".jpg")
    assert jpeg.mode == "L" and np.asarray(jpeg).max() == 255
    assert array_to_pil(np.zeros((2, 2, 4), np.uint8), ".JPEG").mode == "RGB"
    assert array_to_pil(np.zeros((2, 2, 2), np.uint8), ".jpg").mode == "L"
    assert array_to_pil(np.zeros((2, 2, 2), np.uint8), ".bmp").mode == "RGBA"
    assert array_to_pil(np.zeros((2, 2, 2), np.uint8), ".png").mode == "LA"
    for ext, fmt in [(".jpg", "JPEG"), (".webp", "WEBP"), (".bmp", "BMP"), (".gif", "GIF")]:
        for arr in (deep, np.zeros((2, 2, 2), np.uint8), np.zeros((2, 2, 4), np.uint8)):
            back = roundtrip(array_to_pil(arr, ext), fmt)  # the format can store it
            assert back.format == fmt and back.size == (2, 2)


def test_output_suffix() -> None:
    from pathlib import Path

    assert output_suffix(Path("a/b.jpeg"), "same") == ".jpeg"
    assert output_suffix(Path("a/b.JPG"), "same") == ".JPG"
    assert output_suffix(Path("a/b.ppm"), "same") == ".png"
    assert output_suffix(Path("a/b.png"), "jpg") == ".jpg"
    assert output_suffix(Path("a/b.png"), "webp") == ".webp"
    with pytest.raises(UsageError, match="tga"):
        output_suffix(Path("a/b.png"), "tga")


@pytest.mark.parametrize("lam", [0.0, 0.1, 0.25, 0.5, 0.731, 1.0])
def test_mixup_matches_float64_arithmetic_for_8_and_16_bit(lam: float) -> None:
    g = np.random.default_rng(int(lam * 1000))
    for dtype, top, channels in [(np.uint8, 255, 3), (np.uint8, 255, 4), (np.uint16, 65535, 1)]:
        a = g.integers(0, top, (17, 23, channels), dtype=dtype, endpoint=True)
        b = g.integers(0, top, (17, 23, channels), dtype=dtype, endpoint=True)
        cc = 3 if channels == 4 else channels
        exact = lam * a[..., :cc].astype(np.float64) + (1.0 - lam) * b[..., :cc].astype(np.float64)
        out = mixup(a, b, lam)
        assert out.dtype == dtype and out.shape == a.shape
        np.testing.assert_array_equal(out[..., :cc], np.rint(exact).astype(dtype))
        np.testing.assert_array_equal(out[..., cc:], a[..., cc:])


def test_match_partner_returns_a_new_array() -> None:
    p = ramp(4, 4)
    out = match_partner(p, np.zeros((4, 4, 3), np.uint8))
    np.testing.assert_array_equal(out, p)
    assert not np.shares_memory(out, p)
