"""The mixing layers' adapter, :class:`MixerLayer`: each call runs a
:class:`~occlude.augment.methods.Mixer`, each sample's partner one of the other samples of
its batch (never one roll for the whole batch), and mixes the labels by its weights.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import keras
import numpy as np

from occlude import draws as rnd
from occlude.augment import geometry as geo
from occlude.augment.methods.mixer import Mixer
from occlude.checks import check_optional_int
from occlude.errors import UsageError
from occlude.layers import _checks as chk
from occlude.layers._base import (
    IMAGES,
    LABELS,
    LAYER_ARGUMENTS,
    MASKS,
    SALIENCY,
    Batch,
    InputSpec,
    OcclusionLayer,
    Tensor,
    is_integer,
)


class MixerLayer(OcclusionLayer):
    """A layer that runs ``method_class``, a :class:`~occlude.augment.methods.mixer.Mixer`;
    ``settings`` names its arguments in order, which take the method's defaults. The
    partner's pixels, mask pixels (a pasting mixer's) and maps follow the method's
    ``paint``; the labels take its ``label_weights``."""

    needs_batch = True
    method_class: ClassVar[type[Mixer]]
    method: Mixer
    arguments = f"""\
    num_classes: converts integer class labels (0 to num_classes - 1; others are an
        error) to one-hot; without it they are an error.
{LAYER_ARGUMENTS}
Each sample's partner is drawn from the other samples of its batch (a batch of one is
returned unchanged). Segmentation masks are pasted with the pixels, and refused by a
method that blends whole images (MixUp).
"""

    def __init__(self, *args: Any, num_classes: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.num_classes = check_optional_int(num_classes, "num_classes", least=1)

    def check_inputs(self, specs: dict[str, InputSpec], batched: bool) -> None:
        name = type(self).__name__
        known = {IMAGES, LABELS, MASKS} | ({SALIENCY} if self.needs_saliency else set())
        if set(specs) - known:
            raise UsageError(
                f"{name} cannot keep {sorted(set(specs) - known)} consistent with mixed images;"
                f" it takes {sorted(known)}"
            )
        if MASKS in specs and not self.method_class.pastes:
            raise UsageError(
                f"{name} blends whole images, and blending class indices has no meaning: it "
                "refuses segmentation_masks (CutMix pastes mask pixels with image pixels)"
            )
        if LABELS in specs:
            self._check_labels(specs[LABELS])

    def _check_labels(self, spec: InputSpec) -> None:
        name = type(self).__name__
        chk.check_dtype(name, LABELS, spec.dtype, ("int", "float"))
        if is_integer(spec.dtype):
            if self.num_classes is None:
                raise UsageError(
                    f"{name} mixes labels, so they must be one-hot or soft (float); received "
                    f"integer labels of shape {spec.shape}. Pass one-hot labels, or "
                    "num_classes=N to convert class indices"
                )
            if not (len(spec.shape) == 1 or (len(spec.shape) == 2 and spec.shape[1] == 1)):
                raise UsageError(
                    f"integer labels must be class indices of shape (B,) or (B, 1); received "
                    f"shape {spec.shape}"
                )
        elif self.num_classes is not None and (
            len(spec.shape) != 2 or spec.shape[1] not in (None, self.num_classes)
        ):
            raise UsageError(
                f"labels must be (B, num_classes={self.num_classes}) one-hot or soft, or "
                f"integer class indices; received float labels of shape {spec.shape}"
            )

    def check_values(self, raw: dict[str, Any]) -> None:
        """Integer labels, where their values are known now, must be class indices."""
        if LABELS not in raw or self.num_classes is None:
            return
        labels = chk.known_values(raw[LABELS])
        if labels is None or chk.dtype_kind(str(labels.dtype)) != "int" or labels.size == 0:
            return
        low, high = labels.min(), labels.max()
        if low < 0 or high >= self.num_classes:
            raise UsageError(f"{self._labels_message()} {low}, {high}", LABELS)

    def _labels_message(self) -> str:
        return (
            f"{type(self).__name__}: integer labels must be class indices from 0 to "
            f"num_classes - 1 = {(self.num_classes or 0) - 1}; received (lowest, highest):"
        )

    def prepare_labels(self, bk: Any, labels: Tensor | None) -> Tensor | None:
        """Integer class indices to one-hot float32. Known values were checked before the
        call (:meth:`check_values`); in a graph they are checked when it runs, and where
        that check cannot stop it (XLA drops TensorFlow's assertions) the rows of labels
        out of range are NaN, so that the loss is NaN instead of quietly wrong."""
        if labels is None or not is_integer(labels.dtype):
            return labels
        xp = bk.numpy
        if len(bk.shape(labels)) == 2:
            labels = xp.squeeze(labels, 1)
        valid = xp.greater_equal(labels, 0)
        n = self.num_classes or 0
        if n <= np.iinfo(keras.backend.standardize_dtype(labels.dtype)).max:
            valid = xp.logical_and(valid, xp.less(labels, n))
        low, high = xp.min(labels, initial=0), xp.max(labels, initial=0)
        indices = rnd.int32(bk, xp.where(valid, labels, 0))
        indices = chk.at_run_time(bk, indices, xp.all(valid), self._labels_message(), low, high)
        hot = bk.nn.one_hot(indices, n, dtype="float32")
        return xp.where(xp.expand_dims(valid, 1), hot, float("nan"))

    def label_spec(self, spec: Any) -> Any:
        if is_integer(spec.dtype) and self.num_classes is not None:
            return keras.KerasTensor((spec.shape[0], self.num_classes), dtype="float32")
        return spec

    def augment(self, bk: Any, batch: Batch, keys: Tensor) -> Batch:
        h, w = geo.image_hw(bk, batch.images)
        params = self.method.sample(bk, keys, h, w, others(bk, keys))
        partner, distinct = batch_partners(bk, params.partner)
        params = self.method.withheld(bk, params, distinct)
        if self.method.guided:
            theirs = bk.numpy.take(batch.saliency, partner, axis=0)
            params = self.method.place(bk, params, batch.saliency, theirs)

        def mixed(x: Tensor | None) -> Tensor | None:
            theirs = None if x is None else bk.numpy.take(x, partner, axis=0)
            return None if x is None else self.method.paint(bk, x, params, theirs)

        own, theirs = self.method.label_weights(bk, params, h, w)
        labels = mix_labels(bk, batch.labels, partner, own, theirs)
        return replace(batch, images=mixed(batch.images), masks=mixed(batch.masks),
                       saliency=mixed(batch.saliency), labels=labels)  # fmt: skip

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(num_classes=self.num_classes)
        return config


def others(bk: Any, keys: Tensor) -> Tensor:
    """The candidate partners of each sample: the other samples (at least 1)."""
    return bk.numpy.maximum(bk.numpy.subtract(rnd.int32(bk, bk.shape(keys)[0]), 1), 1)


def batch_partners(bk: Any, steps: Tensor) -> tuple[Tensor, Tensor]:
    """Each sample's partner in the batch, ``steps`` (B,) after it among the others, and
    whether it is another sample (not in a batch of one)."""
    xp = bk.numpy
    b = bk.shape(steps)[0]
    index = xp.arange(b, dtype="int32")
    partner = xp.mod(xp.add(xp.add(index, 1), steps), rnd.int32(bk, b))
    return partner, xp.not_equal(partner, index)


def mix_labels(
    bk: Any, labels: Tensor | None, partner: Tensor, own: Tensor, theirs: Tensor
) -> Tensor | None:
    """``own * label + theirs * partner's label`` per sample (weights (B,)), computed in
    float32 and returned in the labels' own float dtype."""
    if labels is None:
        return None
    xp = bk.numpy
    mine = bk.cast(labels, "float32")
    shape = (-1,) + (1,) * (len(bk.shape(labels)) - 1)
    other = xp.take(mine, partner, axis=0)
    mixed = xp.add(
        xp.multiply(xp.reshape(own, shape), mine), xp.multiply(xp.reshape(theirs, shape), other)
    )
    return bk.cast(mixed, labels.dtype)
