"""The sweep as an animation: frames, order, subsampling, size, and no extra model calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from kerasmodels import red_image
from PIL import Image
from reference import linear_model
from typer.testing import CliRunner

from occlude import UsageError, occlusion_sensitivity
from occlude.cli import app
from occlude.sensitivity import animation as A

runner = CliRunner()


def counted(predict):  # type: ignore[no-untyped-def]
    calls = []

    def wrapped(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        return predict(batch)

    return wrapped, calls


@pytest.fixture
def sweep():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (24, 36, 3))
    predict, calls = counted(linear_model(rng.normal(size=(2, 24, 36, 3))))
    result = occlusion_sensitivity(image, predict, class_index=0, patch_sizes=[6, 12],
                                   strides=[3, 12], batch_size=7)  # fmt: skip
    return image, result, calls


def test_frames_follow_the_sweep_and_show_its_scores(sweep) -> None:  # type: ignore[no-untyped-def]
    image, result, calls = sweep
    before = len(calls)
    anim = A.animate_sweep(image, result, "grey", patch=12)
    assert len(calls) == before  # no model call: the frames reuse the sweep's scores
    windows = len(result.boxes[1])
    assert windows == 6
    assert anim.indices == [*range(windows), None]
    assert anim.scores[:-1] == [float(s) for s in result.scores[1]]
    assert not anim.subsampled and anim.patch == 12
    assert anim.durations == [A.FRAME_MS] * windows + [A.LAST_FRAME_MS]
    assert {f.size for f in anim.frames} == {anim.frames[0].size}
    assert anim.frames[0].size[0] == A.WIDTH


def test_the_window_is_shown_filled_as_the_model_saw_it(sweep) -> None:  # type: ignore[no-untyped-def]
    image, result, _ = sweep
    anim = A.animate_sweep(image, result, "black", patch=12)
    scale = A.PANEL / 36  # the longer side is drawn PANEL px wide
    for frame, index in zip(anim.frames[:-1], anim.indices[:-1], strict=True):
        x0, y0, x1, y1 = result.boxes[1][index]
        cy = 34 + round((y0 + y1) / 2 * scale)
        cx = 8 + round((x0 + x1) / 2 * scale)
        assert frame.getpixel((cx, cy)) == (0, 0, 0)
    last = anim.frames[-1]  # the closing frame: no window, the photo as it is
    assert last.getpixel((8 + round(6 * scale), 34 + round(6 * scale))) != (0, 0, 0)


def test_the_baseline_label_stays_off_the_curve() -> None:
    """A sweep whose every score equals the unoccluded one: its curve runs along the
    baseline, and inside the chart only that line is drawn (the label sits below)."""
    image = np.full((24, 24, 3), 100.0)
    result = occlusion_sensitivity(image, lambda b: np.ones((len(b), 2)), class_index=0,
                                   patch_sizes=[8], strides=[4])  # fmt: skip
    last = np.asarray(A.animate_sweep(image, result, "grey").frames[-1]).astype(int)
    border = np.all(last[:, 40] == 170, axis=1).nonzero()[0]  # the chart's left edge
    inside = last[border.min() + 1 : border.max(), 41 : A.WIDTH - 13]
    inked = np.any(np.abs(inside - 255).sum(axis=2) > 30, axis=1).nonzero()[0]
    assert 0 < len(inked) <= 2, inked  # one line (anti-aliasing may take two rows)


def test_the_default_scale_has_about_100_windows(sweep) -> None:  # type: ignore[no-untyped-def]
    _, result, _ = sweep
    assert [len(b) for b in result.boxes] == [77, 6]
    assert A.default_scale(result) == 0


def test_many_windows_are_subsampled_evenly(sweep) -> None:  # type: ignore[no-untyped-def]
    image, result, _ = sweep
    anim = A.animate_sweep(image, result, "grey", patch=6, max_frames=20)
    shown = [i for i in anim.indices if i is not None]
    assert len(shown) == 20 and shown[0] == 0 and shown[-1] == 76
    gaps = np.diff(shown)
    assert gaps.min() >= 3 and gaps.max() <= 5
    assert anim.subsampled
    assert anim.scores[:-1] == [float(result.scores[0][i]) for i in shown]
    assert A.frame_indices(500) == sorted(set(A.frame_indices(500)))
    assert len(A.frame_indices(500)) == A.MAX_FRAMES


def test_a_patch_that_is_not_in_the_sweep_is_refused(sweep) -> None:  # type: ignore[no-untyped-def]
    image, result, _ = sweep
    with pytest.raises(
        UsageError, match=r"patch 7 is not one of the sweep's patch sizes \(6, 12\)"
    ):
        A.animate_sweep(image, result, patch=7)


@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_the_file_opens_and_stays_small(sweep, tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    image, result, _ = sweep
    anim = A.animate_sweep(image, result, "grey", patch=6)
    path = tmp_path / f"sweep.{fmt}"
    anim.save(path)
    with Image.open(path) as img:
        assert img.n_frames == len(anim.frames) == 78
        assert img.size == anim.frames[0].size and img.size[0] <= 480
    assert path.stat().st_size < 2_000_000


@pytest.mark.slow
def test_the_cli_writes_records_and_resumes_the_animation(model_file, tmp_path) -> None:
    img = tmp_path / "red.png"
    Image.fromarray(red_image((32, 48), (6, 4, 30, 20))).save(img)
    out = tmp_path / "out"
    args = ["sensitivity", str(img), "-m", str(model_file), "-p", "2,8", "--animate", "-o",
            str(out), "--json", "-"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)[0]
    gif = Path(record["outputs"]["animation"])
    assert gif == out / "red_sweep.gif"
    with Image.open(gif) as anim:
        assert anim.n_frames == 24 + 1  # patch 8 (24 windows) is closer to 100 than 2 (384)
    assert record["settings"]["animate"] == {"format": "gif", "scale": None}
    many = runner.invoke(app, [*args[:-2], "--animate-scale", "2", "-o", str(tmp_path / "o2")])
    assert many.exit_code == 0, many.output
    with Image.open(tmp_path / "o2" / "red_sweep.gif") as anim:
        assert anim.n_frames == A.MAX_FRAMES + 1  # 384 windows of 2 px: subsampled
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "already done" in again.stderr
    gif.unlink()
    redo = runner.invoke(app, args)
    assert redo.exit_code == 0 and "already done" not in redo.stderr and gif.is_file()
    bad = runner.invoke(app, [*args[:-4], "--animate-scale", "5", "-o", str(out)])
    assert bad.exit_code == 2
    assert "--animate-scale 5 is not one of --patch [2, 8]" in bad.stderr
