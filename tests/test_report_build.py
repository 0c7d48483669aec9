"""``occlude report`` without a browser: the files it writes and the data the page gets."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pytest
import test_report_synth as synth
from PIL import Image
from typer.testing import CliRunner

from occlude.cli import app
from occlude.errors import UsageError
from occlude.report import build, build_report
from occlude.report.thumbs import THUMB_SIDE
from occlude.runner.ledger import read_state

runner = CliRunner()


def page_data(out: Path) -> dict[str, Any]:
    """The object ``report/data.js`` gives the page."""
    text = (out / "report" / "data.js").read_text(encoding="ascii")
    prefix = "window.OCCLUDE_REPORT = "
    assert text.startswith(prefix) and text.endswith(";\n")
    return json.loads(text[len(prefix) : -2])  # type: ignore[no-any-return]


def files_under(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns
            for p in root.rglob("*") if p.is_file()}  # fmt: skip


@pytest.fixture()
def real_copy(real_out: Path, tmp_path: Path) -> Path:
    """A private copy of the real run's folder (tests here change it)."""
    return Path(shutil.copytree(real_out, tmp_path / "out"))


def test_report_of_a_real_run(real_copy: Path) -> None:
    out = real_copy
    before = files_under(out)
    index = build_report(out, min_focus=synth.MIN_FOCUS)
    assert index == out / "index.html"
    after = files_under(out)
    # Only index.html and report/ are new; nothing else was touched.
    assert {k: v for k, v in after.items() if k in before} == before
    assert all(k == "index.html" or k.startswith("report/") for k in set(after) - set(before))
    data = page_data(out)
    state = read_state(out)
    records = {k.removeprefix("sensitivity:"): e["record"] for k, e in state.by_key.items()
               if k.startswith("sensitivity:") and e["event"] == "done"}  # fmt: skip
    assert (
        [c["name"] for c in data["cards"]]
        == sorted(records)
        == ["mid.png", "sub/low.png", "sub/none.jpg", "top.png"]
    )
    for card in data["cards"]:
        rec = records[card["name"]]
        assert card["focus"] == rec["focus"] and card["score"] == rec["base_score"]
        assert (card["ins"], card["insR"]) == (rec["insertion_auc"], rec["insertion_auc_random"])
        assert (card["del"], card["delR"]) == (rec["deletion_auc"], rec["deletion_auc_random"])
        assert card["low"] == (rec["focus"] < synth.MIN_FOCUS)
        assert card["cls"] == "class 0"
    # Links are relative, and lead to the files of the right kinds.
    top = data["cards"][-1]
    assert top["links"] == {"heatmap": "top.png", "sheet": "top_scales.png", "record": "top.json"}
    for card in data["cards"]:
        for link in [*card["links"].values(), card["thumb"]]:
            assert not link.startswith(("/", "file:", "..")) and (out / unquote(link)).is_file()
        with (
            Image.open(out / card["thumb"]) as thumb,
            Image.open(records[card["name"]]["input"]) as photo,
        ):  # the map alone, in the photo's shape
            assert thumb.format == "JPEG" and max(thumb.size) == THUMB_SIDE
            assert abs(thumb.width / thumb.height - photo.width / photo.height) < 0.02
    assert data["cards"][2]["top1"] == "class 1"  # none.jpg: the model's top-1 is class 1


def test_failures_and_robustness_data(real_copy: Path) -> None:
    build_report(real_copy)
    data = page_data(real_copy)
    (failure,) = data["failures"]
    assert failure["input"] == "broken.png" and "cannot read image" in failure["message"]
    summary = json.loads((real_copy / "robustness.json").read_text())
    rob = data["robustness"]
    assert rob["plot"] == "robustness.png" and rob["model"] == "red.keras"
    assert [(r["method"], r["fraction"], r["accuracy"]) for r in rob["rows"]] == [
        (r["method"], r["fraction"], r["accuracy"]) for r in summary["results"]
    ]
    assert [f["input"] for f in rob["failures"]] == ["1/broken.png"]
    assert data["min_focus"] is None and not any(c["low"] for c in data["cards"])
    assert data["has_focus"] and data["has_metrics"]


def test_thumbnails_are_remade_only_when_their_heatmap_is_newer(tmp_path: Path) -> None:
    synth.synthetic_run(tmp_path, 12)
    assert build(tmp_path).thumbs_made == 12
    thumb = tmp_path / "report" / "thumbs" / "d3" / "img00003.jpg"
    stamp = thumb.stat().st_mtime_ns
    assert build(tmp_path).thumbs_made == 0 and thumb.stat().st_mtime_ns == stamp
    heatmap = tmp_path / "d3" / "img00003.png"
    os.utime(heatmap, ns=(stamp + 10**9, stamp + 10**9))
    assert build(tmp_path).thumbs_made == 1 and thumb.stat().st_mtime_ns > stamp


