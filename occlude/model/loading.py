"""Loading classifiers: keras.applications by name (ImageNet weights, offline files) or
model files in Keras's safe mode, checked for one image input and one score output."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from occlude.checks import check_int
from occlude.classes import IMAGENET_CLASSES, imagenet_names
from occlude.errors import ModelError, OccludeError, UsageError
from occlude.model.backend import keras, quiet_native
from occlude.model.predict import compile_predictor, model_precision, with_precision
from occlude.text import shown
from occlude.zoo import (
    APPLICATIONS,
    application_name,
    check_class_names,
    check_model_spec,
    describe_model,
    is_model_file,
    random_weights,
)
from occlude.zoo import resolve_preprocess as _resolve_preprocess


@dataclass
class Classifier:
    """A loaded Keras classifier with what occlusion needs to know about it."""

    name: str
    model: Any
    input_size: tuple[int, int]
    preprocess: str
    weights: str
    n_classes: int
    class_names: list[str] | None
    fixed_batch: int | None = None
    precision: str = "float32"
    _predictors: dict[int, Callable[[np.ndarray], np.ndarray]] = field(
        default_factory=dict, repr=False
    )

    @property
    def label(self) -> str:
        """The model as titles name it (``ResNet50 (random weights, seed 0)``)."""
        return describe_model(self.name, self.weights)

    def class_name(self, index: int) -> str | None:
        return self.class_names[index] if self.class_names is not None else None

    @property
    def imagenet_names(self) -> bool:
        """Whether classes may be named (ImageNet's names: the only ones occlude knows)."""
        return self.class_names is not None

    def predictor(self, batch_size: int) -> Callable[[np.ndarray], np.ndarray]:
        """``predict(batch) -> scores`` compiled once for a fixed (batch_size, H, W, 3) shape.

        Smaller batches are padded and larger ones split, so the graph is traced once. A
        model saved with a fixed batch size always runs at that size.
        """
        batch_size = self.fixed_batch or batch_size
        if batch_size not in self._predictors:
            with quiet_native():
                self._predictors[batch_size] = compile_predictor(
                    self.model, self.preprocess, self.input_size, self.n_classes, batch_size
                )
        return self._predictors[batch_size]

    @property
    def compiled_batches(self) -> set[int]:
        """The batch sizes :meth:`predictor` has compiled so far."""
        return set(self._predictors)

    def window_scorer(self, batch_size: int = 32, approx: float = 1.0) -> Any:
        """An :class:`~occlude.model.incremental_scorer.IncrementalScorer` for
        ``occlusion_sensitivity``'s ``scorer``: windows recomputed only where a patch changes
        them (``approx`` < 1 caps the regions)."""
        from occlude.model.incremental_scorer import IncrementalScorer

        return IncrementalScorer(self, batch_size, approx)

    @property
    def backend(self) -> str:
        return str(keras().backend.backend())


def load_classifier(
    spec: str = "resnet50",
    weights: str | None = None,
    preprocess: str | None = None,
    safe: bool = True,
    precision: str = "float32",
    class_names: str | None = None,
    seed: int = 0,
) -> Classifier:
    """Load a keras.applications model by name, or a ``.keras``/``.h5`` model file.

    Args:
        spec: model name (case-insensitive, ``resnet50``, ``mobilenet_v2`` ...) or a file.
        weights: ``imagenet`` (default for names: downloaded once into Keras's cache),
            ``none`` (random initialisation drawn from ``seed``: the classifier's
            ``weights`` is then ``random(seed=N)``) or a weights file; for a model file,
            ``None`` keeps the file's own weights.
        preprocess: ``none``, ``caffe``, ``tf``, ``torch`` or a family name; default: the
            named model's own preprocessing, and ``none`` (raw 0-255) for model files.
        safe: load model files with Keras's safe mode, refusing Lambda layers that would
            run arbitrary code.
        precision: ``float32`` (as the model is), ``bfloat16`` or ``float16`` (mixed
            precision: faster on some models and CPUs, at a cost in fidelity). The
            classifier's ``precision`` is what the model then computes in (see
            :func:`~occlude.model.predict.model_precision`): ``mixed_bfloat16`` for
            ``bfloat16``, or the file's own policy (``mixed_float16`` ...) for ``float32``.
        class_names: ``imagenet`` names the 1,000 outputs of a model file after
            ImageNet's classes; keras.applications models have those names anyway, and a
            model file has none without it (its 1,000 outputs may be other classes).
        seed: the seed of random weights (``weights="none"``): the same seed gives the
            same weights on a backend.

    Raises:
        UsageError: unknown name, missing file, unknown preprocessing, class names for a
            model without 1,000 outputs.
        ModelError: the weights or the model could not be loaded.
    """
    check_model_spec(spec)
    check_class_names(class_names)
    seed = check_int(seed, "seed", least=0)
    if preprocess is not None:
        preprocess = _resolve_preprocess(preprocess)
    if is_model_file(spec):
        model, weights_used = _load_file(Path(spec), weights, safe)
        name, mode = spec, preprocess or "none"
    else:
        app = application_name(spec)
        assert app is not None
        model, weights_used = _load_application(app, weights, seed)
        name, mode = app, preprocess or APPLICATIONS[app]
    default = None if is_model_file(spec) else APP_SIZE
    return _classifier(name, model, mode, weights_used, precision, default,
                       class_names, not is_model_file(spec), safe)  # fmt: skip


def wrap_model(
    model: Any, preprocess: str | None = None, precision: str = "float32",
    class_names: str | None = None,
) -> Classifier:  # fmt: skip
    """A Keras model already in memory as a :class:`Classifier` (``weights`` reads
    ``in-memory``; ``preprocess`` defaults to ``none``: raw 0-255 pixels; its classes have
    ImageNet's names only with ``class_names="imagenet"``, as a model file's).

    Raises:
        ModelError: not one image input (batch, H, W, 3) of fixed size and one score output.
    """
    check_class_names(class_names)
    mode = "none" if preprocess is None else _resolve_preprocess(preprocess)
    return _classifier(str(getattr(model, "name", "model")), model, mode, "in-memory", precision,
                       class_names=class_names)  # fmt: skip


def _classifier(
    name: str, model: Any, mode: str, weights: str, precision: str,
    default_size: tuple[int, int] | None = None, class_names: str | None = None,
    application: bool = False, safe: bool = True,
) -> Classifier:  # fmt: skip
    """``application``: a keras.applications model (ImageNet's names without asking)."""
    input_size, n_classes = _check_io(name, model, default_size)
    if class_names == "imagenet" and n_classes != IMAGENET_CLASSES:
        raise UsageError(f"class_names=imagenet names {IMAGENET_CLASSES} outputs; {shown(name)} "
                         f"has {n_classes}", "class_names=")  # fmt: skip
    named = class_names == "imagenet" or application
    names = imagenet_names() if named and n_classes == IMAGENET_CLASSES else None
    batch = model.inputs[0].shape[0]
    fixed = int(batch) if batch is not None else None
    model = _with_precision(name, model, precision, safe)
    return Classifier(name, model, input_size, mode, weights, n_classes, names, fixed,
                      model_precision(model))  # fmt: skip


def _with_precision(name: str, model: Any, precision: str, safe: bool) -> Any:
    try:
        with quiet_native():
            return with_precision(model, precision, safe)
    except OccludeError:
        raise
    except Exception as exc:  # a layer Keras cannot rebuild under another dtype policy
        raise ModelError(f"{shown(name)}: cannot compute in {precision} ({_short(exc)})") from None


@contextlib.contextmanager
def _no_download_chatter(k: Any) -> Iterator[None]:
    """Keras prints "Downloading data from <url>" before it tries: keep errors one line."""
    k.config.disable_interactive_logging()
    try:
        yield
    finally:
        k.config.enable_interactive_logging()


def _weights_arg(weights: str | None) -> str | None:
    if weights is None or weights.lower() == "imagenet":
        return "imagenet"
    if weights.lower() == "none":
        return None
    path = Path(weights)
    if not path.is_file():
        raise UsageError(f"{shown(weights)}: weights file not found (or give imagenet or none)")
    return str(path)


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Keras's unseeded initialisers draw their seeds from Python's ``random``: seed it
    for one model build, and give it back its state afterwards."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def _load_application(app: str, weights: str | None, seed: int = 0) -> tuple[Any, str]:
    k = keras()
    ctor = getattr(k.applications, app)
    arg = _weights_arg(weights)
    seeded = _seeded(seed) if arg is None else contextlib.nullcontext()
    try:
        with quiet_native(), _no_download_chatter(k), seeded:
            model = ctor(weights=arg)
    except Exception as exc:
        if arg == "imagenet" and "URL fetch failure" in str(exc):
            reason = _short(" ".join(str(exc).split()).rsplit("--", 1)[-1].strip())
            raise ModelError(
                f"{app}: cannot download its ImageNet weights ({reason}). Offline, pass "
                f"weights=FILE (a {app} weights file, e.g. copied from ~/.keras/models on a "
                "connected machine) or model=FILE.keras",
                ("weights=", "model="),
            ) from None
        source = "its ImageNet weights" if arg == "imagenet" else f"{weights} as weights"
        raise ModelError(f"{app}: cannot load {source} ({_short(exc)})") from None
    return model, random_weights(seed) if arg is None else arg


def _load_file(path: Path, weights: str | None, safe: bool) -> tuple[Any, str]:
    if not path.is_file():
        raise UsageError(f"{shown(path)}: model file not found")
    if weights is not None and weights.lower() == "imagenet":
        raise UsageError(
            f"weights=imagenet applies to keras.applications names; {shown(path)} has its "
            "own weights",
            "weights=",
        )
    k = keras()
    try:
        with quiet_native():
            if safe and path.suffix.lower() in (".h5", ".hdf5"):
                _refuse_legacy_lambda(path)
            model = k.saving.load_model(str(path), compile=False, safe_mode=safe)
    except ModelError:
        raise
    except Exception as exc:
        text = _short(exc)
        if safe and ("safe_mode" in text or "Lambda" in text):
            raise ModelError(
                f"{shown(path)}: refused: it contains code (a Lambda layer) that would run on "
                "loading; pass safe=False if you trust this file",
                ("safe=False",),
            ) from None
        raise ModelError(f"{shown(path)}: cannot load as a Keras model ({text})") from None
    used = str(path)
    if weights is not None:
        arg = _weights_arg(weights)
        if arg is not None:
            try:
                model.load_weights(arg)
            except Exception as exc:
                raise ModelError(
                    f"{shown(weights)}: cannot load into {shown(path)} ({_short(exc)})"
                ) from None
            used = arg
    return model, used


def _refuse_legacy_lambda(path: Path) -> None:
    """Legacy HDF5 models store their config as JSON: refuse Lambda layers before loading."""
    import h5py

    with h5py.File(path, "r") as handle:
        config = handle.attrs.get("model_config")
    if isinstance(config, bytes):
        config = config.decode("utf-8", "replace")
    if isinstance(config, str) and '"class_name": "Lambda"' in config:
        raise ModelError(
            f"{shown(path)}: refused: it contains code (a Lambda layer) that would run on "
            "loading; pass safe=False if you trust this file",
            ("safe=False",),
        )


APP_SIZE = (224, 224)
"""Input size for keras.applications models built without a fixed one (MobileNetV3)."""


def _check_io(
    name: str, model: Any, default: tuple[int, int] | None = None
) -> tuple[tuple[int, int], int]:
    inputs = getattr(model, "inputs", None) or []
    outputs = getattr(model, "outputs", None) or []
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(
            f"{name}: needs one image input and one score output; it has "
            f"{len(inputs)} inputs and {len(outputs)} outputs"
        )
    shape = tuple(inputs[0].shape)
    if len(shape) != 4 or shape[3] != 3:
        raise ModelError(f"{name}: input shape {shape} is not (batch, height, width, 3)")
    if shape[1] is None or shape[2] is None:
        if default is None:
            raise ModelError(f"{name}: input size {shape[1:3]} is not fixed; save it with one")
        return default, _n_classes(name, outputs[0])
    return (int(shape[1]), int(shape[2])), _n_classes(name, outputs[0])


def _n_classes(name: str, output: Any) -> int:
    out_shape = tuple(output.shape)
    n_classes = 1
    for dim in out_shape[1:]:
        n_classes *= int(dim) if dim is not None else 0
    if n_classes < 1:
        raise ModelError(f"{name}: output shape {out_shape} is not (batch, classes)")
    return n_classes


def _short(exc: BaseException | str) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
