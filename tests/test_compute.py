"""--compute and --approx through the command line: the same maps, chosen per scale, stated."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from support.cli import invoke

from occlude.incremental import Estimate


def conv_net(path: Path) -> Path:
    """A small convolutional classifier with He-scaled random weights (its scores move
    when a patch moves), on 64x64 inputs."""
    import keras

    rng = np.random.default_rng(0)
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    for filters, stride in ((8, 1), (16, 2), (16, 1), (32, 2)):
        x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(4)(x))
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            kernel, bias = weights
            fan_in = int(np.prod(kernel.shape[:-1]))
            layer.set_weights([rng.normal(0, np.sqrt(2 / fan_in), kernel.shape),
                               rng.normal(0, 0.01, bias.shape)])  # fmt: skip
    model.save(path)
    return path


def flat_net(path: Path) -> Path:
    """A model that looks at the whole image at once: nothing to gain."""
    import keras

    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    keras.Model(inputs, keras.layers.Dense(3)(x)).save(path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compute")
    conv_net(root / "conv.keras")
    flat_net(root / "flat.keras")
    y, x = np.mgrid[0:64, 0:64]
    rgb = np.stack([x * 4, y * 4, (x * y) % 256], axis=2).astype(np.uint8)
    Image.fromarray(rgb).save(root / "p.png")
    return root


def run(models: Path, out: Path, *args: str):  # type: ignore[no-untyped-def]
    res = invoke("sensitivity", models / "p.png", "-m", models / "conv.keras", "-p", "8,64",
                 "-s", "4,64", "--save-npy", "-o", out, "--json", "-", "-q", *args)  # fmt: skip
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)[0], np.load(out / "p.npy")


@pytest.mark.slow
def test_every_mode_gives_the_same_map(models: Path, tmp_path: Path, monkeypatch) -> None:
    full, full_map = run(models, tmp_path / "full", "--compute", "full")
    inc, inc_map = run(models, tmp_path / "inc", "--compute", "incremental")
    # one image of a tiny model never repays compiling the tiles: auto runs it in full
    alone, alone_map = run(models, tmp_path / "alone")
    assert alone["compute"] == "full" and alone["settings"]["compute"] == "auto"
    np.testing.assert_array_equal(alone_map, full_map)
    monkeypatch.setattr("occlude.sensitivity.compute.COMPILE_MACS", 0.0)  # compiling is free
    auto, auto_map = run(models, tmp_path / "auto")
    peak = float(np.abs(full_map).max())
    assert peak > 1e-3  # the map is not flat, so equality means something
    for other in (inc_map, auto_map):
        assert np.abs(other - full_map).max() <= 1e-5 * peak
    assert (full["compute"], full["macs_fraction"]) == ("full", 1.0)
    assert inc["compute"] == "incremental" and 0 < inc["macs_fraction"] < 1
    # auto: the 8 px scale pays, the whole-image one (a single 64 px window) does not
    assert auto["compute"] == "incremental+full"
    assert inc["macs_fraction"] <= auto["macs_fraction"] < 1
    assert auto["settings"]["compute"] == "auto" and inc["approx"] == 1.0


@pytest.mark.slow
def test_approx_is_recorded_and_one_is_exact(models: Path, tmp_path: Path) -> None:
    _, exact = run(models, tmp_path / "exact", "--compute", "incremental")
    one, one_map = run(models, tmp_path / "one", "--approx", "1", "--compute", "incremental")
    np.testing.assert_array_equal(one_map, exact)
    rec, approx_map = run(models, tmp_path / "half", "--approx", "0.5")
    assert rec["approx"] == 0.5 and rec["compute"] == "incremental"
    assert rec["macs_fraction"] < one["macs_fraction"]
    assert not np.allclose(approx_map, exact, atol=0)
    assert np.corrcoef(approx_map.ravel(), exact.ravel())[0, 1] > 0.5


def test_a_model_with_nothing_to_gain_says_so_and_runs_full(models: Path, tmp_path) -> None:
    res = invoke("sensitivity", models / "p.png", "-m", models / "flat.keras", "-p", "16",
                 "--compute", "incremental", "-o", tmp_path / "o", "--json", "-", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.stderr.splitlines() if line.startswith("occlude: warning")]
    assert len(warnings) == 1 and "has nothing to gain" in warnings[0]
    assert warnings[0].endswith("running full")
    assert json.loads(res.stdout)[0]["compute"] == "full"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--compute", "full", "--approx", "0.5"], "--approx needs --compute incremental or auto"),
        (["--compute", "incremental", "--precision", "bfloat16"],
         "--compute incremental and --approx need --precision float32"),
    ],
)  # fmt: skip
def test_contradictory_choices_are_usage_errors(models: Path, tmp_path, args, message) -> None:
    res = invoke("sensitivity", models / "p.png", "-m", models / "conv.keras", "-o",
                 tmp_path / "o", *args)  # fmt: skip
    assert res.exit_code == 2 and message in res.stderr


@pytest.mark.slow
def test_python_incremental_true_matches_full(models: Path) -> None:
    """``incremental=True`` with ``clf.window_scorer`` scores every scale incrementally and
    gives the map ``predict`` gives."""
    from occlude.model.loading import load_classifier
    from occlude.sensitivity.core import occlusion_sensitivity

    clf = load_classifier(str(models / "conv.keras"))
    image = np.asarray(Image.open(models / "p.png"), dtype=np.float32)
    kwargs = dict(patch_sizes=[8, 16], strides=[4, 8], class_index=1, batch_size=7)
    full = occlusion_sensitivity(image, clf.predictor(7), **kwargs)  # type: ignore[arg-type]
    scorer = clf.window_scorer(7)
    sessions = []
    session = scorer.session
    scorer.session = lambda img: sessions.append(1) or session(img)  # type: ignore[method-assign]
    inc = occlusion_sensitivity(image, clf.predictor(7), scorer=scorer, incremental=True,
                                **kwargs)  # type: ignore[arg-type]  # fmt: skip
    assert sessions  # the windows really were scored incrementally
    for a, b in zip(full.scale_maps, inc.scale_maps, strict=True):
        assert float(np.abs(a).max()) > 1e-3
        np.testing.assert_allclose(b, a, atol=1e-4 * float(np.abs(a).max()))
    sessions.clear()
    none = occlusion_sensitivity(image, clf.predictor(7), scorer=scorer, incremental=False,
                                 **kwargs)  # type: ignore[arg-type]  # fmt: skip
    assert not sessions
    np.testing.assert_array_equal(none.map, full.map)


class _Scorer:
    """A stand-in for IncrementalScorer: 10 graph nodes, half the multiply-adds at every scale."""

    engine = SimpleNamespace(fallback=None, specs=[None] * 10)

    def estimate(self, patch: int) -> Estimate:
        return Estimate(patch=(patch, patch), macs_fraction=0.5, full_macs=10**9,
                        switch_layer=None, worth_it=True)  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "images", "chosen"),
    [("auto", 1, set()), ("auto", 2, {8}), ("auto", 4, {8, 16}), ("incremental", 1, {8, 16})],
)
def test_auto_runs_a_scale_incrementally_once_the_run_repays_its_compilation(
    mode: str, images: int, chosen: set[int], monkeypatch
) -> None:
    from occlude.sensitivity.compute import decide

    # saving: images x windows x 0.5 x 1e9 multiply-adds; cost: COMPILE_MACS x 10 nodes
    monkeypatch.setattr("occlude.sensitivity.compute.COMPILE_MACS", 0.8e9)  # pays from 16 on
    plan = decide(mode, 1.0, "float32", _Scorer(), {8: 12, 16: 4}, "m", images=images)
    assert plan.incremental == chosen
    assert plan.macs_fraction([8, 16], [12, 4]) == pytest.approx(
        sum((0.5 if p in chosen else 1.0) * n for p, n in ((8, 12), (16, 4))) / 16
    )


@pytest.mark.slow
def test_shards_decide_as_the_whole_run(models: Path, tmp_path: Path, monkeypatch) -> None:
    """auto counts every input of the run, so a shard computes what the unsharded run does
    (the same bytes), even when its own share of images would not repay compiling."""
    from occlude.model.loading import load_classifier

    scorer = load_classifier(str(models / "conv.keras")).window_scorer(32)
    est = scorer.estimate(8)
    one_image = 225 * (1 - est.macs_fraction) * est.full_macs / len(scorer.engine.specs)
    monkeypatch.setattr("occlude.sensitivity.compute.COMPILE_MACS", 1.5 * one_image)
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a", "d"):  # shard 1/2 and shard 2/2: one image each
        (src / f"{name}.png").write_bytes((models / "p.png").read_bytes())
    args = ("-m", models / "conv.keras", "-p", "8", "-s", "4", "--json", "-", "-q")
    whole = invoke("sensitivity", src, "-o", tmp_path / "whole", *args)
    records = [json.loads(invoke("sensitivity", src, "-o", tmp_path / "sharded", "--shard",
                                 f"{i}/2", *args).stdout) for i in (1, 2)]  # fmt: skip
    assert whole.exit_code == 0, whole.output
    assert {r["compute"] for r in json.loads(whole.stdout)} == {"incremental"}
    assert sorted(Path(r["input"]).name for part in records for r in part) == ["a.png", "d.png"]
    assert [len(part) for part in records] == [1, 1]
    assert {r["compute"] for part in records for r in part} == {"incremental"}
    alone = invoke("sensitivity", src / "a.png", "-o", tmp_path / "alone", *args)
    assert json.loads(alone.stdout)[0]["compute"] == "full"  # one image alone does not pay