def test_thumbnails_of_images_no_longer_in_the_ledger_are_removed(tmp_path: Path) -> None:
    synth.synthetic_run(tmp_path, 5)
    build_report(tmp_path)
    synth.synthetic_run(tmp_path, 3)  # a new ledger with fewer images
    build_report(tmp_path)
    thumbs = sorted(p.name for p in (tmp_path / "report" / "thumbs").rglob("*.jpg"))
    assert thumbs == ["img00000.jpg", "img00001.jpg", "img00002.jpg"]


def test_gate_and_faithfulness_flags(tmp_path: Path) -> None:
    made = synth.synthetic_run(tmp_path, 40)
    build_report(tmp_path, min_focus=0.4)
    cards = page_data(tmp_path)["cards"]
    for (rel, rec), card in zip(made, cards, strict=True):
        assert card["name"] == rel
        focus = rec["focus"]
        assert card["low"] == (focus is None or focus < 0.4)  # missing focus fails the gate
        assert card["unfaithful"] == (rec["insertion_auc"] < rec["insertion_auc_random"])
    assert any(c["focus"] is None for c in cards) and any(c["unfaithful"] for c in cards)


def test_records_without_metrics_or_heatmap(tmp_path: Path) -> None:
    synth.synthetic_run(tmp_path, 3, metrics=False)
    (tmp_path / "d1" / "img00001.png").unlink()
    build_report(tmp_path)
    data = page_data(tmp_path)
    assert not data["has_metrics"]
    missing = data["cards"][1]
    assert missing["thumb"] is None and "heatmap" not in missing["links"]
    assert missing["links"]["sheet"] == "d1/img00001_scales.png"


