"""What every occlude layer shares: backend switching, inputs, random keys, dtypes, config.

Like Keras's own image augmentation layers, a layer computes with ``self.backend``, which
is the TensorFlow backend inside a ``tf.data`` pipeline (whatever Keras's backend is) and
Keras's backend otherwise. Unlike them, it keeps the input dtypes (integer labels stay
integers until a mixer converts them) and draws nothing from shared mutable state when
seeded: each sample's randomness is a hash of the seed, the batch's pixels and the
sample's position (see :mod:`occlude.draws`).
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Self, cast

import keras
import numpy as np
from keras.src.utils import backend_utils, jax_utils, tracking

from occlude import checks
from occlude import draws as rnd
from occlude.augment.methods.base import Method, json_value
from occlude.errors import UsageError
from occlude.layers import _checks as chk

Tensor = Any
# Dict entries a layer reads; any other entry is passed through by the occluding layers.
IMAGES, LABELS, MASKS, SALIENCY = "images", "labels", "segmentation_masks", "saliency"


@dataclass(frozen=True)
class Batch:
    """One call's data, batched; ``dtype`` is the images' own (they are floats inside)."""

    images: Tensor
    dtype: str = "float32"
    labels: Tensor | None = None
    masks: Tensor | None = None
    saliency: Tensor | None = None
    extra: dict[str, Tensor] = field(default_factory=dict)

    def with_images(self, images: Tensor) -> Batch:
        return replace(self, images=images)


@dataclass(frozen=True)
class InputSpec:
    """An input entry's shape (None where unknown) and dtype, read without converting it."""

    shape: tuple[int | None, ...]
    dtype: str

    @classmethod
    def of(cls, x: Any) -> InputSpec:
        if not (hasattr(x, "shape") and hasattr(x, "dtype")):
            x = np.asarray(x)
        if getattr(x.shape, "rank", 0) is None:
            raise UsageError(f"inputs need a known rank; received a tensor of unknown shape {x}")
        shape = tuple(None if d is None else int(d) for d in tuple(x.shape))
        return cls(shape, keras.backend.standardize_dtype(x.dtype))


def is_integer(dtype: Any) -> bool:
    name = keras.backend.standardize_dtype(dtype)
    return "int" in name or name == "bool"


