"""MixUp (Zhang et al. 2018) as a Keras layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import keras

from occlude import draws as rnd
from occlude.augment.checks import check_alpha
from occlude.layers._base import Batch, Tensor
from occlude.layers._mixing import MixingLayer, mix_labels


def blend(bk: Any, images: Tensor, partner: Tensor, lam: Tensor) -> Tensor:
    """``lam * image + (1 - lam) * partner`` per sample, as one (B, B) x (B, H * W * C)
    matrix product: each output reads the batch once, about twice as fast as a gather and
    three passes in TensorFlow. Row i of the matrix holds lam_i on the diagonal and
    1 - lam_i at the partner, so the sum is exact but for the last bit (a fused
    multiply-add may round once instead of twice), and a non-finite pixel anywhere in the
    batch spreads to every mixed image."""
    xp = bk.numpy
    b = bk.shape(images)[0]
    weight = bk.cast(lam, images.dtype)
    own = xp.multiply(xp.eye(b, dtype=images.dtype), xp.expand_dims(weight, 1))
    theirs = xp.multiply(
        bk.nn.one_hot(partner, b, dtype=images.dtype), xp.expand_dims(xp.subtract(1.0, weight), 1)
    )
    mixed = xp.matmul(xp.add(own, theirs), xp.reshape(images, (b, -1)))
    return xp.reshape(mixed, bk.shape(images))


@keras.saving.register_keras_serializable(package="occlude")
class MixUp(MixingLayer):
    """MixUp: ``lam * image + (1 - lam) * partner``, and the labels with the same ``lam``.

    ``lam`` ~ Beta(``alpha``, ``alpha``) per sample; the partner is drawn per sample from the
    other samples of the batch. Segmentation masks are refused (class indices cannot be
    blended). Integer images are rounded half to even, as the CLI.

    Args:
        alpha: Beta's parameter (0.2, the paper's ImageNet value; 1.0 for CIFAR), below 10^6.
        prob: probability that a sample is mixed (otherwise image and label are unchanged).
        num_classes: converts integer class labels (0 to num_classes - 1; others are an
            error) to one-hot; without it they are an error.
        value_range, seed, data_format: as :class:`~occlude.layers.Cutout`.
    """

    pastes = False

    def __init__(
        self,
        alpha: float = 0.2,
        prob: float = 1.0,
        num_classes: int | None = None,
        value_range: Sequence[float] = (0, 255),
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            prob=prob,
            num_classes=num_classes,
            value_range=value_range,
            seed=seed,
            data_format=data_format,
            **kwargs,
        )
        self.alpha = check_alpha(alpha)

    def augment(self, bk: Any, batch: Batch, keys: Tensor) -> Batch:
        xp = bk.numpy
        partner, applied = self.partners(bk, keys)
        lam = rnd.beta_symmetric(bk, keys, rnd.LAMBDA, self.alpha)
        # lam = 1 leaves a sample as it was (1 * a + 0 * b == a for finite pixels).
        lam = xp.where(applied, lam, 1.0)
        images = blend(bk, batch.images, partner, lam)
        # The labels take exactly the pixels' weights (the same float32 lam and 1 - lam).
        labels = mix_labels(bk, batch.labels, partner, lam, xp.subtract(1.0, lam))
        return replace(batch, images=images, labels=labels)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(alpha=self.alpha)
        return config