def test_an_unreadable_heatmap_gets_no_thumbnail_and_a_warning(tmp_path: Path) -> None:
    synth.synthetic_run(tmp_path, 2)
    (tmp_path / "d0" / "img00000.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="no thumbnail for d0/img00000.png"):
        build_report(tmp_path)
    cards = page_data(tmp_path)["cards"]
    assert cards[0]["thumb"] is None and cards[0]["links"]["heatmap"] == "d0/img00000.png"
    assert cards[1]["thumb"] == "report/thumbs/d1/img00001.jpg"


def test_odd_names_are_shown_escaped_and_linked_encoded(tmp_path: Path) -> None:
    names = ["a b#1.png", "new\nline.png", "<b>x</b>.png", "caf\udce9.png"]
    synth.synthetic_run(tmp_path, 4, names=names)
    build_report(tmp_path, title="<script>alert(1)</script>")
    data = page_data(tmp_path)
    shown = {c["name"]: c for c in data["cards"]}
    assert set(shown) == {"a b#1.png", "new\\nline.png", "<b>x</b>.png", "caf\\xe9.png"}
    assert shown["a b#1.png"]["links"]["heatmap"] == "a%20b%231.png"
    assert shown["caf\\xe9.png"]["links"]["heatmap"] == "caf%E9.png"  # the file's own bytes
    assert shown["new\\nline.png"]["thumb"] == "report/thumbs/new%0Aline.jpg"
    page = (tmp_path / "index.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert data["title"] == "<script>alert(1)</script>"  # set as text by the page, not HTML


def test_a_robustness_only_folder(tmp_path: Path) -> None:
    failure = {"event": "failed", "key": "robustness:a/x.png", "source": "in/a/x.png",
               "message": "in/a/x.png: empty"}  # fmt: skip
    synth.write_ledger(tmp_path, [failure])
    data = build_report(tmp_path) and page_data(tmp_path)
    assert data["cards"] == [] and data["robustness"]["rows"] == []
    assert "without --shard" in data["robustness"]["note"]
    row = {"method": "cutout", "fraction": 0.2, "accuracy": None, "n": 4, "images": 2}
    gate = {"min_accuracy": 0.7, "at": 0.2, "on": "lower", "passed": False}
    summary = {"results": [row], "model": "/m/red.keras", "repeats": 5, "gate": gate}
    (tmp_path / "robustness.json").write_text(json.dumps(summary))
    build_report(tmp_path)
    rob = page_data(tmp_path)["robustness"]
    assert rob["gate"] == gate and rob["note"] is None and rob["plot"] is None
    assert rob["rows"] == [{"method": "cutout", "fraction": 0.2, "accuracy": None,
                            "accuracy_low_images": None, "accuracy_high_images": None,
                            "accuracy_low": None, "accuracy_high": None,
                            "mean_true_score": None, "n": 4, "images": 2}]  # fmt: skip
    (tmp_path / "robustness.json").write_text("{not json")
    build_report(tmp_path)
    assert "could not be read" in page_data(tmp_path)["robustness"]["note"]


def test_refuses_what_is_not_an_output_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such folder"):
        build_report(tmp_path / "missing")
    with pytest.raises(UsageError, match=r"no \.occlude ledger"):
        build_report(tmp_path)
    synth.write_ledger(tmp_path, [])
    with pytest.raises(UsageError, match="nothing to report"):
        build_report(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".occlude"]  # nothing written
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(UsageError, match="min_focus must be between 0 and 1") as info:
            build_report(tmp_path, min_focus=bad)
        assert info.value.params == ("min_focus",)


def test_never_overwrites_a_file_a_run_wrote(tmp_path: Path) -> None:
    synth.synthetic_run(tmp_path, 1, names=["report/data.png"])
    build_report(tmp_path)  # report/data.png is not one of the report's files
    assert (tmp_path / "report" / "data.png").is_file()
    synth.write_ledger(tmp_path, [
        {"event": "done", "key": "sensitivity:report/x.png", "fingerprint": "f", "complete": True,
         "record": synth.synthetic_record("x.png", 0, np.random.default_rng(0)),
         "outputs": {"report/report.js": {"size": 1, "record": None}}},
    ])  # fmt: skip
    with pytest.raises(UsageError, match="would overwrite a file that a run wrote"):
        build_report(tmp_path)


def test_cli(tmp_path: Path) -> None:
    synth.synthetic_run(tmp_path, 3, failures=1)
    res = runner.invoke(app, ["report", str(tmp_path), "--min-focus", "0.6", "--title", "T"])
    assert res.exit_code == 0, res.output
    assert f"occlude: report: {tmp_path / 'index.html'} (3 images, 1 failed input)" in res.output
    assert "<title>T</title>" in (tmp_path / "index.html").read_text()
    assert page_data(tmp_path)["min_focus"] == 0.6
    res = runner.invoke(app, ["report", str(tmp_path), "-q"])
    assert res.exit_code == 0 and res.output == ""
    res = runner.invoke(app, ["report", str(tmp_path / "none")])
    assert res.exit_code == 2 and "occlude: error:" in res.output and "no such folder" in res.output
    res = runner.invoke(app, ["report", str(tmp_path), "--min-focus", "2"])
    assert res.exit_code == 2


def test_cli_counts_the_images_robustness_evaluated(tmp_path: Path, real_copy: Path) -> None:
    done = [
        {
            "event": "done",
            "key": f"robustness:{i}.png",
            "fingerprint": f"{i:064x}",
            "record": {"cases": []},
            "outputs": {},
            "complete": True,
        }
        for i in range(4)
    ]
    synth.write_ledger(tmp_path, done)
    (tmp_path / "robustness.json").write_text(json.dumps({"results": [], "model": "m"}))
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert res.stderr.strip().endswith("(robustness: 4 images evaluated)"), res.stderr
    res = runner.invoke(app, ["report", str(real_copy)])  # sensitivity and robustness
    assert res.exit_code == 0, res.output
    assert res.stderr.strip().endswith(
        "(4 images, robustness: 2 images evaluated, 1 failed input)"), res.stderr  # fmt: skip


@pytest.mark.parametrize("size", [(96, 64), (40, 120), (300, 300)])
def test_thumbnails_show_the_map_not_the_figure(tmp_path: Path, size: tuple[int, int]) -> None:
    """The gallery's thumbnail is the map cut out of the heatmap: no title, no colour bar,
    the photo's shape."""
    from occlude import render
    from occlude.report.thumbs import make_thumb

    rng = np.random.default_rng(1)
    photo = np.full((size[1], size[0], 3), 255, np.uint8)  # white: the hardest to tell apart
    photo[::7] = rng.integers(0, 255, (len(photo[::7]), size[0], 3))
    values = rng.normal(size=(16, 16)).astype(np.float32)
    render.heatmap_png(tmp_path / "h.png", photo, values, "a long title " * 4, "drop")
    make_thumb(tmp_path / "h.png", tmp_path / "t.jpg")
    thumb = np.asarray(Image.open(tmp_path / "t.jpg").convert("L")).astype(int)
    assert max(thumb.shape) == THUMB_SIDE
    assert abs(thumb.shape[1] / thumb.shape[0] - size[0] / size[1]) < 0.03 * size[0] / size[1]
    assert (thumb > 250).mean() < 0.001  # no white margin, title or space around a bar


def test_every_report_option_has_help() -> None:
    from typer.main import get_command

    command = get_command(app).commands["report"]  # type: ignore[attr-defined]
    assert command.help
    for param in command.params:
        assert getattr(param, "help", None), f"{param.name} has no help"
