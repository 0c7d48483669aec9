"""``occlude.OcclusionSensitivity`` and its results: many images in one call, every kind of
model, several classes from the same model calls, no compiling twice, and results that
save exactly what ``occlude sensitivity`` writes."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from kerasmodels import red_image
from PIL import Image
from support.children import run
from support.cli import files, ok

import occlude
from occlude import OcclusionSensitivity, SensitivityResult, UsageError
from occlude.imageio import read_rgb, resize_rgb

BOX = (8, 4, 28, 20)
"""Where the red object is in ``kite.png`` (x0, y0, x1, y1)."""


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three images of different sizes: a red object top-left, one bottom-right, none."""
    root = tmp_path_factory.mktemp("photos")
    Image.fromarray(red_image((64, 96), (8, 4, 28, 20))).save(root / "kite.png")
    Image.fromarray(red_image((45, 30), (15, 25, 28, 40))).save(root / "stop.png")
    Image.fromarray(red_image((40, 40), None)).save(root / "field.jpg", quality=95)
    return root


@pytest.fixture(scope="module")
def explainer(model_file: Path) -> OcclusionSensitivity:
    return OcclusionSensitivity(str(model_file))


def redness(batch: np.ndarray) -> np.ndarray:
    """A two-class "model": the mean red excess of each image, and its complement."""
    red = np.maximum(batch[..., 0] - (batch[..., 1] + batch[..., 2]) / 2, 0).mean(axis=(1, 2))
    score = red / 255.0
    return np.stack([score, 1.0 - score], axis=1)


