"""The keras.applications models occlude knows by name (a static table: no TensorFlow).

Checking a ``--model`` name against this table lets a typo fail in milliseconds; the
test suite checks that the table matches ``keras.applications``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from occlude.checks import check_int
from occlude.errors import UsageError

if TYPE_CHECKING:
    from occlude.model import Classifier

# constructor name in keras.applications -> module holding its preprocess_input
APPLICATIONS: dict[str, str] = {
    **{f"ConvNeXt{s}": "convnext" for s in ("Tiny", "Small", "Base", "Large", "XLarge")},
    **{f"DenseNet{n}": "densenet" for n in (121, 169, 201)},
    **{f"EfficientNetB{n}": "efficientnet" for n in range(8)},
    **{f"EfficientNetV2{s}": "efficientnet_v2" for s in ("B0", "B1", "B2", "B3", "S", "M", "L")},
    "InceptionResNetV2": "inception_resnet_v2",
    "InceptionV3": "inception_v3",
    "MobileNet": "mobilenet",
    "MobileNetV2": "mobilenet_v2",
    "MobileNetV3Large": "mobilenet_v3",
    "MobileNetV3Small": "mobilenet_v3",
    "NASNetLarge": "nasnet",
    "NASNetMobile": "nasnet",
    **{f"ResNet{n}": "resnet" for n in (50, 101, 152)},
    **{f"ResNet{n}V2": "resnet_v2" for n in (50, 101, 152)},
    "VGG16": "vgg16",
    "VGG19": "vgg19",
    "Xception": "xception",
}

BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("float32", "bfloat16", "float16")
SLOWER: dict[tuple[str, str], float] = {
    ("resnet", "bfloat16"): 0.62,
    ("vgg16", "bfloat16"): 0.64,
    ("mobilenet_v2", "bfloat16"): 0.63,
    ("efficientnet", "bfloat16"): 0.71,
}
"""(family, precision) measured slower than float32 (the speed ratio of the default sweep)
by bench/bench_backends.py on 2 CPU cores with AVX-512 BF16 and TensorFlow 2.21: the CLI
warns when one is chosen."""

# The generic modes of keras.applications.imagenet_utils.preprocess_input, plus none.
PREPROCESS_MODES = ("none", "caffe", "tf", "torch")
FAMILIES = tuple(sorted(set(APPLICATIONS.values())))


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


_BY_KEY = {_key(n): n for n in APPLICATIONS}


def application_name(name: str) -> str | None:
    """``"mobilenet_v2"`` -> ``"MobileNetV2"``; None when it is not a known model name."""
    return _BY_KEY.get(_key(name))


def resolve_preprocess(name: str) -> str:
    """Normalise a ``--preprocess`` value: a mode, a family module, or a model name."""
    key = name.strip().lower()
    if key in PREPROCESS_MODES:
        return key
    family = key.replace("-", "_")
    if family in FAMILIES:
        return family
    app = application_name(key)
    if app is not None:
        return APPLICATIONS[app]
    raise UsageError(
        f"unknown preprocess {name!r}; choose {', '.join(PREPROCESS_MODES)}, "
        f"a family ({', '.join(FAMILIES)}) or a model name",
        "preprocess",
    )


def is_model_file(spec: str) -> bool:
    return spec.lower().endswith((".keras", ".h5", ".hdf5"))


def check_model_spec(spec: str) -> None:
    """Fail fast (without TensorFlow) on an unknown model name."""
    if is_model_file(spec) or application_name(spec) is not None:
        return
    examples = "resnet50, resnet101, vgg16, mobilenet_v2, efficientnetb0, convnexttiny"
    raise UsageError(
        f"unknown model {spec!r}: give a keras.applications name ({examples}, ...) "
        "or a .keras/.h5 model file"
    )


CLASS_NAMES = ("imagenet",)
"""What ``class_names`` may name (None: a keras.applications model's own, else none)."""


def check_class_names(class_names: str | None) -> None:
    if class_names is not None and class_names not in CLASS_NAMES:
        raise UsageError(f"class_names must be one of {', '.join(CLASS_NAMES)}; received "
                         f"{class_names!r}", "class_names")  # fmt: skip


def random_weights(seed: int) -> str:
    """The name of the random weights drawn from ``seed`` (``weights="none"``), as settings,
    records and JSON carry it: the seed is part of the model's identity.

    >>> random_weights(0)
    'random(seed=0)'
    """
    return f"random(seed={seed})"


def describe_model(name: str, weights: object) -> str:
    """A model as titles and the report name it: random weights are said so.

    >>> describe_model("ResNet50", "random(seed=3)"), describe_model("ResNet50", "imagenet")
    ('ResNet50 (random weights, seed 3)', 'ResNet50')
    """
    found = re.fullmatch(r"random\(seed=(\d+)\)", weights) if isinstance(weights, str) else None
    return f"{name} (random weights, seed {found.group(1)})" if found else name


@dataclass(frozen=True)
class ModelSpec:
    """Which classifier to load, checked without TensorFlow; :meth:`load` loads it.

    ``model``: a keras.applications name or a model file; ``weights``: ``imagenet``,
    ``none`` or a weights file (None: the model's default); ``preprocess``: a mode, family
    or model name (None: the model's own); ``safe``: refuse model files that run code;
    ``class_names``: ``imagenet`` to give a model file with 1,000 outputs ImageNet's class
    names (keras.applications models have them; a model file has none unless asked, since
    1,000 outputs need not be ImageNet's classes).
    ``seed``: what ``weights="none"`` draws its random initialisation from (the same seed,
    the same weights).
    """

    model: str = "resnet50"
    weights: str | None = None
    preprocess: str | None = None
    safe: bool = True
    precision: str = "float32"
    backend: str | None = None
    class_names: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_model_spec(self.model)
        check_class_names(self.class_names)
        object.__setattr__(self, "seed", check_int(self.seed, "seed", least=0))
        if self.preprocess is not None:
            resolve_preprocess(self.preprocess)
        if self.precision not in PRECISIONS:
            raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}; received "
                             f"{self.precision!r}", "precision")  # fmt: skip
        if self.backend is not None:
            from occlude.model.backend import check_installed

            check_installed(self.backend)

    @property
    def model_file(self) -> str | None:
        return self.model if is_model_file(self.model) else None

    @property
    def weights_file(self) -> str | None:
        w = self.weights
        return w if w is not None and w.lower() not in ("imagenet", "none") else None

    def load(self) -> Classifier:
        """The loaded classifier (imports TensorFlow/Keras)."""
        from occlude.model import load_classifier, use_backend

        use_backend(self.backend)
        return load_classifier(self.model, self.weights, self.preprocess, safe=self.safe,
                               precision=self.precision,
                               class_names=self.class_names, seed=self.seed)  # fmt: skip

    def slower_note(self) -> str | None:
        """A warning when the precision was measured slower than float32 for this family."""
        app = application_name(self.model)
        family = APPLICATIONS.get(app, "") if app else ""
        ratio = SLOWER.get((family, self.precision))
        if ratio is None:
            return None
        return (f"{self.precision} was measured {ratio:.2f}x the speed of float32 for "
                f"{family} models on CPU (slower): it may not pay here")  # fmt: skip


