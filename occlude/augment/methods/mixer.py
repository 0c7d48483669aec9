"""The base of the mixing methods (a partner mixed in) and their NumPy adapter.

``method(image, rng, context)`` draws ONE int32 key from ``rng``, samples on
:data:`~occlude.draws.NUMPY` as a batch of one, picks the partner among
``context.partners`` by ``params.partner`` and paints the colour channels in float64
(alpha kept; rounded half to even); :meth:`Mixer.apply` paints recorded params (``replay``).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from occlude import draws
from occlude import saliency as S
from occlude.augment import geometry as geo
from occlude.augment.methods.base import Augmented, Context, Method
from occlude.augment.methods.occluder import keys_of, new_key
from occlude.checks import check_alpha, check_label_by
from occlude.draws import NUMPY
from occlude.errors import UsageError
from occlude.fill import LUMA, FillValue
from occlude.image import check_image, colour_channels, colour_part, full_scale, with_colour

Tensor = Any


def partner_steps(bk: Any, keys: Tensor, others: Any) -> Tensor:
    """(B,) int32: each sample's partner among ``others`` candidates (an int or a scalar
    tensor, at least 1), uniform, from its own stream."""
    return draws.randint(bk, draws.uniform(bk, keys, draws.PARTNER, 1)[:, 0], others)


def beta_lam(bk: Any, keys: Tensor, alpha: float) -> Tensor:
    """(B,) float32 draws of Beta(``alpha``, ``alpha``): the mixers' lam."""
    return draws.beta_symmetric(bk, keys, draws.LAMBDA, alpha)


def pasted_share(bk: Any, boxes: geo.Boxes, applied: Tensor, h: Any, w: Any) -> Tensor:
    """(B,) float32: the exact share of the image inside ``boxes`` ((B, K) coordinates;
    0 where not ``applied``): the partner's share of the pixels, and of the label."""
    xp = bk.numpy
    total = bk.cast(xp.multiply(draws.int32(bk, h), draws.int32(bk, w)), "float32")
    pasted = bk.cast(xp.sum(geo.area(bk, boxes), axis=1), "float32")
    return xp.where(applied, xp.divide(pasted, total), 0.0)


def optional(values: Tensor, applied: bool) -> float | None:
    """A batch of one's float for the manifest, None where the coin skipped the image."""
    return float(np.asarray(values).reshape(-1)[0]) if applied else None


def match_partner(partner: np.ndarray, source: np.ndarray) -> np.ndarray:
    """The partner in the source's colour model, bit depth and size, without alpha.

    Grey sources get the partner's luma, RGB sources a grey partner repeated; depth is
    scaled by 257 (up) or divided by it and rounded (down); the size is matched with
    Pillow's bilinear resampling.
    """
    from PIL import Image

    p, s = check_image(partner), check_image(source)
    cc, pcc = colour_channels(s), colour_channels(p)
    if cc == pcc and p.dtype == s.dtype:
        matched = p if p.shape[2] == cc else np.ascontiguousarray(p[..., :cc])
    else:
        colour = p[..., :pcc].astype(np.float64)
        if cc == 1 and pcc == 3:
            colour = colour @ np.asarray(LUMA)[:, None]
        elif cc == 3 and pcc == 1:
            colour = np.repeat(colour, 3, axis=2)
        colour *= full_scale(s.dtype) / full_scale(p.dtype)
        matched = np.clip(np.rint(colour), 0, full_scale(s.dtype)).astype(s.dtype)
    h, w = s.shape[:2]
    if matched.shape[:2] == (h, w):
        return matched.copy() if matched is p else matched
    img = Image.fromarray(matched if cc == 3 else matched[..., 0])
    resized = np.asarray(img.resize((w, h), Image.Resampling.BILINEAR))
    return resized.reshape(h, w, cc).astype(s.dtype)


