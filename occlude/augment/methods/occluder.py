"""The base of the occluding methods (a region painted with a fill) and their NumPy adapter.

``method(image, rng)`` draws ONE int32 key from ``rng`` and runs the method's ``sample`` and
``region`` on :data:`~occlude.draws.NUMPY` as a batch of one; :meth:`Occluder.apply` paints
recorded params (``replay``), a version-1 record's noise included.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from occlude.augment import geometry as geo
from occlude.augment.methods.base import AUGMENT_FILLS, Augmented, Context, Method
from occlude.draws import NUMPY
from occlude.errors import UsageError
from occlude.fill import (
    Fill,
    FillValue,
    Noise,
    colour_of,
    colour_values,
    fill_values,
    noise_array,
    parse_fill,
)
from occlude.image import check_image, colour_part, full_scale, with_colour

Tensor = Any


def new_key(rng: np.random.Generator) -> int:
    """One image's int32 key, the only draw the folder command takes from its generator."""
    return int(rng.integers(-(2**31), 2**31, dtype=np.int64))


def keys_of(key: int) -> np.ndarray:
    return np.asarray([key], dtype=np.int32)


@dataclass(frozen=True)
class Occluder(Method):
    """A method that paints a region of each image with a fill."""

    fill: Fill = field(default_factory=lambda: parse_fill("grey"))

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "fill", parse_fill(self.fill, AUGMENT_FILLS))

    @abstractmethod
    def sample(self, bk: Any, keys: Tensor, h: Any, w: Any) -> Any:
        """This method's draws for ``keys`` (B,) int32 and images of ``h`` x ``w``
        (ints, or scalar tensors in a graph): arrays with a leading batch axis, and
        ``applied`` (B,) bool, the ``prob`` coin (:func:`~occlude.augment.geometry.coin`)."""

    @abstractmethod
    def region(self, bk: Any, params: Any, h: Any, w: Any) -> geo.Region:
        """The pixels ``params`` occlude (none where not ``applied``)."""

    @abstractmethod
    def at_fraction(self, bk: Any, keys: Tensor, h: int, w: int, fraction: float) -> Any:
        """Params that hide ``fraction`` of each ``h`` x ``w`` image (robustness curves):
        every image occluded, every draw from ``keys`` as :meth:`sample`'s."""

    def guides(self, context: Context, h: int, w: int) -> dict[str, Any]:
        """What a guided method's ``sample`` takes besides the keys, from the folder
        command's ``context`` (KeepCutout: ``saliency``, its image's map as a batch of one);
        a layer passes its batch's entry of the same name."""
        return {}

    def v1_noise(self, params: Any, seed: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A version-1 record's noise (NumPy's generator): the image-sized draw (H, W, C)."""
        return noise_array(np.random.default_rng(seed), shape, dtype)

    def __call__(
        self, image: np.ndarray, rng: np.random.Generator, context: Context = Context()
    ) -> Augmented:
        arr = check_image(image)
        key = new_key(rng)
        h, w = arr.shape[:2]
        params = self.sample(NUMPY, keys_of(key), h, w, **self.guides(context, h, w))
        if not bool(params.applied[0]):
            return Augmented(arr.copy(), params, key=key)
        value: FillValue = Noise(key, keyed=True)
        if self.fill.kind != "noise":
            value = colour_of(self.fill, arr, context.dataset_mean)
        return Augmented(self.apply(arr, params, fill=value), params, fill=value, key=key)

    def paint_one(
        self, image: np.ndarray, params: Any, fill: FillValue | None, partner: np.ndarray | None
    ) -> np.ndarray:
        """``image`` (H, W, C uint8/uint16) painted on NumPy as ``params`` say with ``fill``:
        a colour in the image's units, keyed noise, or a version-1 record's NumPy noise."""
        if fill is None:
            raise UsageError(f"{self.name} needs a fill value", "fill")
        images = colour_part(image)
        _, h, w, cc = images.shape
        top = full_scale(image.dtype)
        if isinstance(fill, Noise) and fill.keyed:
            values = fill_values(NUMPY, Fill("noise"), images, keys_of(fill.seed), (0, top))
        elif isinstance(fill, Noise):
            values = self.v1_noise(params, fill.seed, (h, w, cc), image.dtype)
            values = values.reshape(1, h, w * cc).astype(images.dtype)
        else:
            values = np.tile(colour_values(fill, cc), w).reshape(1, 1, -1)
        return with_colour(
            image, geo.paint(NUMPY, images, self.region(NUMPY, params, h, w), values)
        )


@dataclass(frozen=True)
class BoxOccluder(Occluder):
    """An occluder whose params are boxes (:class:`~occlude.augment.geometry.BoxParams`)."""

    params_type: ClassVar[Any] = geo.BoxParams

    def region(self, bk: Any, params: Any, h: Any, w: Any) -> geo.Region:
        return geo.box_region(bk, params.boxes, h, w, params.applied)

    def v1_noise(self, params: Any, seed: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """Version 1 drew noise box by box, row-major within a box (later boxes win)."""
        rng, out = np.random.default_rng(seed), np.zeros(shape, dtype)
        for x0, y0, x1, y1 in params.to_dict()["boxes"]:
            if x1 > x0 and y1 > y0:
                out[y0:y1, x0:x1] = noise_array(rng, (y1 - y0, x1 - x0, shape[2]), dtype)
        return out