@dataclass
class CallableModel:
    """A ``predict(batch) -> scores`` callable as a model: images at their own size,
    preprocessing and batching its own business, no class names (and the number of classes
    known only once it scores)."""

    predict: Callable[[Any], Any]
    name: str = "predict"
    weights: str | None = None
    preprocess: str = "none"
    precision: str = "float32"
    backend: str | None = None
    input_size: tuple[int, int] | None = None
    n_classes: int | None = None
    imagenet_names: bool = False

    def class_name(self, index: int) -> str | None:
        return None

    def predictor(self, batch_size: int) -> Callable[[Any], Any]:
        return self.predict


def any_model(
    model: Any,
    *,
    preprocess: str | None = None,
    precision: str = "float32",
    weights: str | None = None,
    safe: bool = True,
    class_names: str | None = None,
) -> tuple[Classifier | CallableModel, ModelSpec | None]:
    """What the Python API takes as ``model``: a keras.applications name or a model file (a
    :class:`ModelSpec`, loaded), a ``keras.Model`` in memory, or a ``predict(batch) ->
    scores`` callable. The settings apply where they can, and are refused where they
    cannot (a callable does its own preprocessing).
    """
    if isinstance(model, (str, os.PathLike)):
        spec = ModelSpec(os.fspath(model), weights, preprocess, safe, precision,
                         class_names=class_names)  # fmt: skip
        return spec.load(), spec
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(model, keras.Model):
        if weights is not None:
            raise UsageError("weights applies to a model name or file; a keras.Model has its "
                             "own", "weights")  # fmt: skip
        from occlude.model import wrap_model

        return wrap_model(model, preprocess, precision, class_names), None
    if callable(model):
        given = {
            "preprocess": preprocess is not None,
            "weights": weights is not None,
            "precision": precision != "float32",
            "class_names": class_names is not None,
        }
        if any(given.values()):
            names = tuple(k for k, v in given.items() if v)
            raise UsageError(f"{', '.join(names)}: apply to Keras models; a callable does its "
                             "own", names)  # fmt: skip
        name = getattr(model, "__name__", type(model).__name__)
        return CallableModel(model, str(name)), None
    raise UsageError(f"model must be a keras.Model, a keras.applications name, a model file "
                     f"or a predict(batch) -> scores callable; received {type(model).__name__}",
                     "model")  # fmt: skip
