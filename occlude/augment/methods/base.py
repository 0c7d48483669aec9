"""The method interface: one frozen class per augmentation, its settings checked when built.

Calling a method on a NumPy image samples and paints it (:class:`Augmented`);
:meth:`Method.apply` paints recorded params (``replay``).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np

from occlude.checks import check_prob
from occlude.errors import UsageError
from occlude.fill import Fill, FillValue, Noise
from occlude.image import check_image

AUGMENT_FILLS = ("mean", "dataset-mean", "noise")
"""Derived fills that occluding methods support besides constant colours."""


class Params(Protocol):
    """Any method's sampled parameters: ``applied`` (false when the ``prob`` coin skipped
    the image), ``to_dict()`` for the manifest (each type also has ``from_dict``)."""

    @property
    def applied(self) -> bool: ...

    def to_dict(self) -> dict[str, Any]: ...


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
    fill: FillValue | None = None
    key: int | None = None

    def params_dict(self) -> dict[str, Any]:
        """The manifest's ``params``: the sampled values, plus the image's ``key`` (every
        draw of a converted method), or ``noise_seed`` for a NumPy noise fill."""
        out = self.params.to_dict()
        if self.key is not None:
            out["key"] = self.key
        elif isinstance(self.fill, Noise):
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
        if isinstance(self.fill, Noise):
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


def json_value(value: Any) -> Any:
    """A setting as JSON keeps it: a fill by name or RGB, tuples as lists, NumPy numbers as
    Python's (the manifests' and fingerprints' settings, a layer's ``get_config``)."""
    if isinstance(value, Fill):
        return value.as_json()
    if isinstance(value, (tuple, list)):
        return [json_value(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


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
        values = {f.name: json_value(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {"method": self.name, **values}

    def apply(
        self,
        image: np.ndarray,
        params: Params,
        *,
        fill: FillValue | None = None,
        partner: np.ndarray | None = None,
    ) -> np.ndarray:
        """The augmented copy of ``image`` (pure; ``partner`` already matched to it), a plain
        copy where ``params`` were not applied."""
        arr = check_image(image)
        if not bool(np.asarray(params.applied).reshape(-1)[0]):
            return arr.copy()
        return self.paint_one(arr, params, fill, partner)

    @abstractmethod
    def paint_one(
        self, image: np.ndarray, params: Any, fill: FillValue | None, partner: np.ndarray | None
    ) -> np.ndarray:
        """:meth:`apply` for params that were applied, on a checked image."""

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


def _mixing(method: str) -> bool:
    from occlude.augment.methods import method_class

    return method_class(method).mixing
