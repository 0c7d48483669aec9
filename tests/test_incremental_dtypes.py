"""Models that are not float32 end to end: the engine never computes them differently.

Mixed-precision and 16-bit policies, and inputs the model casts (``uint8`` truncates the
grey fill 127.5 to 127), run full from the first such layer (the whole model when it is
the first): ``--compute incremental``, ``auto`` and ``incremental=True`` give exactly the
full map, whatever the number of images in the run, and the record states the precision
the model computes in.

The reference is the model compiled as the full path runs it (``compile_predictor``), not
an eager ``model(x)``: on a CPU with native bfloat16 (AVX512_BF16), TensorFlow's compiled
graph fuses convolution, bias and activation and rounds once, where eager rounds after
each, and the two differ by a bfloat16 step.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from incmodels import occluded, pattern_image, randomize
from PIL import Image
from support.cli import run_main

from occlude.sensitivity.windows import window_boxes

SIZE = (32, 32)
SCALES = ("-p", "8,16", "-s", "4,8")
KINDS = {  # name: (dtype policy, input dtype, the record's precision)
    "float32": ("float32", "float32", "float32"),
    "mixed_float16": ("mixed_float16", "float32", "mixed_float16"),
    "mixed_bfloat16": ("mixed_bfloat16", "float32", "mixed_bfloat16"),
    "bfloat16": ("bfloat16", "float32", "bfloat16"),
    "uint8": ("float32", "uint8", "float32"),
    "int32": ("float32", "int32", "float32"),
    "float16_input": ("float32", "float16", "float32"),
}


def compiled_scores(model, copies: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The full path's scores of ``copies`` (raw pixels, batches of 8)."""
    from occlude.model.predict import compile_predictor

    n_classes = int(model.outputs[0].shape[-1])
    return compile_predictor(model, "none", SIZE, n_classes, 8)(copies)


def conv_net(policy: str, input_dtype: str, seed: int = 0):  # type: ignore[no-untyped-def]
    """A small classifier on raw 0-255 pixels built under ``policy``, random He weights."""
    import keras

    L = keras.layers
    keras.config.set_dtype_policy(policy)
    try:
        inputs = keras.Input((*SIZE, 3), dtype=input_dtype)
        x = L.Rescaling(1 / 127.5, offset=-1)(inputs)
        x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
        x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
        x = L.Conv2D(16, 3, strides=2, padding="same")(x)
        x = L.GlobalAveragePooling2D()(x)
        model = keras.Model(inputs, L.Dense(4)(x))
    finally:
        keras.config.set_dtype_policy("float32")
    return randomize(model, seed)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dtypes")
    for name, (policy, dtype, _) in KINDS.items():
        conv_net(policy, dtype).save(root / f"{name}.keras")
    (root / "in").mkdir()
    for k in range(2):
        pixels = (pattern_image(*SIZE, seed=k) + 1) * 127.5
        Image.fromarray(pixels.round().astype(np.uint8)).save(root / "in" / f"{k}.png")
    return root


def sweep(capsys, files: Path, name: str, out: Path, inputs: Path, *args: str):  # type: ignore[no-untyped-def]
    """``occlude sensitivity`` in this process: (records by file name, maps, stderr)."""
    res = run_main(capsys, "sensitivity", inputs, "-m", files / f"{name}.keras", *SCALES,
                   "--save-npy", "-o", out, "--json", "-", "-q", *args)  # fmt: skip
    assert res.code == 0, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    records = {Path(r["input"]).name: r for r in json.loads(res.stdout)}
    maps = {stem: np.load(out / f"{Path(stem).stem}.npy") for stem in records}
    return records, maps, res.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", list(KINDS))
