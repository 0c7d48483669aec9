"""The augmentation methods, and the registry that names them.

Each method is one module here, written once over a backend namespace ``bk`` and
vectorised over a batch (docs/ARCHITECTURE.md, "Adding a method"): its settings (a frozen
dataclass that checks them, naming the Python parameter, and documents them), ``sample``
(every draw from per-sample int32 keys: :mod:`occlude.draws`) and its painter (an
occluder's ``region``: :mod:`~occlude.augment.methods.occluder`; a mixer's ``paint``:
:mod:`~occlude.augment.methods.mixer`). The folder command and ``replay`` run it on NumPy
as a batch of one, its Keras layer (:mod:`occlude.layers`) on Keras's backend.

The CLI, the manifest reader, :func:`~occlude.augment.replay` and ``robustness`` find
methods here by name (:data:`METHODS`, one line per method).
"""

from __future__ import annotations

from typing import Any

from occlude.augment.methods.attentive_cut_mix import AttentiveCutMix
from occlude.augment.methods.base import Augmented, Context, Method, Params
from occlude.augment.methods.cut_mix import CutMix
from occlude.augment.methods.cutout import Cutout
from occlude.augment.methods.hide_and_seek import HideAndSeek
from occlude.augment.methods.keep_cutout import KeepCutout
from occlude.augment.methods.mix_up import MixUp
from occlude.augment.methods.mixer import Mixer
from occlude.augment.methods.occluder import Occluder
from occlude.augment.methods.random_erasing import RandomErasing
from occlude.augment.methods.saliency_mix import SaliencyMix
from occlude.errors import UsageError

METHODS: dict[str, type[Method]] = {
    cls.name: cls
    for cls in (
        Cutout,
        HideAndSeek,
        RandomErasing,
        MixUp,
        CutMix,
        KeepCutout,
        SaliencyMix,
        AttentiveCutMix,
    )
}
"""Every method class by its name (``cutout``, ``hide-and-seek`` ...), in this order."""


def method_class(name: str) -> type[Method]:
    """The class registered as ``name``."""
    try:
        return METHODS[name]
    except KeyError:
        raise UsageError(
            f"unknown method {name!r}; choose {', '.join(METHODS)}", "method"
        ) from None


def occluders() -> tuple[str, ...]:
    """Names of the methods that occlude (and so can draw robustness curves)."""
    return tuple(n for n, cls in METHODS.items() if issubclass(cls, Occluder) and not cls.guided)


def augmentation(name: str, **options: Any) -> Method:
    """A method with validated settings; an option given as ``None`` takes the paper's
    default.

    >>> augmentation("cutout", holes=2).holes
    2

    Raises:
        UsageError: unknown method, a value out of range, or an option that belongs to
            other methods (say, ``alpha`` with cutout).
    """
    cls = method_class(name)
    given = {k: v for k, v in options.items() if v is not None}
    for key in given:
        if key not in cls.option_names():
            owners = [n for n, c in METHODS.items() if key in c.option_names()]
            if not owners:
                raise UsageError(f"unknown option {key!r} for method {name}", "method")
            listed = " and ".join(owners) if len(owners) < 3 else (
                f"{', '.join(owners[:-1])} and {owners[-1]}")  # fmt: skip
            raise UsageError(
                f"{key} applies to {listed} only; received it with method {name}",
                (key, "method"),
            )
    return cls(**given)


def params_from_dict(method: str, data: dict[str, Any]) -> Params:
    """Rebuild a method's parameters from a manifest ``params`` dict (to replay or audit).

    Raises:
        UsageError: unknown method or a dict that lacks what the method records.
    """
    cls = method_class(method)
    try:
        return cls.params_from_dict(data)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise UsageError(
            f"{method} params are incomplete or malformed ({exc!r})", "params"
        ) from None


__all__ = [
    "METHODS",
    "AttentiveCutMix",
    "Augmented",
    "Context",
    "CutMix",
    "Cutout",
    "HideAndSeek",
    "KeepCutout",
    "Method",
    "MixUp",
    "Mixer",
    "Occluder",
    "Params",
    "RandomErasing",
    "SaliencyMix",
    "augmentation",
    "method_class",
    "occluders",
    "params_from_dict",
]