def method_arguments(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """A method layer's settings (``layer.settings``, in positional order) from its
    arguments; they leave ``kwargs``, which keeps the Keras layer's own."""
    if len(args) > len(layer.settings):
        raise UsageError(f"{type(layer).__name__} takes at most {len(layer.settings)} "
                         f"positional arguments; received {len(args)}")  # fmt: skip
    given = dict(zip(layer.settings, args, strict=False))
    given.update({k: kwargs.pop(k) for k in layer.settings if k in kwargs})
    return given


LAYER_ARGUMENTS = """\
    value_range: the images' (low, high); fills are scaled to it ((0, 255)).
    seed: int for reproducible draws (docs/training.md), None for fresh ones.
    data_format: ``'channels_last'`` (B, H, W, C) or ``'channels_first'`` (B, C, H, W);
        None: Keras's ``image_data_format()``. The draws are the same for both.
"""
"""The arguments of every layer, after the method's settings (its docstring's ``Args:``)."""
GUIDED_INPUT = """\
Input: a dict with ``images`` and ``saliency`` (B, H, W) maps, any scale, only their
positive part counting as importance; optionally ``labels`` and ``segmentation_masks``.
"""


class OcclusionLayer(keras.layers.Layer):  # type: ignore[misc]
    """Base class: ``call`` unpacks the input, augments it in training, packs it back.

    Subclasses implement :meth:`augment` (a batch in, a batch out) and extend
    :meth:`get_config`; :meth:`of` makes a method's public layer.
    """

    needs_batch: ClassVar[bool] = False
    needs_saliency: ClassVar[bool] = False
    method_class: ClassVar[type[Method]]
    method: Method
    settings: ClassVar[tuple[str, ...]]
    """The method's settings the layer takes, in their positional order."""
    arguments: ClassVar[str] = LAYER_ARGUMENTS
    """The layer's own arguments, documented once: they continue the method's ``Args:``."""

    @classmethod
    def of(cls, method: type[Method], *settings: str) -> type[Self]:
        """The public layer of ``method``: a class of the method's name in
        :mod:`occlude.layers` that takes ``settings`` in this positional order (then the
        layer's own arguments), documented by the method's docstring and :attr:`arguments`,
        and registered for saving as ``occlude>Name``."""
        name, guided = method.__name__, method.guided
        doc = f"{inspect.cleandoc(method.__doc__ or name)}\n{cls.arguments}"
        if guided:
            doc += f"\n{GUIDED_INPUT}"
        body = {"__module__": "occlude.layers", "__qualname__": name, "__doc__": doc,
                "method_class": method, "settings": settings, "needs_saliency": guided}  # fmt: skip
        layer = keras.saving.register_keras_serializable(package="occlude")(
            type(name, (cls,), body)
        )
        return cast(type[Self], layer)

    def __init__(
        self,
        *args: Any,
        value_range: Sequence[float] = (0, 255),
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        method, kept = self.make_method(method_arguments(self, args, kwargs))
        super().__init__(**kwargs)
        self.method = method
        for name in self.settings:  # the method's checked values, or as given (``kept``)
            setattr(self, name, kept[name] if name in kept else getattr(method, name))
        self.prob = method.prob
        self.value_range = checks.check_value_range(value_range)
        self.seed = checks.check_seed(seed)
        self.data_format = chk.check_data_format(data_format)
        self.backend = backend_utils.DynamicBackend()
        # Inputs keep their dtypes: the layer converts them itself.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self._salt = rnd.salt(type(self).__name__)
        if seed is None:
            # Unseeded: a call counter makes every call fresh (and order-dependent).
            self._random_seed = random.randint(1, 2**30)
            self.generator = keras.random.SeedGenerator(self._random_seed)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        self._check_call(inputs)
        first = keras.tree.flatten(inputs)[0]
        if (
            not isinstance(first, keras.KerasTensor)
            and backend_utils.in_tf_graph()
            and not jax_utils.is_in_jax_tracing_scope(first)
        ):
            # Inside tf.data (or a tf.function): compute with TensorFlow whatever the backend.
            self.backend.set_backend("tensorflow")
            try:
                inputs = keras.tree.map_structure(self.backend.convert_to_tensor, inputs)
                return super().__call__(inputs, *args, **kwargs)
            finally:
                self.backend.reset()
        return super().__call__(inputs, *args, **kwargs)

    def call(self, data: Any, training: bool = True) -> Any:
        bk = self.backend
        batch, batched = self._unpack(bk, data)
        if batched:
            batch = self._same_batch(bk, batch)
        batch = replace(batch, labels=self.prepare_labels(bk, batch.labels))
        if training:
            # Channels first: computed channels last, so that every draw is the same.
            batch = self._transposed(bk, batch, (0, 2, 3, 1))
            keys = self.sample_keys(bk, batch.images)
            work = "float64" if batch.dtype == "float64" else "float32"
            batch = self.augment(bk, batch.with_images(bk.cast(batch.images, work)), keys)
            batch = batch.with_images(self._restore_dtype(bk, batch.images, batch.dtype))
            batch = self._transposed(bk, batch, (0, 3, 1, 2))
        return self._pack(bk, batch, data, batched)

    def _transposed(self, bk: Any, batch: Batch, axes: tuple[int, ...]) -> Batch:
        """Images (and masks, maps with a channel axis) transposed, for channels first."""
        if self.data_format == "channels_last":
            return batch

        def move(x: Tensor | None) -> Tensor | None:
            return x if x is None or len(bk.shape(x)) != 4 else bk.numpy.transpose(x, axes)

        images = move(batch.images)
        return replace(batch, images=images, masks=move(batch.masks), saliency=move(batch.saliency))

    def make_method(self, given: dict[str, Any]) -> tuple[Method, dict[str, Any]]:
        """The method from the settings ``given`` (the others take its defaults), and the
        settings the layer keeps as given rather than as the method holds them."""
        return self.method_class(**given), {}

    def augment(self, bk: Any, batch: Batch, keys: Tensor) -> Batch:
        raise NotImplementedError

    def prepare_labels(self, bk: Any, labels: Tensor | None) -> Tensor | None:
        """Labels as the layer returns them; mixers convert integer labels here."""
        return labels

    def label_spec(self, spec: Any) -> Any:
        return spec

    def sample_keys(self, bk: Any, images: Tensor) -> Tensor:
        """(B,) int32: each sample's key (seed, batch pixels, position; a counter if unseeded)."""
        digests = rnd.fingerprints(bk, images, self.value_range)
        if self.seed is not None:
            base: Any = bk.convert_to_tensor(np.int32(rnd.salt(f"{self.seed}") ^ self._salt))
        else:
            state = rnd.int32(bk, self._generator(bk).next())
            base = bk.numpy.add(rnd.mix32(bk, state[0]), bk.numpy.multiply(state[1], rnd.GOLDEN))
            base = bk.numpy.bitwise_xor(base, self._salt)
        return rnd.sample_keys(bk, digests, base)

    @tracking.no_automatic_dependency_tracking  # type: ignore[untyped-decorator]
    def _generator(self, bk: Any) -> Any:
        """The call counter for the computing backend (TensorFlow's own inside tf.data)."""
        if bk.name == keras.backend.backend():
            return self.generator
        if not hasattr(self, "_backend_generators"):
            self._backend_generators: dict[str, Any] = {}
        if bk.name not in self._backend_generators:
            gen = keras.random.SeedGenerator(self._random_seed, backend=bk)
            self._backend_generators[bk.name] = gen
        return self._backend_generators[bk.name]

    def _unpack(self, bk: Any, data: Any) -> tuple[Batch, bool]:
        """The input as a batch of tensors (inputs were checked by :meth:`check_inputs`)."""
        raw = data if isinstance(data, dict) else {IMAGES: data}
        entries = {k: bk.convert_to_tensor(v) for k, v in raw.items()}
        batched = len(bk.shape(entries[IMAGES])) == 4
        if not batched:
            entries = {k: bk.numpy.expand_dims(v, 0) for k, v in entries.items()}
        images = entries.pop(IMAGES)
        batch = Batch(
            images=images,
            dtype=keras.backend.standardize_dtype(images.dtype),
            labels=entries.pop(LABELS, None),
            masks=entries.pop(MASKS, None),
            saliency=entries.pop(SALIENCY) if self.needs_saliency else None,
            extra=entries,
        )
        return batch, batched

    def _check_call(self, data: Any) -> None:
        """Check the input's structure, shapes, dtypes and known values before any work
        (errors raised here reach the user as they are, not wrapped by Keras)."""
        name = type(self).__name__
        if isinstance(data, dict) and IMAGES not in data:
            raise UsageError(
                f"{name} takes images or a dict with an 'images' entry; "
                f"received a dict with keys {sorted(data)}"
            )
        raw = data if isinstance(data, dict) else {IMAGES: data}
        specs = {k: InputSpec.of(v) for k, v in raw.items()}
        shape, layout = specs[IMAGES].shape, self._layout()
        if len(shape) not in (3, 4):
            one = "(" + layout.removeprefix("(B, ")
            raise UsageError(
                f"{name}: images must be a batch {layout} or one image {one}; "
                f"received shape {shape}"
            )
        if len(shape) == 3 and self.needs_batch:
            raise UsageError(
                f"{name} mixes each image with another image of its batch, so it needs a "
                f"batch {layout}; received one image of shape {shape}. Batch before "
                "this layer, e.g. dataset.batch(32).map(layer)"
            )
        chk.check_dtype(name, IMAGES, specs[IMAGES].dtype, ("int", "float"))
        if self.needs_saliency and SALIENCY not in specs:
            received = f"keys {sorted(specs)}" if isinstance(data, dict) else "images only"
            raise UsageError(
                f"{name} needs importance maps: pass a dict with 'images' and 'saliency' "
                f"(B, H, W); received {received}"
            )
        for key in (MASKS, SALIENCY) if self.needs_saliency else (MASKS,):
            if key in specs:
                self._check_map(key, specs[key], shape)
        if LABELS in specs and len(shape) == 4:
            labels = specs[LABELS].shape
            if not labels or (None not in (labels[0], shape[0]) and labels[0] != shape[0]):
                raise UsageError(
                    f"{name}: labels must hold one label per image, (B, ...); received labels "
                    f"of shape {labels} for images of shape {shape}",
                    LABELS,
                )
        self.check_inputs(specs, batched=len(shape) == 4)
        self.check_values(raw)

    def _layout(self) -> str:
        return "(B, H, W, C)" if self.data_format == "channels_last" else "(B, C, H, W)"

    def _check_map(self, key: str, spec: InputSpec, image: tuple[int | None, ...]) -> None:
        """Masks or maps: one per image, (B, H, W), or with a channel axis where the images
        have theirs (a saliency map's of size 1)."""
        shape, first = spec.shape, self.data_format == "channels_first"
        chk.check_dtype(type(self).__name__, key, spec.dtype, ("bool", "int", "float"))
        channels_ok = True
        if len(shape) == len(image):
            channels_ok = key != SALIENCY or (shape[-3] if first else shape[-1]) in (1, None)
            shape = shape[:-3] + shape[-2:] if first else shape[:-1]
        want = image[:-3] + chk.spatial(image, self.data_format)
        known = all(a is None or b is None or a == b for a, b in zip(shape, want, strict=False))
        if not (channels_ok and known and len(shape) == len(want)):
            maps = "(B, H, W)" if key == SALIENCY else "(B, H, W) or with a channel axis"
            raise UsageError(
                f"{type(self).__name__}: {key} must be one map per image, {maps} for images "
                f"{self._layout()}; received {key} {spec.shape} for images {image}",
                key,
            )

    def _same_batch(self, bk: Any, batch: Batch) -> Batch:
        """In a graph, where a batch size may be known only when it runs: a check there that
        labels, masks and maps have the images' (known sizes were checked before)."""
        b, name = bk.shape(batch.images)[0], type(self).__name__

        def same(key: str, x: Tensor | None) -> Tensor | None:
            if x is None or (isinstance(b, int) and isinstance(bk.shape(x)[0], int)):
                return x
            n = bk.shape(x)[0]
            message = (
                f"{name}: {key} must hold one entry per image; received batch sizes "
                f"({key}, images):"
            )
            return chk.at_run_time(bk, x, bk.numpy.equal(n, b), message, n, b)

        return replace(
            batch,
            labels=same(LABELS, batch.labels),
            masks=same(MASKS, batch.masks),
            saliency=same(SALIENCY, batch.saliency),
        )

    def check_inputs(self, specs: dict[str, InputSpec], batched: bool) -> None:
        """Refuse entries the layer cannot keep consistent (mixers override)."""
        return  # (a body for AutoGraph, which cannot convert a docstring-only method)

    def check_values(self, raw: dict[str, Any]) -> None:
        """Refuse input values the layer cannot use, where they are known (mixers override)."""
        return

    def _restore_dtype(self, bk: Any, images: Tensor, dtype: str) -> Tensor:
        if is_integer(dtype):
            info = np.iinfo(dtype)
            images = bk.numpy.clip(bk.numpy.round(images), float(info.min), float(info.max))
        return bk.cast(images, dtype)

    def _pack(self, bk: Any, batch: Batch, data: Any, batched: bool) -> Any:
        def out(x: Tensor) -> Tensor:
            return x if batched else bk.numpy.squeeze(x, 0)

        if not isinstance(data, dict):
            return out(batch.images)
        result = {IMAGES: out(batch.images)}
        named = {LABELS: batch.labels, MASKS: batch.masks, SALIENCY: batch.saliency}
        for key, value in {**named, **batch.extra}.items():
            if value is not None:
                result[key] = out(value)
        return result

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Shapes are kept (a mixer's integer labels become (B, num_classes): see
        :meth:`compute_output_spec`, which knows their dtype)."""
        return input_shape

    def compute_output_spec(self, data: Any, training: Any = None) -> Any:
        def same(x: Any) -> Any:
            return keras.KerasTensor(x.shape, dtype=x.dtype)

        if not isinstance(data, dict):
            return same(data)
        out = {k: same(v) for k, v in data.items()}
        if LABELS in data:
            out[LABELS] = self.label_spec(data[LABELS])
        return out

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            prob=self.prob,
            value_range=list(self.value_range),
            seed=self.seed,
            data_format=self.data_format,
        )
        config.update({k: json_value(getattr(self, k)) for k in self.settings})
        return config
