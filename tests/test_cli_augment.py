"""``occlude augment`` on temporary folders: every method and option, the manifest,
labels, image modes, and byte-identical outputs across workers, order and subsets.

Output folders are compared without ``.occlude/``, the runner's state (run ids, times)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from support.cli import files, invoke, manifest
from typer.testing import Result

from occlude.augment import load_array, match_partner, replay

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_images"
METHODS = ["cutout", "hide-and-seek", "random-erasing", "mixup", "cutmix"]


def run(*args: object) -> Result:
    return invoke("augment", *args)


def ok(*args: object) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def save(path: Path, arr: np.ndarray, **info: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(arr)
    img.save(path, **info)
    return path


def photo(seed: int, h: int = 40, w: int = 48) -> np.ndarray:
    """A smooth, photo-like RGB image (JPEG-friendly)."""
    g = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (h + w)], axis=2)
    return np.clip(base + g.integers(-20, 20, (1, 1, 3)), 0, 255).astype(np.uint8)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """data/cats/{a.png, b.jpg}, data/dogs/{c.png, d.png} (d of another size)."""
    root = tmp_path / "data"
    save(root / "cats" / "a.png", photo(1))
    save(root / "cats" / "b.jpg", photo(2), quality=95)
    save(root / "dogs" / "c.png", photo(3))
    save(root / "dogs" / "d.png", photo(4, 30, 36))
    return root


# --- every method ---------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_every_method_writes_named_outputs_and_a_manifest(
    method: str, data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = run(data, "--method", method, "--out", out, "--copies", 2, "-j", 1)
    assert result.exit_code == 0, result.output
    expected = {
        f"{sub}/{stem}_{method}_{k}.{ext}"
        for sub, stem, ext in [
            ("cats", "a", "png"),
            ("cats", "b", "jpg"),
            ("dogs", "c", "png"),
            ("dogs", "d", "png"),
        ]
        for k in (0, 1)
    }
    assert set(files(out)) == expected | {"manifest.jsonl"}
    records = manifest(out)
    assert [r["output"] for r in records] == sorted(expected)
    for r in records:
        assert r["method"] == method and r["seed"] == 0
        assert set(r) >= {"output", "source", "partner", "method", "seed", "params"}
        assert Path(r["source"]).is_file()
        assert r["params"]["applied"] in (True, False)
        if method in ("mixup", "cutmix"):
            assert "soft_label" in r and "label" not in r
            if r["params"]["applied"]:
                assert r["partner"] != r["source"] and Path(r["partner"]).is_file()
                assert 0.0 <= r["params"]["lam"] <= 1.0
        else:
            assert "label" in r and r["partner"] is None
    with Image.open(out / "dogs" / f"d_{method}_0.png") as img:
        assert img.size == (36, 30)
    assert "wrote 8 image(s)" in result.output


@pytest.mark.parametrize("method", METHODS)
def test_manifest_replays_every_output_of_real_photos(method: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["--prob", 1] if method == "random-erasing" else []
    result = run(SAMPLES, "-m", method, "-o", out, "-n", 2, "-j", 1, "--seed", 7, *args)
    assert result.exit_code == 0, result.output
    records = manifest(out)
    assert len(records) == 8
    for r in records:
        written = load_array(out / r["output"])
        np.testing.assert_array_equal(replay(r), written)
        source = load_array(Path(r["source"]))
        changed = (written != source).any(axis=2)
        params = r["params"]
        if method in ("cutout", "random-erasing", "cutmix"):
            outside = np.ones(changed.shape, bool)
            for x0, y0, x1, y1 in params["boxes"]:
                outside[y0:y1, x0:x1] = False
            assert not changed[outside].any()  # nothing outside the recorded boxes
        if method == "cutmix":
            (x0, y0, x1, y1), (h, w) = params["boxes"][0], source.shape[:2]
            assert params["lam"] == pytest.approx(1 - (x1 - x0) * (y1 - y0) / (h * w))
            partner = match_partner(load_array(Path(r["partner"])), source)
            np.testing.assert_array_equal(written[y0:y1, x0:x1], partner[y0:y1, x0:x1])
        if method == "mixup":
            partner = match_partner(load_array(Path(r["partner"])), source)
            lam = params["lam"]
            assert lam == params["lam_sampled"]
            exact = lam * source.astype(float) + (1 - lam) * partner.astype(float)
            assert np.abs(written - exact).max() <= 0.5 + 1e-9
        if method == "hide-and-seek" and params["grid"]:
            rows = -(-source.shape[0] // params["grid"])
            cols = -(-source.shape[1] // params["grid"])
            assert all(0 <= a < rows and 0 <= b < cols for a, b in params["hidden"])
            assert r["fill"] is not None and len(r["fill"]) == 3


# --- reproducibility --------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_outputs_are_byte_identical_across_worker_counts(
    method: str, data: Path, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    ok(data, "-m", method, "-o", one, "-n", 2, "--workers", 1)
    result = run(data, "-m", method, "-o", two, "-n", 2, "--workers", 2)
    assert result.exit_code == 0, result.output
    assert files(one) == files(two)


def test_outputs_do_not_depend_on_input_order(data: Path, tmp_path: Path) -> None:
    inputs = [data / "dogs", data / "cats"]
    for method in ("cutmix", "hide-and-seek"):
        a, b = tmp_path / f"{method}-a", tmp_path / f"{method}-b"
        ok(*inputs, "-m", method, "-o", a, "-j", 1)
        ok(*inputs[::-1], "-m", method, "-o", b, "-j", 1)
        assert files(a) == files(b)
    loose = sorted(p for p in data.rglob("*.png"))
    a, b = tmp_path / "files-a", tmp_path / "files-b"
    ok(*loose, "-m", "mixup", "-o", a, "-j", 1)
    ok(*loose[::-1], "-m", "mixup", "-o", b, "-j", 1)
    assert files(a) == files(b)


@pytest.mark.parametrize(
    "args",
    [
        ["-m", "cutout", "--fill", "noise"],
        ["-m", "random-erasing"],
        ["-m", "hide-and-seek", "--fill", "grey"],
    ],
)
def test_outputs_do_not_depend_on_the_other_inputs(
    args: list[str], data: Path, tmp_path: Path
) -> None:
    subset = tmp_path / "subset"
    for rel in ("cats/b.jpg", "dogs/d.png"):
        (subset / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data / rel, subset / rel)
    full, part = tmp_path / "full", tmp_path / "part"
    ok(data, *args, "-o", full, "-n", 3, "-j", 1)
    ok(subset, *args, "-o", part, "-n", 3, "-j", 1)
    full_files, part_files = files(full), files(part)
    del part_files["manifest.jsonl"]
    assert len(part_files) == 6
    assert all(full_files[name] == body for name, body in part_files.items())


def test_seed_changes_outputs_and_is_recorded(data: Path, tmp_path: Path) -> None:
    for seed in (0, 1):
        ok(data, "-m", "cutout", "-o", tmp_path / f"s{seed}", "--seed", seed, "-j", 1)
    a, b = files(tmp_path / "s0"), files(tmp_path / "s1")
    assert a["cats/a_cutout_0.png"] != b["cats/a_cutout_0.png"]
    assert {r["seed"] for r in manifest(tmp_path / "s1")} == {1}
    again = tmp_path / "again"
    ok(data, "-m", "cutout", "-o", again, "--seed", 1, "-j", 1)
    assert files(again) == b


# --- options ----------------------------------------------------------------------------


def test_default_out_folder_and_quiet(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(data, "-m", "cutout", "-j", 1, "--quiet")
    assert result.exit_code == 0
    assert result.output == ""
    assert (tmp_path / "occlude-augmented" / "cats" / "a_cutout_0.png").is_file()
    assert (tmp_path / "occlude-augmented" / "manifest.jsonl").is_file()


def test_out_inside_an_input_folder_is_not_read_back(data: Path) -> None:
    out = data / "aug"
    for _ in range(2):
        result = run(data, "-m", "cutout", "-o", out, "-j", 1)
        assert result.exit_code == 0, result.output
    assert len(manifest(out)) == 4
    assert not list(out.rglob("*_cutout_0_cutout_0*"))


def test_fill_values(data: Path, tmp_path: Path) -> None:
    src = data / "cats" / "a.png"
    cases = {
        "black": [0, 0, 0],
        "white": [255, 255, 255],
        "200": [200] * 3,
        "10,20,30": [10, 20, 30],
        "grey": [128] * 3,
    }
    for text, colour in cases.items():
        out = tmp_path / text
        result = run(src, "-m", "cutout", "--fill", text, "--size", 8, "-o", out, "-j", 1)
        assert result.exit_code == 0, result.output
        (r,) = manifest(out)
        x0, y0, x1, y1 = r["params"]["boxes"][0]
        written = load_array(out / r["output"])
        assert (written[y0:y1, x0:x1] == colour).all()
    mean_out = tmp_path / "mean"
    ok(src, "-m", "random-erasing", "--prob", 1, "--fill", "mean", "-o", mean_out, "-j", 1)
    (r,) = manifest(mean_out)
    assert r["fill"] == pytest.approx(load_array(src).reshape(-1, 3).mean(axis=0).tolist())
    noise_out = tmp_path / "noise"
    ok(src, "-m", "hide-and-seek", "--fill", "noise", "-o", noise_out, "-j", 1)
    (r,) = manifest(noise_out)
    assert r["fill"] == "noise" and isinstance(r["params"]["key"], int) and r["version"] == 2


def test_hide_and_seek_default_fill_is_the_exact_dataset_mean(data: Path, tmp_path: Path) -> None:
    pngs = sorted(data.rglob("*.png"))
    out = tmp_path / "out"
    result = run(*pngs, "-m", "hide-and-seek", "--grid", 8, "--hide-prob", 1, "-o", out, "-j", 1)
    assert result.exit_code == 0, result.output
    pixels = np.concatenate([load_array(p).reshape(-1, 3) for p in pngs]).astype(np.float64)
    mean = pixels.mean(axis=0)
    records = manifest(out)
    assert {r["params"]["grid"] for r in records} == {8}
    for r in records:
        assert r["fill"] == pytest.approx(mean.tolist(), abs=1e-9)
        written = load_array(out / r["output"])
        assert (written == np.rint(mean).astype(np.uint8)).all()  # every cell hidden


def test_cutout_holes_and_size(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run(data, "-m", "cutout", "--holes", 3, "--size", 5, "-o", out, "-n", 4, "-j", 1)
    assert result.exit_code == 0, result.output
    sides = set()
    for r in manifest(out):
        assert len(r["params"]["boxes"]) == 3
        for x0, y0, x1, y1 in r["params"]["boxes"]:
            assert 0 < x1 - x0 <= 5 and 0 < y1 - y0 <= 5
            sides.add(x1 - x0)
    assert 5 in sides and min(sides) < 5  # whole squares, and squares clipped at the border
    frac = tmp_path / "frac"
    ok(data / "cats" / "a.png", "-m", "cutout", "--size", 0.25, "-o", frac, "-n", 20, "-j", 1)
    assert max(b[2] - b[0] for r in manifest(frac) for b in r["params"]["boxes"]) == 10  # 0.25 * 40


def test_random_erasing_ranges_and_prob(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["--area-range", "0.1,0.1", "--aspect-range", "1,1", "--prob", 1]
    result = run(data, "-m", "random-erasing", *args, "-o", out, "-n", 3, "-j", 1)
    assert result.exit_code == 0, result.output
    for r in manifest(out):
        (box,) = r["params"]["boxes"]
        side = box[2] - box[0]
        assert side == box[3] - box[1]
        h, w = load_array(out / r["output"]).shape[:2]
        assert side == round((0.1 * h * w) ** 0.5)
    skip = tmp_path / "skip"
    ok(data, "-m", "random-erasing", "--prob", 0, "-o", skip, "-j", 1, "--format", "png")
    for r in manifest(skip):
        assert r["params"] == {
            "applied": False,
            "boxes": [],
            "attempts": 0,
            "key": r["params"]["key"],
        }
        assert r["version"] == 2
        assert r["fill"] is None
        np.testing.assert_array_equal(load_array(skip / r["output"]), load_array(Path(r["source"])))


def test_alpha_sets_the_beta_distribution(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ok(data, "-m", "mixup", "--alpha", 5000, "-o", out, "-n", 3, "-j", 1)
    assert all(abs(r["params"]["lam"] - 0.5) < 0.05 for r in manifest(out))
    default = tmp_path / "default"
    ok(data, "-m", "mixup", "-o", default, "-n", 3, "-j", 1)
    assert any(abs(r["params"]["lam"] - 0.5) > 0.2 for r in manifest(default))  # Beta(0.2, 0.2)


def test_formats(data: Path, tmp_path: Path) -> None:
    jpeg = save(tmp_path / "in" / "e.jpeg", photo(5), quality=95)
    for fmt, ext in [("same", ".jpeg"), ("png", ".png"), ("jpg", ".jpg"), ("webp", ".webp")]:
        out = tmp_path / fmt
        result = run(jpeg, "-m", "cutout", "--format", fmt, "-o", out, "-j", 1)
        assert result.exit_code == 0, result.output
        (r,) = manifest(out)
        assert r["output"] == f"e_cutout_0{ext}"
        with Image.open(out / r["output"]) as img:
            assert (
                img.format == {".jpeg": "JPEG", ".jpg": "JPEG", ".png": "PNG", ".webp": "WEBP"}[ext]
            )


# --- labels -----------------------------------------------------------------------------


def test_folder_labels_hard_and_soft(data: Path, tmp_path: Path) -> None:
    hard = tmp_path / "hard"
    ok(data, "-m", "cutout", "--labels", "folders", "-o", hard, "-j", 1)
    assert {r["output"].split("/")[0]: r["label"] for r in manifest(hard)} == {
        "cats": "cats",
        "dogs": "dogs",
    }
    soft = tmp_path / "soft"
    ok(data, "-m", "cutmix", "--labels", "folders", "-o", soft, "-n", 6, "-j", 1)
    mixed = 0
    for r in manifest(soft):
        label, source_class = r["soft_label"], Path(r["source"]).parent.name
        assert sum(label.values()) == pytest.approx(1.0)
        partner_class = Path(r["partner"]).parent.name
        if partner_class == source_class:
            assert label == {source_class: pytest.approx(1.0)}
        else:
            mixed += 1
            assert label[source_class] == r["params"]["lam"]
            assert label[partner_class] == pytest.approx(1 - r["params"]["lam"])
    assert mixed > 0
    unlabelled = tmp_path / "none"
    ok(data, "-m", "mixup", "-o", unlabelled, "-j", 1)
    assert all(r["soft_label"] is None for r in manifest(unlabelled))


def test_csv_labels(data: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text(
        "path,label\n"
        "data/cats/a.png,tabby\n"
        f"{data / 'cats' / 'b.jpg'},siamese\n"
        "data/dogs/c.png,beagle\n"
    )
    out = tmp_path / "out"
    result = run(data, "-m", "mixup", "--labels", csv_path, "-o", out, "-n", 4, "-j", 1)
    assert result.exit_code == 1
    assert "d.png: no label in" in result.output
    assert "1 of 4 inputs failed" in result.output
    records = manifest(out)
    assert len(records) == 12 and not any("d_" in r["output"] for r in records)
    assert all("d.png" not in str(r["partner"]) for r in records)  # never a partner either
    names = {"tabby", "siamese", "beagle"}
    assert all(set(r["soft_label"]) <= names for r in records)
    hard = tmp_path / "hard"
    ok(data / "cats", "-m", "cutout", "--labels", csv_path, "-o", hard, "-j", 1)
    assert sorted(r["label"] for r in manifest(hard)) == ["siamese", "tabby"]


# --- image modes ---------------------------------------------------------------------------


def test_image_modes_are_kept(tmp_path: Path) -> None:
    src = tmp_path / "modes"
    g = np.random.default_rng(0)
    grey = g.integers(0, 200, (20, 24), dtype=np.uint8)
    rgba = g.integers(0, 200, (20, 24, 4), dtype=np.uint8)
    save(src / "grey.png", grey)
    save(src / "greya.png", np.stack([grey, grey[::-1]], axis=2))
    save(src / "rgba.png", rgba)
    save(src / "deep.png", (grey.astype(np.uint16) * 200))
    Image.fromarray(rgba[..., :3]).convert("P").save(src / "pal.png")
    Image.fromarray(rgba[..., :3]).convert("P").save(src / "palt.png", transparency=0)
    out = tmp_path / "out"
    result = run(src, "-m", "cutout", "--fill", "white", "--size", 6, "-o", out, "-j", 1)
    assert result.exit_code == 0, result.output
    modes = {}
    for r in manifest(out):
        with Image.open(out / r["output"]) as img:
            modes[r["output"]] = img.mode
        arr = load_array(out / r["output"])
        x0, y0, x1, y1 = r["params"]["boxes"][0]
        top = 65535 if arr.dtype == np.uint16 else 255
        colours = arr.shape[2] - 1 if arr.shape[2] in (2, 4) else arr.shape[2]
        assert (arr[y0:y1, x0:x1, :colours] == top).all()
        if arr.shape[2] in (2, 4):
            np.testing.assert_array_equal(arr[..., -1], load_array(Path(r["source"]))[..., -1])
    assert modes == {
        "deep_cutout_0.png": "I;16",
        "grey_cutout_0.png": "L",
        "greya_cutout_0.png": "LA",
        "pal_cutout_0.png": "RGB",
        "palt_cutout_0.png": "RGBA",
        "rgba_cutout_0.png": "RGBA",
    }
    jpg = tmp_path / "jpg"
    ok(src, "-m", "cutout", "--format", "jpg", "-o", jpg, "-j", 1)
    with Image.open(jpg / "deep_cutout_0.jpg") as img:
        assert img.mode == "L"
    with Image.open(jpg / "rgba_cutout_0.jpg") as img:
        assert img.mode == "RGB"
    mixed = tmp_path / "mixed"
    ok(src, "-m", "mixup", "-o", mixed, "-j", 1)
    with Image.open(mixed / "grey_mixup_0.png") as img:
        assert img.mode == "L"  # an RGB partner is mixed in as luma


# --- the manifest ----------------------------------------------------------------------


def test_records_name_the_sources_content_and_a_digest_of_the_settings(
    data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    ok(data, "-m", "cutout", "-o", out, "-n", 2, "-j", 1)
    records = manifest(out)
    assert [r["output"] for r in records] == sorted(r["output"] for r in records)
    for r in records:
        digest = hashlib.sha256(Path(r["source"]).read_bytes()).hexdigest()
        assert r["source_sha256"] == digest
        assert "source_stamp" not in r
    configs = {r["config"] for r in records}
    assert len(configs) == 1 and len(configs.pop()) == 16  # one run, one setting
    other = tmp_path / "other"
    ok(data, "-m", "cutout", "-o", other, "-n", 2, "-j", 1, "--seed", 1)
    assert {r["config"] for r in manifest(other)}.isdisjoint({r["config"] for r in records})


def test_manifest_keeps_earlier_runs_outputs(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ok(data, "-m", "cutout", "-o", out, "-j", 1)
    ok(data, "-m", "mixup", "-o", out, "-j", 1)
    records = manifest(out)
    assert sorted(r["method"] for r in records) == ["cutout"] * 4 + ["mixup"] * 4
    assert [r["output"] for r in records] == sorted(r["output"] for r in records)


def test_a_deleted_manifest_is_written_again_from_the_ledger(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ok(data, "-m", "random-erasing", "-o", out, "-j", 1)
    before = (out / "manifest.jsonl").read_bytes()
    (out / "manifest.jsonl").unlink()
    ok(data, "-m", "random-erasing", "-o", out, "-j", 1)
    assert (out / "manifest.jsonl").read_bytes() == before


@pytest.mark.parametrize("how", ["foreign", "edited"])
def test_a_manifest_occlude_did_not_write_is_never_overwritten(
    how: str, data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    if how == "foreign":
        out.mkdir()
        (out / "manifest.jsonl").write_text('{"someone": "else"}\n')
    else:
        ok(data, "-m", "cutout", "-o", out, "-j", 1)
        with open(out / "manifest.jsonl", "a") as handle:
            handle.write('{"edited": true}\n')
    before = (out / "manifest.jsonl").read_bytes()
    result = run(data, "-m", "cutout", "-o", out, "-j", 1, "--seed", 3)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"occlude: error: {out / 'manifest.jsonl'}: not written by occlude, or changed since; "
        "occlude does not rewrite a manifest it did not write: move it away or choose another "
        "--out"
    ]
    assert (out / "manifest.jsonl").read_bytes() == before