def test_cli_maps_equal_full_whatever_the_mode_and_the_run(
    name: str, files: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    full, want, _ = sweep(capsys, files, name, tmp_path / "full", files / "in", "--compute", "full")
    inc, got_inc, err = sweep(capsys, files, name, tmp_path / "inc", files / "in",
                              "--compute", "incremental")  # fmt: skip
    alone, got_alone, _ = sweep(capsys, files, name, tmp_path / "alone", files / "in" / "0.png")
    monkeypatch.setattr("occlude.sensitivity.compute.COMPILE_MACS", 0.0)  # compiling is free
    auto, got_auto, _ = sweep(capsys, files, name, tmp_path / "auto", files / "in")
    precision = KINDS[name][2]
    for records in (full, inc, alone, auto):
        assert {r["precision"] for r in records.values()} == {precision}
        assert {r["settings"]["precision"] for r in records.values()} == {precision}
    for key, ref in want.items():
        peak = float(np.abs(ref).max())
        assert peak > 1e-2 and float(ref.max() - ref.min()) > 0.2 * peak  # not a flat map
        runs = [got_inc[key], got_auto[key]] + ([got_alone[key]] if key in got_alone else [])
        for got in runs:
            if name == "float32":  # the control: the engine ran, within float32 round-off
                assert np.abs(got - ref).max() <= 1e-5 * peak
            else:
                np.testing.assert_array_equal(got, ref)
    if name == "float32":
        assert {r["compute"] for r in (*inc.values(), *auto.values())} == {"incremental"}
        return
    assert {r["compute"] for r in (*inc.values(), *auto.values(), *alone.values())} == {"full"}
    warnings = [line for line in err.splitlines() if line.startswith("occlude: warning")]
    assert len(warnings) == 1 and warnings[0].endswith("; running full"), warnings
    why = f"computes in {precision}" if precision != "float32" else f"{KINDS[name][1]} input"
    assert why in warnings[0]


@pytest.mark.parametrize("name", list(KINDS))
def test_library_incremental_true_equals_full(name: str, files: Path) -> None:
    from occlude.model.loading import load_classifier
    from occlude.sensitivity.core import occlusion_sensitivity

    clf = load_classifier(str(files / f"{name}.keras"))
    assert clf.precision == KINDS[name][2]
    image = np.asarray(Image.open(files / "in" / "1.png"), dtype=np.float32)
    kwargs = dict(patch_sizes=[8, 16], strides=[4, 8], class_index=2, batch_size=7)
    full = occlusion_sensitivity(image, clf.predictor(7), **kwargs)  # type: ignore[arg-type]
    scorer = clf.window_scorer(7)
    inc = occlusion_sensitivity(image, clf.predictor(7), scorer=scorer, incremental=True,
                                **kwargs)  # type: ignore[arg-type]  # fmt: skip
    peak = float(np.abs(full.map).max())
    assert peak > 1e-2
    assert scorer.runs_whole == (name != "float32")
    if name == "float32":
        assert np.abs(inc.map - full.map).max() <= 1e-5 * peak
    else:
        np.testing.assert_array_equal(inc.map, full.map)


@pytest.mark.parametrize("name", [n for n in KINDS if n != "float32"])
def test_the_engine_computes_nothing_it_does_not_know(name: str, files: Path) -> None:
    """Through :class:`IncrementalModel` directly: the first layer (or the input) is
    unknown, nothing is computed on tiles, and the scores are the model's."""
    import keras

    from occlude.incremental import IncrementalModel

    model = keras.saving.load_model(files / f"{name}.keras")
    inc = IncrementalModel(model, batch_size=8)
    policy, dtype, _ = KINDS[name]
    if dtype != "float32":
        assert inc.fallback is not None and f"takes {dtype} input" in inc.fallback
    else:
        assert inc.unknown_layers()[0] == (model.layers[1].name, f"computes in {policy}")
    assert inc.estimate(8).macs_fraction == 1.0 and not inc.estimate(8).worth_it
    x = (pattern_image(*SIZE, seed=2) + 1) * 127.5
    fill = np.full_like(x, 127.5)
    boxes = window_boxes(*SIZE, 8, 4)
    got = inc.session(x).score(fill, boxes)
    want = compiled_scores(model, occluded(x, fill, boxes))
    assert np.abs(want - want[0]).max() > 1e-2 * np.abs(want).max()
    np.testing.assert_array_equal(got, want)  # the same graph: the model, whole


@pytest.mark.parametrize("tail", ["mixed_float16", "mixed_bfloat16", "bfloat16"])
def test_a_reduced_precision_tail_runs_full_from_its_first_layer(tail: str) -> None:
    """float32 layers first are computed on tiles; from the first layer under another
    policy on, the copies are computed as the model does."""
    import keras

    from occlude.incremental import IncrementalModel

    L = keras.layers
    inputs = keras.Input((*SIZE, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = L.Conv2D(16, 3, strides=2, padding="same", dtype=tail, name="reduced")(x)
    x = L.GlobalAveragePooling2D(dtype=tail)(x)
    model = randomize(keras.Model(inputs, L.Dense(4, dtype="float32")(x)))
    inc = IncrementalModel(model, batch_size=8)
    est = inc.estimate(8)
    assert est.switch_layer == "reduced" and est.macs_fraction < 0.5
    assert ("reduced", f"computes in {tail}") in inc.unknown_layers()
    x_clean = pattern_image(*SIZE, seed=3)
    boxes = window_boxes(*SIZE, 8, 4)
    fill = np.zeros_like(x_clean)
    got = inc.session(x_clean).score(fill, boxes)
    want = compiled_scores(model, occluded(x_clean, fill, boxes))
    assert np.abs(want - want[0]).max() > 1e-2 * np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_precision_names_the_policies_the_layers_compute_in() -> None:
    import keras

    from occlude.model.predict import model_precision, with_precision

    L = keras.layers
    inner_in = keras.Input((*SIZE, 3))
    inner = keras.Model(inner_in, L.Conv2D(4, 3, dtype="mixed_float16")(inner_in), name="inner")
    inputs = keras.Input((*SIZE, 3))
    x = L.GlobalAveragePooling2D(dtype="mixed_float16")(inner(inputs))
    x = L.Dense(4, dtype="mixed_float16")(x)
    model = keras.Model(inputs, L.Activation("softmax", dtype="float32")(x))
    assert model_precision(model) == "mixed_float16+float32"  # three layers to one
    half = with_precision(model, "bfloat16")  # nested models' layers too
    assert model_precision(half) == "mixed_bfloat16"
    assert half.get_layer("inner").layers[1].dtype_policy.name == "mixed_bfloat16"
    assert model_precision(model) == "mixed_float16+float32"  # the original is untouched


def test_precision_float16_runs_a_trusted_lambda_model(tmp_path: Path, capsys, monkeypatch) -> None:
    import keras

    L = keras.layers
    inputs = keras.Input((*SIZE, 3))
    x = L.Lambda(lambda t: t / 127.5 - 1.0)(inputs)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    model = randomize(keras.Model(inputs, L.Dense(4)(L.GlobalAveragePooling2D()(x))))
    model.save(tmp_path / "lambda.keras")
    image = tmp_path / "p.png"
    Image.fromarray(((pattern_image(*SIZE) + 1) * 127.5).astype(np.uint8)).save(image)
    common = ("sensitivity", image, "-m", tmp_path / "lambda.keras", "--unsafe-model", *SCALES,
              "--save-npy", "--json", "-", "-q")  # fmt: skip
    ref = run_main(capsys, *common, "-o", tmp_path / "f32")
    half = run_main(capsys, *common, "-o", tmp_path / "f16", "--precision", "float16")
    assert (ref.code, half.code) == (0, 0), half.stderr
    assert json.loads(half.stdout)[0]["precision"] == "mixed_float16"
    a, b = np.load(tmp_path / "f32" / "p.npy"), np.load(tmp_path / "f16" / "p.npy")
    assert not np.array_equal(a, b) and np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9

    def cannot(*args: object) -> None:
        raise ValueError("Lambda cannot be rebuilt\n  (a long Keras message)")

    monkeypatch.setattr("occlude.model.loading.with_precision", cannot)
    res = run_main(capsys, *common, "-o", tmp_path / "bad", "--precision", "float16")
    assert res.code == 1 and "Traceback" not in res.stdout + res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("occlude: error: ") and "lambda.keras" in lines[0]
    assert "cannot compute in float16 (Lambda cannot be rebuilt (a long Keras message))" in lines[0]
