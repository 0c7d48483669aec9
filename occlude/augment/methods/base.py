"""The method interface: one frozen class per augmentation.

A method validates its own settings when built, draws its parameters from an explicit
``numpy.random.Generator`` (:meth:`Method.sample`, the ``prob`` coin first) and applies
them with a pure function (:meth:`Method.apply`). Calling a method does both, plus what
comes after sampling: the fill for occluders (a noise seed is drawn last), the partner for
mixers (its index is drawn after the parameters).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

from occlude.augment import functional as F
from occlude.augment.checks import check_prob
from occlude.augment.params import Params
from occlude.errors import UsageError
from occlude.fill import Fill, parse_fill

AUGMENT_FILLS = ("mean", "dataset-mean", "noise")
"""Derived fills that occluding methods support besides constant colours."""


@dataclass(frozen=True)
class Context:
    """What some methods need besides the image.

    ``partners``: the other inputs, in a fixed order (may be lazy: only the chosen one is
    read); ``dataset_mean``: the mean RGB colour (0-255) for the ``dataset-mean`` fill;
    ``saliency``: the image's importance map (H×W, at the image's size) and
    ``partner_saliency`` the partners' (aligned with ``partners``, may be lazy), for the
    guided methods.
    """

    partners: Sequence[np.ndarray] = ()
    dataset_mean: Sequence[float] | None = None
    saliency: np.ndarray | None = None
    partner_saliency: Sequence[np.ndarray] | None = None


@dataclass(frozen=True)
class Augmented:
    """One output: the image, what was sampled, and what it was made from."""

    image: np.ndarray
    params: Params
    partner_index: int | None = None
    fill: F.FillValue | None = None
    key: int | None = None

    def params_dict(self) -> dict[str, Any]:
        """The manifest's ``params``: the sampled values, plus the image's ``key`` (every
        draw of a converted method), or ``noise_seed`` for a NumPy noise fill."""
        out = self.params.to_dict()
        if self.key is not None:
            out["key"] = self.key
        elif isinstance(self.fill, F.Noise):
            out["noise_seed"] = self.fill.seed
        return out

    @property
    def label_weights(self) -> tuple[float, float]:
        """How much of the label is the source's and how much the partner's: ``(lam, 1 -
        lam)`` for the mixing methods, ``(1.0, 0.0)`` otherwise."""
        lam = float(np.asarray(getattr(self.params, "lam", 1.0)).reshape(-1)[0])
        return lam, 1.0 - lam

    def fill_json(self) -> str | list[float] | None:
        """The manifest's ``fill``: ``noise``, the RGB colour painted, or None."""
        if self.fill is None:
            return None
        if isinstance(self.fill, F.Noise):
            return "noise"
        return [float(v) for v in self.fill]

    def record(self, method: str, source: str, partner: str | None = None) -> dict[str, Any]:
        """What :func:`~occlude.augment.replay` needs to rebuild this output from the files
        ``source`` (and ``partner``, for the mixing methods): a manifest record's core."""
        out: dict[str, Any] = {"method": method, "source": source, "partner": partner,
                               "params": self.params_dict()}  # fmt: skip
        if not _mixing(method):
            out["fill"] = self.fill_json() if self.params.applied else None
        return out


P = TypeVar("P")


def expect(params: Params, kind: type[P]) -> P:
    """``params`` if it is a ``kind``, else a UsageError saying what was received."""
    if not isinstance(params, kind):
        raise UsageError(
            f"params must be {kind.__name__}; received {type(params).__name__}", "params"
        )
    return params


def _json(value: Any) -> Any:
    if isinstance(value, Fill):
        return value.as_json()
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    return value


@dataclass(frozen=True)
class Method(ABC):
    """Base of every augmentation; subclasses are frozen dataclasses of their settings."""

    name: ClassVar[str]
    reference: ClassVar[str] = ""
    mixing: ClassVar[bool] = False
    guided: ClassVar[bool] = False
    params_type: ClassVar[Any]

    prob: float = 1.0

    def __post_init__(self) -> None:
        check_prob(self.prob)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The settings this method takes, as keyword arguments."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def settings(self) -> dict[str, Any]:
        """The method and its settings as JSON values (for fingerprints and manifests)."""
        values = {f.name: _json(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {"method": self.name, **values}

    @abstractmethod
    def apply(
        self,
        image: np.ndarray,
        params: Params,
        *,
        fill: F.FillValue | None = None,
        partner: np.ndarray | None = None,
    ) -> np.ndarray:
        """The augmented copy of ``image`` (pure; ``partner`` already matched to it)."""

    @abstractmethod
    def __call__(
        self, image: np.ndarray, rng: np.random.Generator, context: Context = Context()
    ) -> Augmented:
        """Sample and apply to one image, drawing everything from ``rng``."""

    @classmethod
    def params_from_dict(cls, data: dict[str, Any]) -> Params:
        """Rebuild parameters from a manifest ``params`` dict."""
        result: Params = cls.params_type.from_dict(data)
        return result


@dataclass(frozen=True)
class ArrayOccluder(Method):
    """An occluder still written on NumPy alone (keep-cutout, until it is converted to
    :class:`~occlude.augment.methods.occluder.Occluder`)."""

    fill: Fill = field(default_factory=lambda: parse_fill("grey"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.fill, str):
            object.__setattr__(self, "fill", parse_fill(self.fill, AUGMENT_FILLS))
        elif not isinstance(self.fill, Fill):
            raise UsageError(f"fill must be a Fill or text; received {self.fill!r}", "fill")

    @abstractmethod
    def sample(self, rng: np.random.Generator, shape: Sequence[int]) -> Params:
        """Draw this method's parameters for an image of ``shape`` (height, width, ...)."""

    def fill_value(
        self, rng: np.random.Generator, image: np.ndarray, dataset_mean: Sequence[float] | None
    ) -> F.FillValue:
        """The fill resolved for ``image``; noise draws its seed from ``rng``."""
        if self.fill.kind == "noise":
            return F.Noise(int(rng.integers(0, 2**53)))  # exact in any JSON reader
        return F.fill_colour(self.fill, image, dataset_mean)

    def __call__(
        self, image: np.ndarray, rng: np.random.Generator, context: Context = Context()
    ) -> Augmented:
        arr = F.check_image(image)
        params = self.sample(rng, arr.shape)
        if not params.applied:
            return Augmented(arr.copy(), params)
        fill = self.fill_value(rng, arr, context.dataset_mean)
        return Augmented(self.apply(arr, params, fill=fill), params, fill=fill)

    def apply(
        self,
        image: np.ndarray,
        params: Params,
        *,
        fill: F.FillValue | None = None,
        partner: np.ndarray | None = None,
    ) -> np.ndarray:
        if not params.applied:
            return F.check_image(image).copy()
        if fill is None:
            raise UsageError(f"{self.name} needs a fill value", "fill")
        return self.paint(image, params, fill)

    @abstractmethod
    def paint(self, image: np.ndarray, params: Params, fill: F.FillValue) -> np.ndarray:
        """Paint the sampled regions of ``image`` with ``fill`` (pure)."""

    @classmethod
    @abstractmethod
    def at_fraction(
        cls, rng: np.random.Generator, shape: tuple[int, int], fraction: float
    ) -> Params:
        """Regions that hide ``fraction`` of an image of ``shape`` (robustness curves)."""


def _mixing(method: str) -> bool:
    from occlude.augment.methods import method_class

    return method_class(method).mixing
