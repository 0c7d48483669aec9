"""KeepAugment's selective cut (Gong et al. 2021): Cutout that spares what the label needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from occlude import draws
from occlude import saliency as S
from occlude.augment import geometry as geo
from occlude.augment.methods.base import Context
from occlude.augment.methods.cutout import CUTOUT_SIZE, square_side
from occlude.augment.methods.occluder import BoxOccluder
from occlude.checks import MAX_DRAWS, check_int, check_prob, check_size
from occlude.errors import UsageError

Tensor = Any


class KeepCutoutParams(NamedTuple):
    """The square kept (``boxes``, (B, 1) each), how many draws it took, its importance and
    the threshold (shares of the image's positive mass), whether the draws ``ran_out``.
    As JSON (one image) the manifest's shape since version 1."""

    boxes: geo.Boxes
    attempts: Tensor
    importance: Tensor
    threshold: Tensor
    ran_out: Tensor
    applied: Tensor

    def to_dict(self) -> dict[str, Any]:
        out = geo.BoxParams(self.boxes, self.applied).to_dict()
        if not out["applied"]:
            return {**out, "attempts": 0, "importance": None, "threshold": None,
                    "ran_out": False}  # fmt: skip
        one = [np.asarray(v).reshape(-1)[0] for v in (self.attempts, self.importance,
                                                      self.threshold, self.ran_out)]  # fmt: skip
        return {**out, "attempts": int(one[0]), "importance": float(one[1]),
                "threshold": float(one[2]), "ran_out": bool(one[3])}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeepCutoutParams:
        boxes = geo.BoxParams.from_dict(data)

        def one(value: Any, dtype: str) -> np.ndarray:
            return np.asarray([np.nan if value is None else value], dtype)

        return cls(boxes.boxes, one(data["attempts"], "int32"), one(data["importance"],
                   "float32"), one(data["threshold"], "float32"),
                   one(bool(data["ran_out"]), "bool"), boxes.applied)  # fmt: skip


@dataclass(frozen=True)
class KeepCutout(BoxOccluder):
    """Cutout that avoids the important region: KeepAugment's selective cut.

    The threshold is the ``keep_quantile`` quantile of the importance of a square of side
    ``size`` over every centre pixel of the image (exact, from an integral image). Cutout
    squares (centre uniform over every pixel, clipped) are drawn until one's importance is
    at most the threshold, up to ``max_tries`` draws; if none is, the draw of lowest
    importance (the first among equals) is kept, and the params say so (``ran_out``).
    Importance: the sum of ``max(saliency, 0)`` inside the square over the whole image's
    (0 if that is 0), from the image's own map.

    Args:
        size: as :class:`Cutout` (0.5).
        keep_quantile: the quantile of box importance a square may reach (0 to 1) (0.5).
        max_tries: squares drawn at most per image, up to 10,000 (10).
        fill, prob: as :class:`Cutout`.
    """

    name = "keep-cutout"
    reference = "Gong et al. 2021 (KeepAugment)"
    guided = True
    params_type: ClassVar[Any] = KeepCutoutParams

    size: float = CUTOUT_SIZE
    keep_quantile: float = 0.5
    max_tries: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "size", check_size(self.size))
        object.__setattr__(self, "keep_quantile", check_prob(self.keep_quantile, "keep_quantile"))
        object.__setattr__(
            self, "max_tries", check_int(self.max_tries, "max_tries", most=MAX_DRAWS)
        )

    def guides(self, context: Context, h: int, w: int) -> dict[str, Any]:
        if context.saliency is None:
            raise UsageError("keep-cutout needs the image's saliency map", "saliency")
        return {"saliency": S.fit(context.saliency, (h, w))[None]}

    def sample(
        self, bk: Any, keys: Tensor, h: Any, w: Any, saliency: Tensor | None = None
    ) -> KeepCutoutParams:
        """The draws: the coin, then ``max_tries`` centres; ``saliency`` (B, H, W[, 1])."""
        if saliency is None:
            raise UsageError("keep-cutout samples from a saliency map: pass the images' maps",
                             "saliency")  # fmt: skip
        xp = bk.numpy
        side = draws.int32(bk, square_side(bk, self.size, h, w))
        table = S.integral(bk, S.positive(bk, saliency))
        # Clipped at 0: the integral image's differences can be a rounding error below it.
        sums = xp.maximum(S.centred_box_sums(bk, table, side, h, w), 0.0)
        threshold = quantile(bk, sums, self.keep_quantile)
        cx, cy = geo.random_centres(bk, keys, draws.CENTRE, self.max_tries, h, w)
        tried = xp.take_along_axis(sums, xp.add(xp.multiply(cy, draws.int32(bk, w)), cx), axis=1)
        lowest = xp.equal(tried, xp.min(tried, axis=1, keepdims=True))
        good = xp.less_equal(tried, xp.expand_dims(threshold, 1))
        found = xp.any(good, axis=1)
        pick = xp.expand_dims(
            xp.where(found, S.first_where(bk, good), S.first_where(bk, lowest)), 1
        )
        boxes = geo.centred(bk, xp.take_along_axis(cx, pick, axis=1),
                            xp.take_along_axis(cy, pick, axis=1), side, side, h, w)  # fmt: skip
        total = S.totals(bk, table)
        attempts = xp.where(found, xp.add(pick[:, 0], 1), self.max_tries)
        return KeepCutoutParams(
            boxes,
            draws.int32(bk, attempts),
            S.share(bk, xp.take_along_axis(tried, pick, axis=1)[:, 0], total),
            S.share(bk, threshold, total),
            xp.logical_not(found),
            geo.coin(bk, keys, self.prob),
        )

    def at_fraction(self, bk: Any, keys: Tensor, h: int, w: int, fraction: float) -> Any:
        raise UsageError("keep-cutout needs a saliency map: it has no robustness curve", "methods")