def counted(predict):  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def model(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        return predict(batch)

    return model, calls


# --- many images, one call --------------------------------------------------------------


def test_a_list_equals_separate_calls(explainer: OcclusionSensitivity, photos: Path) -> None:
    paths = [photos / "kite.png", photos / "stop.png", photos / "field.jpg"]
    together = explainer.explain(paths)
    assert isinstance(together, list) and len(together) == 3
    for path, result in zip(paths, together, strict=True):
        alone = explainer.explain(path)
        assert isinstance(result, SensitivityResult) and isinstance(alone, SensitivityResult)
        assert result.name == path.name and result.source == path
        assert result.map.shape == (32, 48) and result.original.shape[:2] != (32, 48)
        assert result.class_index == alone.class_index
        peak = float(np.abs(alone.map).max())
        assert peak > 1e-3 or path.name == "field.jpg"  # equality means something
        np.testing.assert_allclose(result.map, alone.map, atol=1e-5 * peak + 1e-7)
        for a, b in zip(result.scale_maps, alone.scale_maps, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5 * peak + 1e-7)
    # each image resized as the command line resizes it, and its own top-1 class
    np.testing.assert_array_equal(together[0].image, resize_rgb(read_rgb(paths[0]), (32, 48)))
    assert [r.class_index for r in together] == [0, 0, 1]
    # an array, a PIL image and a stack of arrays give the same maps as the file
    pixels = read_rgb(paths[0])
    for same in (pixels, Image.open(paths[0]), pixels.astype(np.float32)):
        np.testing.assert_array_equal(explainer.explain(same).map, together[0].map)
    (first, second) = explainer.explain(np.stack([pixels, pixels]))
    assert (first.name, second.name) == ("image_0", "image_1")
    np.testing.assert_allclose(first.map, second.map, atol=1e-6)


def test_windows_of_several_images_share_model_calls() -> None:
    model, calls = counted(redness)
    explainer = OcclusionSensitivity(model, patch_sizes=[8])  # 4 windows in a 16x16 image
    images = [red_image((16, 16), (0, 0, 6 + i, 6)) for i in range(3)]
    results = explainer.explain(images)
    assert calls == [15]  # 3 images x (4 windows + the plain image): one batch
    calls.clear()
    for image, result in zip(images, results, strict=True):
        alone = explainer.explain(image)
        np.testing.assert_allclose(alone.map, result.map, atol=1e-12)
    assert calls == [5, 5, 5]
    calls.clear()
    explainer.explain([*images, red_image((20, 12), None)])  # sizes apart: a callable's own
    assert calls == [15, 7]  # the 20x12 image has 6 windows


def test_several_targets_cost_no_extra_model_calls() -> None:
    model, calls = counted(redness)
    explainer = OcclusionSensitivity(model, patch_sizes=[4, 8])
    image = red_image((16, 16), (2, 2, 9, 7))
    one = explainer.explain(image, targets=0)
    spent = list(calls)
    calls.clear()
    both = explainer.explain(image, targets=[0, 1])
    assert calls == spent  # the same calls give every class's scores
    assert [r.class_index for r in both] == [0, 1]
    np.testing.assert_array_equal(both[0].map, one.map)
    np.testing.assert_allclose(both[1].map, -one.map, atol=1e-6)  # score 1 = 1 - score 0
    calls.clear()
    top = explainer.explain([image, red_image((16, 16), None)], top_k=2)
    assert calls == spent * 2  # two images, two classes each: one class's calls per image
    assert [[r.class_index for r in rs] for rs in top] == [[1, 0], [1, 0]]
    assert top[0][0].base_score >= top[0][1].base_score
    numpy_k = explainer.explain(image, top_k=np.int64(2))  # a NumPy int is an int
    assert [r.class_index for r in numpy_k] == [1, 0]
    # one target for every image, or one per image
    per = explainer.explain([image, image], targets=[0, [1, 0]])
    assert isinstance(per[0], SensitivityResult) and [r.class_index for r in per[1]] == [1, 0]


def test_a_second_explain_compiles_nothing(model_file: Path, photos: Path, monkeypatch) -> None:
    """Count traces: the predictor's preprocessing and the engine's functions run in
    Python only while the backend traces them."""
    import occlude.incremental.engine as engine
    import occlude.model.predict as predict
    from occlude.incremental.engine import EAGER_CLEAN_PASSES

    traces: list[str] = []
    real_pre, real_compile = predict.preprocess_fn, engine.compile_fn

    def counting_pre(mode: str):  # type: ignore[no-untyped-def]
        fn = real_pre(mode)
        return lambda x: traces.append("predictor") or fn(x)

    def counting_compile(fn):  # type: ignore[no-untyped-def]
        return real_compile(lambda *a: traces.append("engine") or fn(*a))

    monkeypatch.setattr(predict, "preprocess_fn", counting_pre)
    monkeypatch.setattr(engine, "compile_fn", counting_compile)
    paths = [photos / "kite.png", photos / "stop.png"]
    for compute in ("full", "incremental"):
        explainer = OcclusionSensitivity(str(model_file), patch_sizes=[8, 16], compute=compute)
        traces.clear()
        # More images than EAGER_CLEAN_PASSES: the engine's clean pass is compiled by then.
        first = explainer.explain(paths * (EAGER_CLEAN_PASSES // 2 + 1))
        assert traces and (compute == "full") == ("engine" not in traces), traces
        traces.clear()
        again = explainer.explain(paths[::-1])
        assert traces == [], (compute, traces)
        np.testing.assert_allclose(again[1].map, first[0].map, atol=1e-6)


# --- what the command line writes --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "target", "outputs"),
    [
        ([], None, {}),
        (["-c", "0", "--save-npy", "--expect-box", ",".join(map(str, BOX)), "--metrics",
          "--steps", "5", "--animate", "--fill", "black"], 0,
         {"save_npy": True, "expect_box": BOX, "metrics": True, "steps": 5, "animate": True}),
    ],
)  # fmt: skip
def test_save_writes_the_clis_files_and_to_dict_is_its_record(
    model_file: Path, photos: Path, tmp_path: Path, args, target, outputs
) -> None:
    image, out = photos / "kite.png", tmp_path / "out"
    fill = "black" if "--fill" in args else "grey"
    ok("sensitivity", image, "-m", model_file, "-o", out, "-q", *args)
    cli = files(out)
    shutil.rmtree(out)
    result = OcclusionSensitivity(str(model_file), fill=fill).explain(image, target)
    record = result.save(out, **outputs)
    assert files(out) == cli  # same names, same bytes (the runner's state aside)
    assert record == json.loads(cli["kite.json"]) == result.to_dict(out, **outputs)
    assert result._repr_png_() == cli["kite.png"]  # what a notebook shows is the heatmap
    if outputs:
        assert result.focus(BOX) == record["focus"] > 0.3
        assert (
            result.deletion_insertion(steps=5).summary()["deletion_auc"] == (record["deletion_auc"])
        )
    no_paths = result.to_dict()
    assert "outputs" not in no_paths and no_paths["map_max"] == record["map_max"]


def test_results_draw_themselves(explainer: OcclusionSensitivity, photos: Path, tmp_path) -> None:
    result = explainer.explain(photos / "kite.png")
    assert type(result.plot()).__name__ == "Figure"
    assert type(result.plot("scales", metrics=True)).__name__ == "Figure"
    animation = result.animate(tmp_path / "sweep.gif", scale=5)
    assert animation.patch == 5 and (tmp_path / "sweep.gif").stat().st_size > 0
    mask = np.zeros((64, 96), bool)
    mask[4:20, 8:28] = True
    assert result.focus(mask) == pytest.approx(result.focus(BOX))
    assert "kite.png" in repr(result) and "class 0" in repr(result)
    with pytest.raises(UsageError, match="kind must be heatmap or scales"):
        result.plot("bars")


def test_save_never_writes_onto_its_input(explainer: OcclusionSensitivity, tmp_path) -> None:
    photo = tmp_path / "kite.png"
    Image.fromarray(red_image((64, 96), (8, 4, 28, 20))).save(photo)
    before = photo.read_bytes()
    result = explainer.explain(photo)
    with pytest.raises(UsageError, match="output would overwrite the input"):
        result.save(tmp_path)
    assert photo.read_bytes() == before and not (tmp_path / "kite.json").exists()


# --- every kind of model -----------------------------------------------------------------


def test_a_keras_model_a_file_and_a_callable_agree(model_file: Path, photos: Path) -> None:
    import keras

    image = read_rgb(photos / "stop.png")
    from_file = OcclusionSensitivity(str(model_file)).explain(image)
    in_memory = keras.saving.load_model(model_file)
    from_object = OcclusionSensitivity(in_memory).explain(image)
    np.testing.assert_allclose(from_object.map, from_file.map, atol=1e-7)
    assert from_object.to_dict()["weights"] == "in-memory"
    # a callable gets each image at its own size (it preprocesses and resizes itself)
    predict = lambda batch: in_memory.predict(batch, verbose=0)  # noqa: E731
    from_callable = OcclusionSensitivity(predict).explain(resize_rgb(image, (32, 48)))
    np.testing.assert_allclose(from_callable.map, from_file.map, atol=1e-5)
    assert from_callable.class_index == from_file.class_index


def test_a_zoo_name_with_random_weights() -> None:
    explainer = OcclusionSensitivity("mobilenet_v3_small", weights="none", patch_sizes=[112])
    result = explainer.explain(red_image((100, 150), (10, 10, 60, 60)), targets="tabby")
    assert result.map.shape == (224, 224) and result.windows == 4
    assert (result.class_index, result.class_name) == (281, "tabby")
    assert result.to_dict()["settings"]["weights"] == "random(seed=0)"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda m: OcclusionSensitivity(42), "model must be a keras.Model"),
        (lambda m: OcclusionSensitivity(redness, compute="incremental"), "need a Keras model"),
        (lambda m: OcclusionSensitivity(redness, preprocess="caffe"), "a callable does its own"),
        (lambda m: OcclusionSensitivity("nonet"), "unknown model 'nonet'"),
        (lambda m: OcclusionSensitivity(redness, patch_sizes=[0]), "patch_sizes must be positive"),
        (lambda m: OcclusionSensitivity(m).explain(np.zeros((8, 8, 3)), targets=[0, 1, 2]),
         "targets 2 is out of range"),
        (lambda m: OcclusionSensitivity(m).explain([np.zeros((8, 8, 3))] * 2, targets=[0, 1, 0]),
         "received 3 for 2 images"),
        (lambda m: OcclusionSensitivity(m).explain(np.zeros((8, 8, 3)), targets=0, top_k=1),
         "give targets or top_k, not both"),
        (lambda m: OcclusionSensitivity(m).explain(np.zeros((8, 8, 5))), "must be H×W×3"),
        (lambda m: OcclusionSensitivity(m).explain([]), "images is empty"),
        (lambda m: OcclusionSensitivity(m).explain(np.zeros((8, 8)), names=["../x"]),
         "is not a file name"),
    ],
)  # fmt: skip
def test_bad_arguments_are_usage_errors_naming_the_parameter(model_file, make, message) -> None:
    with pytest.raises(UsageError, match=message):
        make(str(model_file))


def test_importing_the_api_loads_nothing_heavy() -> None:
    code = (
        "import sys, occlude\n"
        "occlude.OcclusionSensitivity, occlude.SensitivityResult, occlude.load_classifier\n"
        "print(*(m in sys.modules for m in ('tensorflow', 'keras', 'jax', 'torch', "
        "'matplotlib')))\n"
    )
    done = run([sys.executable, "-c", code])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"] * 5
    assert {"OcclusionSensitivity", "SensitivityResult", "load_classifier"} <= set(dir(occlude))
