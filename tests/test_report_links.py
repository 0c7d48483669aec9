"""The report never writes or deletes through a link, nor a file it did not write.

Every folder is built here: a folder of someone's photos (JPEGs in sub-folders, some named
as thumbnails would be) reached through links at every depth of ``report/``, files of
their own at the report's paths, heatmaps that lead into ``report/``, and runs with
``--report`` whose inputs lie inside ``report/``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import badfiles
import pytest
import test_report_synth as synth
from support.cli import assert_usage_error, invoke

from occlude.errors import UsageError
from occlude.paths import PathPlan
from occlude.report import build, build_report
from occlude.report.owned import WRITTEN, remove

PHOTOS = ("a.jpg", "d0/img00000.jpg", "d1/img00001.jpg", "sub/deeper/c.jpg", "notes.txt")
"""Someone's files; two are named as the thumbnails of a synthetic run would be."""


def photos(root: Path) -> Path:
    for rel in PHOTOS:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(hashlib.sha256(rel.encode()).digest())
    return root


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every entry under ``root`` (folders and hidden files too): content and mtime."""
    out = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = Path(folder, name)
            rel = path.relative_to(root).as_posix()
            body = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
            out[rel] = (body, path.lstat().st_mtime_ns)
    return out


def written(out: Path) -> list[str]:
    return json.loads((out / WRITTEN).read_text())["written"]  # type: ignore[no-any-return]


@pytest.fixture
def mine(tmp_path: Path) -> tuple[Path, dict[str, tuple[str, int]]]:
    """A folder of photos outside the output folder, and how it stands."""
    root = photos(tmp_path / "photos")
    return root, snapshot(root)


@pytest.mark.parametrize("built_before", [False, True])
def test_thumbs_as_a_link_to_photos_is_refused_and_nothing_there_changes(
    tmp_path: Path, mine: tuple[Path, dict[str, tuple[str, int]]], built_before: bool
) -> None:
    root, before = mine
    out = tmp_path / "out"
    synth.synthetic_run(out, 3)
    if built_before:
        build_report(out)
        for thumb in sorted((out / "report" / "thumbs").rglob("*"), reverse=True):
            thumb.rmdir() if thumb.is_dir() else thumb.unlink()
        (out / "report" / "thumbs").rmdir()
    (out / "report").mkdir(exist_ok=True)
    (out / "report" / "thumbs").symlink_to(root, target_is_directory=True)
    res = invoke("report", out)
    assert_usage_error(res, f"{out / 'report' / 'thumbs'}: is a symbolic link")
    synth.synthetic_run(out, 1)  # fewer images: every other thumbnail would be stale
    assert_usage_error(invoke("report", out), "is a symbolic link")
    assert snapshot(root) == before


LINKS = {
    # where the link goes (relative to out), and whether it leads to a folder
    "report/thumbs/d0": True,
    "report/thumbs/d0/img00000.jpg": False,
    "report/thumbs/gone/old.jpg": False,
    "report/data.js": False,
    "report/report.css": False,
    "report/written.json": False,
    "index.html": False,
}


@pytest.mark.parametrize("where", sorted(LINKS))
def test_a_link_anywhere_the_report_writes_is_refused(
    tmp_path: Path, mine: tuple[Path, dict[str, tuple[str, int]]], where: str
) -> None:
    root, before = mine
    out = tmp_path / "out"
    synth.synthetic_run(out, 2)
    build_report(out)
    link = out / where
    if link.is_dir():
        for thumb in link.iterdir():
            thumb.unlink()
        link.rmdir()
    link.unlink(missing_ok=True)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(root if LINKS[where] else root / "a.jpg", target_is_directory=LINKS[where])
    old = snapshot(out / "report")
    with pytest.raises(UsageError, match=f"{link}: is a symbolic link"):
        build(out)
    assert snapshot(root) == before and snapshot(out / "report") == old
    res = invoke("report", out)
    assert_usage_error(res, str(link), "symbolic link")


def test_only_thumbnails_it_wrote_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    synth.synthetic_run(out, 5)
    build_report(out)
    thumbs = out / "report" / "thumbs"
    assert "report/thumbs/d4/img00004.jpg" in written(out)
    theirs = photos(thumbs / "theirs")  # someone's JPEGs put inside thumbs/
    (thumbs / "d3" / "mine.jpg").write_bytes(b"my own")
    before = snapshot(thumbs / "theirs")
    synth.synthetic_run(out, 3)  # d3/img00003.png and d4/img00004.png leave the ledger
    build_report(out)
    assert not (thumbs / "d3" / "img00003.jpg").exists()
    assert not (thumbs / "d4" / "img00004.jpg").exists()
    assert snapshot(theirs) == before and (thumbs / "d3" / "mine.jpg").read_bytes() == b"my own"
    assert sorted(written(out)) == sorted([
        "index.html", "report/data.js", "report/report.css", "report/report.js", WRITTEN,
        "report/thumbs/d0/img00000.jpg", "report/thumbs/d1/img00001.jpg",
        "report/thumbs/d2/img00002.jpg",
    ])  # fmt: skip


@pytest.mark.parametrize(
    "where", ["index.html", "report/report.js", "report/thumbs/d1/img00001.jpg"]
)
def test_a_file_it_did_not_write_at_its_paths_is_refused(tmp_path: Path, where: str) -> None:
    out = tmp_path / "out"
    synth.synthetic_run(out, 2)
    (out / where).parent.mkdir(parents=True, exist_ok=True)
    (out / where).write_bytes(b"someone's")
    res = invoke("report", out)
    assert_usage_error(res, f"{out / where}: not written by occlude report")
    assert (out / where).read_bytes() == b"someone's"
    assert not (out / "report" / "data.js").exists()


def test_a_folder_built_before_lists_were_kept_is_adopted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    synth.synthetic_run(out, 4)
    build_report(out)
    (out / WRITTEN).unlink()  # as an occlude without the list left it
    synth.synthetic_run(out, 2)
    assert build(out).thumbs_made == 2  # its thumbnails are the report's: remade (newer maps)
    # Not listed, so not known to be the report's: the old thumbnails stay.
    assert (out / "report" / "thumbs" / "d3" / "img00003.jpg").is_file()
    assert "report/thumbs/d3/img00003.jpg" not in written(out)
    assert "report/thumbs/d1/img00001.jpg" in written(out)
    (out / WRITTEN).write_text("{not json")
    with pytest.raises(UsageError, match="cannot read the report's list"):
        build(out)


def test_a_heatmap_that_leads_into_report_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    synth.synthetic_run(out, 2)
    build_report(out)
    thumb = out / "report" / "thumbs" / "d0" / "img00000.jpg"
    heatmap = out / "d0" / "img00000.png"
    heatmap.unlink()
    heatmap.symlink_to(thumb)  # its thumbnail would be written onto the file it is read from
    os.utime(thumb, ns=(2 * 10**18, 2 * 10**18))
    body = thumb.read_bytes()
    with pytest.raises(UsageError, match="the report would overwrite the heatmap"):
        build(out)
    assert thumb.read_bytes() == body


def test_a_heatmap_outside_the_folder_gets_no_thumbnail_outside_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    synth.synthetic_run(out, 1)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.png").write_bytes(synth.heatmap_png())
    ledger = out / ".occlude" / "ledger.jsonl"
    event = json.loads(ledger.read_text().splitlines()[0])
    event.update(key="sensitivity:x.png", seq=2, t=event["t"] + 1,
                 outputs={"../elsewhere/x.png": {"size": 1, "record": None}})  # fmt: skip
    ledger.write_text(ledger.read_text() + json.dumps(event) + "\n")
    build_report(out)
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["x.png"]
    assert not (out / "report" / "elsewhere").exists()


def test_remove_never_follows_a_link(tmp_path: Path) -> None:
    root = photos(tmp_path / "photos")
    out = tmp_path / "out"
    (out / "report").mkdir(parents=True)
    (out / "report" / "thumbs").symlink_to(root, target_is_directory=True)
    assert remove(out, ["report/thumbs/a.jpg", "report/thumbs/sub/deeper/c.jpg"]) == []
    (out / "report" / "thumbs").unlink()
    (out / "report" / "thumbs").mkdir()
    (out / "report" / "thumbs" / "a.jpg").symlink_to(root / "a.jpg")
    assert remove(out, ["report/thumbs/a.jpg"]) == []
    assert all((root / rel).is_file() for rel in PHOTOS)


def test_a_path_plan_refuses_reads_inside_a_folder_it_writes(tmp_path: Path) -> None:
    (tmp_path / "out" / "report" / "in").mkdir(parents=True)
    plan = PathPlan()
    plan.read(tmp_path / "out" / "report" / "in" / "a.jpg", "input")
    plan.write_folder(tmp_path / "out" / "report", "report")
    with pytest.raises(UsageError, match=r"the input lies inside .*, where report writes") as e:
        plan.check()
    assert e.value.params == ("report", "input")
    plan = PathPlan()
    plan.read_folder(tmp_path / "out" / "report" / "in", "input")
    plan.write_folder(tmp_path / "out" / "report", "report")
    with pytest.raises(UsageError, match="the input folder lies inside"):
        plan.check()
    plan = PathPlan()  # an input folder that holds the output folder is fine
    plan.read_folder(tmp_path, "input")
    plan.output_folder(tmp_path / "out")
    plan.write_folder(tmp_path / "out" / "report", "report")
    plan.check()


# --- runs with --report ---------------------------------------------------------------


def test_a_report_run_refuses_inputs_inside_report(model_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    thumbs = out / "report" / "thumbs"
    thumbs.mkdir(parents=True)
    image = badfiles.good_png(thumbs / "a.png")
    badfiles.good_png(thumbs / "sub.png")
    before = snapshot(out)
    for target in (image, thumbs, out / "report"):
        res = invoke("sensitivity", target, "-m", model_file, "-o", out, "--report")
        line = assert_usage_error(res, "lies inside", "where --report writes")
        assert str(target) in line
    assert snapshot(out) == before  # refused before anything was written


def test_a_report_run_refuses_an_input_at_index_html(model_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    page = out / "index.html"  # named directly, a file is read whatever its name
    page.write_bytes(badfiles.good_png(tmp_path / "p.png").read_bytes())
    before = snapshot(out)
    res = invoke("sensitivity", page, "-m", model_file, "-o", out, "--report")
    assert_usage_error(res, "--report would overwrite the input", str(page))
    res = invoke("sensitivity", badfiles.good_png(tmp_path / "a.png"), "-m", model_file,
                 "-o", out, "--report", "--json", out / "report" / "data.js")  # fmt: skip
    assert_usage_error(res, "--report and --json would both write")
    assert snapshot(out) == before


def test_a_report_run_refuses_links_before_any_work(
    model_file: Path, tmp_path: Path, mine: tuple[Path, dict[str, tuple[str, int]]]
) -> None:
    root, before = mine
    out = tmp_path / "out"
    (out / "report").mkdir(parents=True)
    (out / "report" / "thumbs").symlink_to(root, target_is_directory=True)
    image = badfiles.good_png(tmp_path / "a.png")
    res = invoke("sensitivity", image, "-m", model_file, "-o", out, "--report")
    assert_usage_error(res, str(out / "report" / "thumbs"), "symbolic link")
    assert snapshot(root) == before
    assert sorted(os.listdir(out)) == ["report"]  # no ledger, no outputs: no work was done