def quantile(bk: Any, values: Tensor, q: float) -> Tensor:
    """(B,) the ``q`` quantile of each row of non-negative ``values``, with linear
    interpolation between order statistics (``numpy.quantile``'s default).

    The order statistics are found by bisection on the values' bits (non-negative floats
    order like their bit patterns): 31 counting passes, exact, and several times faster
    than TensorFlow's sort of 50,000 values per row.
    """
    xp = bk.numpy
    n = bk.shape(values)[1]
    pos = xp.multiply(bk.cast(xp.subtract(draws.int32(bk, n), 1), "float32"), q)
    rank = draws.int32(bk, xp.floor(pos))
    if not draws.can_bitcast(bk):
        ordered = xp.sort(values, axis=1)
        low = xp.take(ordered, rank, axis=1)
        last = xp.subtract(draws.int32(bk, n), 1)
        high = xp.take(ordered, xp.minimum(xp.add(rank, 1), last), axis=1)
    else:
        keys = draws.bitcast(bk, values, "int32")
        low_key = _order_statistic(bk, keys, rank)
        at_most = xp.sum(draws.int32(bk, xp.less_equal(keys, xp.expand_dims(low_key, 1))), axis=1)
        above = xp.where(xp.greater(keys, xp.expand_dims(low_key, 1)), values, float("inf"))
        low = draws.bitcast(bk, low_key, "float32")
        high = xp.where(xp.greater(at_most, xp.add(rank, 1)), low, xp.min(above, axis=1))
        high = xp.where(xp.isfinite(high), high, low)  # rank is the last: no value above
    frac = xp.subtract(pos, bk.cast(rank, "float32"))
    return xp.add(low, xp.multiply(frac, xp.subtract(high, low)))


def _order_statistic(bk: Any, keys: Tensor, rank: Any) -> Tensor:
    """(B,) the ``rank``-th smallest (from 0) of each row of non-negative int32 ``keys``."""
    xp = bk.numpy
    b = bk.shape(keys)[0]
    lo = xp.zeros((b,), dtype="int32")
    hi = xp.full((b,), 0x7F800000, dtype="int32")  # +inf's bits: above every finite value
    for _ in range(31):
        mid = xp.add(lo, xp.floor_divide(xp.subtract(hi, lo), 2))
        count = xp.sum(draws.int32(bk, xp.less_equal(keys, xp.expand_dims(mid, 1))), axis=1)
        enough = xp.greater(count, rank)
        hi, lo = xp.where(enough, mid, hi), xp.where(enough, lo, xp.add(mid, 1))
    return hi
