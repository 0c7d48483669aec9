"""Saliency-guided augmentation: placement by importance, label rules, maps from files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from occlude.augment import load_array, replay
from occlude.augment.methods import (
    AttentiveCutMix,
    Context,
    KeepCutout,
    SaliencyMix,
    augmentation,
    params_from_dict,
)
from occlude.cli import app
from occlude.errors import UsageError

runner = CliRunner()


def flat(h: int, w: int, value: int) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def test_saliency_mix_centres_the_box_on_the_partner_peak_and_clips_it() -> None:
    source, partner = flat(40, 60, 10), flat(40, 60, 200)
    peak_map = np.zeros((40, 60), np.float32)
    peak_map[30, 50] = 1.0
    method = SaliencyMix()
    for seed in range(20):
        rng = np.random.default_rng(seed)
        out = method(source, rng, Context([partner], None, None, [peak_map]))
        record = out.params_dict()
        ((x0, y0, x1, y1),) = record["boxes"]
        lam = np.float32(record["lam_sampled"])
        side_w, side_h = round(60 * np.sqrt(1 - lam)), round(40 * np.sqrt(1 - lam))
        assert (x0, y0) == (max(0, 50 - side_w // 2), max(0, 30 - side_h // 2))
        assert (x1, y1) == (min(60, 50 - side_w // 2 + side_w), min(40, 30 - side_h // 2 + side_h))
        assert record["peak"] == [30, 50] and record["importance"] == 1.0
        pasted = (out.image == 200).all(axis=2)
        assert pasted.sum() == (x1 - x0) * (y1 - y0)
        assert record["lam"] == pytest.approx(1 - pasted.mean())  # label by area


def test_attentive_cutmix_pastes_exactly_the_top_k_cells() -> None:
    source, partner = flat(70, 70, 0), flat(70, 70, 255)
    importance = np.zeros((70, 70), np.float32)
    hot = [3, 11, 17, 24, 40, 48]  # cells of the 7x7 grid (10 px each)
    for rank, cell in enumerate(hot):
        r, c = divmod(cell, 7)
        importance[r * 10 : r * 10 + 10, c * 10 : c * 10 + 10] = 10 - rank
    importance[5, 5] = -100  # negative evidence is no importance
    out = AttentiveCutMix()(source, np.random.default_rng(0),
                            Context([partner], None, None, [importance]))  # fmt: skip
    record = out.params_dict()
    assert record["cells"] == sorted(hot)
    expected = np.zeros((70, 70), bool)
    for cell in hot:
        r, c = divmod(cell, 7)
        expected[r * 10 : r * 10 + 10, c * 10 : c * 10 + 10] = True
    np.testing.assert_array_equal(out.image[..., 0] == 255, expected)
    assert record["lam"] == pytest.approx(1 - 6 / 49)
    assert record["importance"] == pytest.approx(1.0)


def test_maps_of_another_size_are_resized_to_the_image() -> None:
    small = np.zeros((10, 15), np.float32)
    small[9, 14] = 1.0  # bottom-right corner
    out = SaliencyMix(alpha=1.0)(flat(40, 60, 0), np.random.default_rng(1),
                                 Context([flat(40, 60, 255)], None, None, [small]))  # fmt: skip
    row, col = out.params_dict()["peak"]
    assert row >= 36 and col >= 56


def test_params_round_trip_and_options_are_checked() -> None:
    image = flat(30, 30, 50)
    imp = np.random.default_rng(0).random((30, 30)).astype(np.float32)
    ctx = Context([flat(30, 30, 200)], None, imp, [imp])
    for name in ("keep-cutout", "saliency-mix", "attentive-cutmix"):
        out = augmentation(name)(image, np.random.default_rng(0), ctx)
        record = out.params.to_dict()
        assert params_from_dict(name, record).to_dict() == record
    with pytest.raises(
        UsageError, match=r"top_k must be an int from 1 to grid \* grid = 49; received 50"
    ):
        augmentation("attentive-cutmix", top_k=50)
    with pytest.raises(UsageError, match="keep_quantile must be between 0 and 1"):
        KeepCutout(keep_quantile=2)
    with pytest.raises(UsageError, match="needs the image's saliency map"):
        KeepCutout()(image, np.random.default_rng(0))


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    folder = tmp_path / "in"
    for i in range(4):
        path = folder / ("sub" if i % 2 else "") / f"p{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (24 + 4 * i, 32, 3), dtype=np.uint8)).save(path)
        maps = tmp_path / "maps" / path.relative_to(folder).parent
        maps.mkdir(parents=True, exist_ok=True)
        np.save(maps / f"p{i}.npy", rng.normal(size=(12, 16)).astype(np.float32))
    return tmp_path


@pytest.mark.parametrize("method", ["keep-cutout", "saliency-mix", "attentive-cutmix"])
def test_the_cli_records_maps_and_reruns_byte_for_byte(photos: Path, method: str) -> None:
    extra = ["--prob", "1"] if method == "keep-cutout" else ["--label-by", "saliency"]
    args = ["augment", str(photos / "in"), "-m", method, "--maps", str(photos / "maps"),
            "-n", "2", "-j", "1", *extra]  # fmt: skip
    first = runner.invoke(app, [*args, "-o", str(photos / "a")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, [*args, "-o", str(photos / "b")])
    assert second.exit_code == 0
    for name in ("manifest.jsonl", "p0_" + method + "_0.png", "sub/p1_" + method + "_1.png"):
        assert (photos / "a" / name).read_bytes() == (photos / "b" / name).read_bytes()
    records = [json.loads(x) for x in (photos / "a" / "manifest.jsonl").read_text().splitlines()]
    assert len(records) == 8
    for r in records:
        assert r["saliency"]["map"].endswith(".npy")
        np.testing.assert_array_equal(replay(r), load_array(photos / "a" / r["output"]))
        if method != "keep-cutout":
            assert r["params"]["label_by"] == "saliency"
            assert set(r["soft_label"] or {}) <= {"0", "1"} or r["soft_label"] is None


def test_missing_and_malformed_maps_fail_their_input_only(photos: Path) -> None:
    (photos / "maps" / "p0.npy").unlink()
    (photos / "maps" / "p2.npy").write_bytes(b"not a numpy file")
    args = ["augment", str(photos / "in"), "-m", "keep-cutout", "--maps", str(photos / "maps"),
            "-o", str(photos / "o"), "-j", "1"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 1
    errors = sorted(line for line in res.stderr.splitlines() if line.startswith("occlude: error:"))
    assert len(errors) == 2
    assert "p0.png: no saliency map at" in errors[0] and "--save-npy" in errors[0]
    assert "p2.npy: cannot read" in errors[1]
    assert sorted(p.name for p in (photos / "o").rglob("*.png")) == [
        "p1_keep-cutout_0.png", "p3_keep-cutout_0.png"]  # fmt: skip


@pytest.mark.parametrize("method", ["saliency-mix", "attentive-cutmix"])
def test_a_partner_without_a_map_is_said_in_flags(photos: Path, method: str) -> None:
    """An image whose own map is there fails when its partner's is missing; the line
    names the command line's flags, not the library's parameters."""
    for i in (1, 2, 3):
        next((photos / "maps").rglob(f"p{i}.npy")).unlink()
    args = ["augment", str(photos / "in"), "-m", method, "--maps", str(photos / "maps"),
            "-o", str(photos / "o"), "-j", "1"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 1
    (line,) = [x for x in res.stderr.splitlines() if "p0.png: partner" in x]
    assert "no saliency map at" in line and "--save-npy" in line and "--model NAME" in line
    assert "save_npy" not in line and "model=" not in line


def test_guided_methods_need_maps_and_others_refuse_them(photos: Path) -> None:
    res = runner.invoke(app, ["augment", str(photos / "in"), "-m", "saliency-mix", "-o",
                              str(photos / "o")])  # fmt: skip
    assert res.exit_code == 2 and "give --maps DIR" in res.stderr and "--model NAME" in res.stderr
    res = runner.invoke(app, ["augment", str(photos / "in"), "-m", "cutmix", "--maps",
                              str(photos / "maps"), "-o", str(photos / "o")])  # fmt: skip
    assert res.exit_code == 2 and "apply to the guided methods only" in res.stderr


@pytest.mark.slow
def test_maps_from_a_model_are_the_sensitivity_commands_and_kept(
    model_file: Path, tmp_path: Path
) -> None:
    """``--model``: each map is the one ``occlude sensitivity --save-npy`` writes for the
    same model, class and patches; a rerun reuses it; an edited input gets a new one."""
    from kerasmodels import red_image

    folder = tmp_path / "in"
    folder.mkdir()
    for name, box in (("a.png", (4, 4, 10, 10)), ("b.png", (30, 12, 36, 18))):
        Image.fromarray(red_image((32, 48), box)).save(folder / name)
    swept = runner.invoke(app, ["sensitivity", str(folder), "-m", str(model_file), "--class",
                                "0", "--patch", "8", "--save-npy", "-o", str(tmp_path / "s"),
                                "-j", "1"])  # fmt: skip
    assert swept.exit_code == 0, swept.output
    args = ["augment", str(folder), "-m", "keep-cutout", "--model", str(model_file), "-c", "0",
            "--patch", "8", "-o", str(tmp_path / "o"), "-j", "1"]  # fmt: skip
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    made = {p.name: p for p in (tmp_path / "o" / ".occlude" / "maps").rglob("*.npy")}
    assert sorted(made) == ["a.png.npy", "b.png.npy"]
    for name in ("a", "b"):
        theirs = np.load(tmp_path / "s" / f"{name}.npy")
        assert theirs.shape == (32, 48) and np.abs(theirs).max() > 0.05
        np.testing.assert_array_equal(np.load(made[f"{name}.png.npy"]), theirs)
    stamps = {name: path.stat().st_mtime_ns for name, path in made.items()}
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert {name: path.stat().st_mtime_ns for name, path in made.items()} == stamps
    Image.fromarray(red_image((32, 48), (20, 2, 26, 8))).save(folder / "a.png")
    edited = runner.invoke(app, args)
    assert edited.exit_code == 0, edited.output
    assert made["b.png.npy"].stat().st_mtime_ns == stamps["b.png.npy"]
    assert not np.array_equal(np.load(made["a.png.npy"]), np.load(tmp_path / "s" / "a.npy"))
