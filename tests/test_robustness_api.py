"""``occlude.robustness_curve`` and ``RobustnessResult``: the command's JSON, figure and gate
from Python, and ``RobustnessJob`` writing the summary ``occlude report`` reads by itself."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from kerasmodels import red_image
from PIL import Image
from support.cli import invoke

import occlude
from occlude.errors import UsageError
from occlude.robustness import Gate, RobustnessJob
from occlude.runner import Runner
from occlude.zoo import ModelSpec

SETTINGS = {"methods": ["cutout", "hide-and-seek"], "fractions": [0.0, 0.5, 0.9], "repeats": 2,
            "seed": 3, "fill": "noise", "batch_size": 4}  # fmt: skip
FLAGS = ["--methods", "cutout,hide-and-seek", "--fractions", "0,0.5,0.9", "--repeats", "2",
         "--seed", "3", "--fill", "noise", "-b", "4"]  # fmt: skip


def _images(root: Path, per_class: int) -> Path:
    """Folders 0/ (a large red object) and 1/ (no red); file names unique across them."""
    for label, box in (("0", (6, 4, 42, 28)), ("1", None)):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(red_image((32 + i, 48), box)).save(root / label / f"{label}-{i}.png")
    return root


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    return _images(tmp_path / "data", 3)


def test_the_result_is_the_commands_json_and_the_gate_its_exit_code(model_file, dataset):
    result = occlude.robustness_curve(model_file, dataset, "folders", **SETTINGS)
    cli = invoke("robustness", dataset, "-m", model_file, "--labels", "folders", *FLAGS,
                 "--json", "-")  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert result.to_dict() == json.loads(cli.stdout)
    assert str(result) == cli.stderr  # the table
    for at in (0.0, 0.9):
        failures = result.gate(0.9, at)
        gated = invoke("robustness", dataset, "-m", model_file, "--labels", "folders", *FLAGS,
                       "--min-accuracy", "0.9", "--at", at, "--json", "-")  # fmt: skip
        assert gated.exit_code == (3 if failures else 0), gated.output
        assert json.loads(gated.stdout) == result.to_dict(Gate(0.9, at))
        assert [f"occlude: {line}" for line in failures] == [
            line for line in gated.stderr.splitlines() if "gate:" in line and "occlude" in line
        ]
    assert result.gate(0.9, 0.0) == [] and result.gate(0.9, 0.9)  # the red goes at 90 %


def test_files_with_a_list_of_labels_are_the_folders_run(model_file, dataset):
    files = sorted(dataset.rglob("*.png"))
    by_folder = occlude.robustness_curve(model_file, dataset, "folders", **SETTINGS)
    by_list = occlude.robustness_curve(model_file, files, [int(f.parent.name) for f in files],
                                       **SETTINGS)  # fmt: skip
    assert by_list.rows != [] and [r.accuracy for r in by_list.rows] == [
        r.accuracy for r in by_folder.rows
    ]
    with pytest.raises(UsageError, match="labels has 1 entries for 6 images"):
        occlude.robustness_curve(model_file, files, [0], **SETTINGS)


def test_a_bad_file_fails_alone_and_is_listed(model_file, dataset):
    (dataset / "1" / "9.png").write_bytes(b"not a png")
    result = occlude.robustness_curve(model_file, dataset, "folders", **SETTINGS)
    assert len(result.failed) == 1 and result.failed[0].endswith("9.png")
    assert result.images == 6


def test_arrays_with_a_keras_model_and_with_a_callable(model_file, dataset):
    import keras

    model = keras.saving.load_model(model_file)
    files = sorted(dataset.rglob("*.png"))
    arrays = [np.asarray(Image.open(f).convert("RGB").resize((48, 32))) for f in files]
    labels = [int(f.parent.name) for f in files]
    settings = {**SETTINGS, "fill": "grey"}
    by_model = occlude.robustness_curve(model, arrays, labels, **settings)
    assert by_model.model == model.name and by_model.weights == "in-memory"
    assert by_model.to_dict()["fill"] == [127.5, 127.5, 127.5]

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.asarray(model(batch))

    by_callable = occlude.robustness_curve(predict, np.stack(arrays), labels, **settings)
    assert by_callable.model == "predict"
    assert [r.accuracy for r in by_callable.rows] == [r.accuracy for r in by_model.rows]
    assert by_model.rows[0].accuracy == 1.0
    again = occlude.robustness_curve(predict, arrays, labels, **settings)
    assert again.to_dict() == by_callable.to_dict()  # seeded: the same placements


def test_refusals_name_the_parameters(model_file, dataset):
    image = red_image((32, 48), None)
    with pytest.raises(UsageError, match="images"):
        occlude.robustness_curve(model_file, [np.zeros((4, 4))[..., None]], [0])
    with pytest.raises(UsageError, match="out of range"):
        occlude.robustness_curve(model_file, image, 7)
    with pytest.raises(UsageError, match="not a class index"):
        occlude.robustness_curve(lambda b: np.ones((len(b), 2)), image, "dog")
    with pytest.raises(UsageError, match="model must be"):
        occlude.robustness_curve(42, image, 0)
    result = occlude.robustness_curve(model_file, image, 1, fractions=[0, 0.5], repeats=1)
    with pytest.raises(UsageError, match=r"at 0\.3 is not one of fractions 0,0\.5"):
        result.gate(0.5, 0.3)
    with pytest.raises(UsageError, match="gate_on"):
        result.gate(0.5, 0.5, on="upper")
    with pytest.raises(UsageError, match="at least 10 images; the inputs hold 1"):
        result.gate(0.5, 0.5, on="lower")


def test_the_lower_gate_judges_the_interval_over_ten_images(model_file, tmp_path):
    data = _images(tmp_path / "data", 5)
    result = occlude.robustness_curve(model_file, data, "folders", **SETTINGS)
    assert result.images == 10
    at_zero = result.rows[0]
    assert at_zero.accuracy == 1.0 and at_zero.accuracy_low_images == 1.0
    assert result.gate(1.0, 0.0, on="lower") == []
    failures = result.gate(0.9, 0.9, on="lower")
    assert failures and "accuracy lower bound (95%, images)" in failures[0]
    cli = invoke("robustness", data, "-m", model_file, "--labels", "folders", *FLAGS,
                 "--min-accuracy", "0.9", "--at", "0.9", "--gate-on", "lower", "-q")  # fmt: skip
    assert cli.exit_code == 3, cli.output


def test_the_job_writes_the_summary_without_the_command(model_file, dataset, tmp_path):
    out = tmp_path / "out"
    job = RobustnessJob([dataset], "folders", ModelSpec(str(model_file)), **{
        k: v for k, v in SETTINGS.items()}, out_dir=out, gate=Gate(0.9, 0.5))  # fmt: skip
    list(Runner(job, progress=False).run())
    assert job.result is not None
    written = json.loads((out / "robustness.json").read_text())
    assert written == job.result.to_dict(Gate(0.9, 0.5)) and written["gate"]["on"] == "estimate"
    with Image.open(out / "robustness.png") as im:
        assert im.size == (720, 640)
    assert not list(out.glob("*.tmp*"))  # atomic: no temporaries left
    plotted = job.result.plot(tmp_path / "again.png")
    assert (tmp_path / "again.png").read_bytes() == plotted
    with Image.open(io.BytesIO(plotted)) as im:
        assert im.size == (720, 640)
    gated = ["--min-accuracy", "0.9", "--at", "0.5", "-o", tmp_path / "o2"]
    cli = invoke("robustness", dataset, "-m", model_file, "--labels", "folders", *FLAGS, *gated)
    assert cli.exit_code == 3, cli.output  # the gate fails; the summary is written anyway
    assert json.loads((tmp_path / "o2" / "robustness.json").read_text()) == written