@dataclass(frozen=True)
class Mixer(Method):
    """A method that mixes each image with a partner."""

    mixing: ClassVar[bool] = True
    pastes: ClassVar[bool] = True
    """Whether ``paint`` moves the partner's pixels (so a layer moves mask pixels with them)
    rather than blending whole images."""
    alpha: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "alpha", check_alpha(self.alpha))

    @abstractmethod
    def sample(self, bk: Any, keys: Tensor, h: Any, w: Any, others: Any = 1) -> Any:
        """Draws for ``keys`` (B,) int32, images of ``h`` x ``w`` and ``others`` candidate
        partners: a NamedTuple with ``lam`` (B,) (1 where not ``applied``), ``applied``
        (B,) bool and ``partner`` (B,) int32."""

    def paint(self, bk: Any, images: Tensor, params: Any, partner: Tensor) -> Tensor:
        """``images`` (B, H, W[, C]) with ``partner`` (the same shape, one per image)
        mixed in as ``params`` say (unchanged where not ``applied``): by default the
        partner's pixels in ``params.boxes`` (B, K), images, masks or maps alike."""
        h, w = bk.shape(images)[1], bk.shape(images)[2]
        region = geo.box_region(bk, params.boxes, h, w, params.applied)
        return geo.paint(bk, images, region, geo.row_view(bk, partner))

    def place(self, bk: Any, params: Any, saliency: Tensor | None, partner_saliency: Tensor) -> Any:
        """A guided mixer's params placed by the maps (B, H, W) of the images (None when
        there are none) and of their partners; the others' are already placed."""
        return params

    def label_weights(self, bk: Any, params: Any, h: Any, w: Any) -> tuple[Tensor, Tensor]:
        """(B,) float32 weights of the source's label and the partner's."""
        return params.lam, bk.numpy.subtract(1.0, params.lam)

    def withheld(self, bk: Any, params: Any, keep: Tensor) -> Any:
        """``params`` with the images where ``keep`` (B,) is false left alone."""
        applied = bk.numpy.logical_and(params.applied, keep)
        return params._replace(applied=applied, lam=bk.numpy.where(applied, params.lam, 1.0))

    def __call__(
        self, image: np.ndarray, rng: np.random.Generator, context: Context = Context()
    ) -> Augmented:
        arr = check_image(image)
        key = new_key(rng)
        h, w = arr.shape[:2]
        params = self.sample(NUMPY, keys_of(key), h, w, max(len(context.partners), 1))
        if not bool(params.applied[0]):
            return Augmented(arr.copy(), params, key=key)
        if len(context.partners) == 0 or (self.guided and context.partner_saliency is None):
            raise UsageError(f"{self.name} needs at least one partner image"
                             + (" and the partners' saliency maps" if self.guided else ""),
                             "partner_saliency" if self.guided else "partners")  # fmt: skip
        index = int(params.partner[0])
        if self.guided and context.partner_saliency is not None:
            theirs = S.fit(context.partner_saliency[index], (h, w))[None]
            own = None if context.saliency is None else S.fit(context.saliency, (h, w))[None]
            params = self.place(NUMPY, params, own, theirs)
        partner = match_partner(context.partners[index], arr)
        image_out = self.apply(arr, params, partner=partner)
        return Augmented(image_out, params, partner_index=index, key=key)

    def paint_one(
        self, arr: np.ndarray, params: Any, fill: FillValue | None, partner: np.ndarray | None
    ) -> np.ndarray:
        """The image ``arr`` with ``partner`` (matched to it: see ``match_partner``) mixed into its
        colour channels as ``params`` say, in float64, rounded half to even; alpha kept."""
        if partner is None:
            raise UsageError(f"{self.name} needs a partner image", "partner")
        theirs = check_image(partner)
        cc = colour_channels(arr)
        if arr.shape[:2] != theirs.shape[:2] or arr.dtype != theirs.dtype or theirs.shape[2] < cc:
            raise UsageError(
                "the partner must have the source's size, dtype and colour channels; received "
                f"{theirs.shape} {theirs.dtype} for a {arr.shape} {arr.dtype} source (see "
                "match_partner)",
                "partner",
            )
        painted = self.paint(NUMPY, colour_part(arr), params, colour_part(theirs[..., :cc]))
        return with_colour(arr, painted)


@dataclass(frozen=True)
class GuidedMixer(Mixer):
    """A mixer that pastes where the partner's importance map says (:meth:`place`), its
    labels weighed by area or by importance (``label_by``)."""

    guided: ClassVar[bool] = True
    if TYPE_CHECKING:  # each guided mixer declares it last, so its positional order is kept
        label_by: str = "area"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "label_by", check_label_by(self.label_by))

    def placed(
        self, bk: Any, params: Any, boxes: geo.Boxes, saliency: Tensor | None,
        partner_saliency: Tensor, **found: Tensor,
    ) -> Any:  # fmt: skip
        """``params`` with the pasted ``boxes`` (B, K), what else was ``found``, the
        partner's ``importance`` inside the boxes, its label weight ``share`` and the
        source's ``lam`` (1 where not ``applied``). ``share`` is the partner's pixel share
        (``label_by='area'``), or SnapMix-style ``b / (a + b)`` with ``a`` the source's
        importance outside the boxes and ``b`` the partner's inside them (``'saliency'``;
        by area where ``a + b`` is 0, or without the source's map)."""
        xp, applied = bk.numpy, params.applied
        h, w = bk.shape(partner_saliency)[1], bk.shape(partner_saliency)[2]
        area = pasted_share(bk, boxes, applied, h, w)
        pasted = geo.box_region(bk, boxes, h, w, xp.greater_equal(area, 0.0)).expand(bk, 1)
        theirs = S.positive(bk, partner_saliency)
        inside = S.share(bk, S.region_sums(bk, theirs, pasted), xp.sum(theirs, axis=(1, 2)))
        share = xp.where(applied, area, 0.0)
        if self.label_by == "saliency" and saliency is not None:
            own = S.positive(bk, saliency)
            total = xp.sum(own, axis=(1, 2))
            outside = S.share(bk, xp.subtract(total, S.region_sums(bk, own, pasted)), total)
            ok = xp.greater(xp.add(outside, inside), 0.0)
            weight = xp.divide(inside, xp.where(ok, xp.add(outside, inside), 1.0))
            share = xp.where(applied, xp.where(ok, weight, area), 0.0)
        lam = xp.where(applied, xp.subtract(1.0, share), 1.0)
        return params._replace(boxes=boxes, lam=lam, share=share, importance=inside, **found)

    def label_weights(self, bk: Any, params: Any, h: Any, w: Any) -> tuple[Tensor, Tensor]:
        return params.lam, params.share
