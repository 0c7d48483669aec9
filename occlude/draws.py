"""Stateless random numbers from integer keys, over a backend namespace: THE source of
every augmentation's draws (the Keras layers, and the folder command as a batch of one).

Every draw is a pure function of a per-sample key (int32) and a stream number, computed
with wrapping int32 arithmetic: MurmurHash3's 32-bit finaliser (``mix32``) hashes
``(key, stream, counter)`` into 32 random bits. Nothing is stateful, so draws do not
depend on call order, threads or parallel ``tf.data`` calls, and the same key gives the
same numbers on every backend (the integer arithmetic is exact; only the float maths of
the Beta sampler may differ by a few ulps between backends: JAX's log and exp).

``bk`` is a backend namespace: a Keras backend module (``self.backend`` of a layer) or
:data:`NUMPY` (the folder command); it owns ``numpy`` (the array functions of
``keras.ops.numpy``), ``cast``, ``shape`` and ``convert_to_tensor``.

Where the keys come from: a layer hashes its seed, the batch's pixels and the sample's
position (:func:`sample_keys`); the folder command and ``robustness`` take one key per
output from a generator derived with SHA-256 from (seed, relative path, copy), never
drawn from a shared stream (:func:`output_seed`), so the order of the inputs, the number
of workers and the shard change nothing.
"""

from __future__ import annotations

import hashlib
import math
import os
import zlib
from types import SimpleNamespace
from typing import Any

import numpy as np

from occlude.errors import UsageError

Tensor = Any

GOLDEN = 0x9E3779B9 - (1 << 32)  # odd; 2^32 / golden ratio, as int32
_M1 = 0x85EBCA6B - (1 << 32)
_M2 = 0xC2B2AE35 - (1 << 32)
_UNIT = 2.0**-24

# Streams: one per kind of draw, so that draws of different kinds never share bits.
COIN, PARTNER, LAMBDA, CENTRE, GRID, CELLS, NOISE, ERASE, PLACE = range(9)
_STREAM_STRIDE = 1 << 20  # counters within a stream stay below this
_DIGEST_ROWS = 16


def output_seed(seed: int, rel: str, copy: int) -> int:
    """A 128-bit seed from (global seed, relative path, copy index); replay one output with
    ``numpy.random.default_rng(output_seed(...))``. Names that are not UTF-8 are hashed as
    their raw bytes."""
    key = b"occlude-augment\0%d\0%b\0%d" % (int(seed), os.fsencode(rel), int(copy))
    return int.from_bytes(hashlib.sha256(key).digest()[:16], "big")


def output_rng(seed: int, rel: str, copy: int) -> np.random.Generator:
    return np.random.default_rng(output_seed(seed, rel, copy))


def dtype_name(x: Any) -> str:
    """``x``'s dtype as a plain name (``'float32'``) on every backend (PyTorch's included)."""
    return str(getattr(x.dtype, "name", x.dtype)).removeprefix("torch.")


def to_int32(value: int) -> int:
    """``value`` modulo 2^32, as a signed int32 Python int."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def salt(name: str) -> int:
    """A stable int32 from a name (not Python's ``hash``, which varies per process)."""
    return to_int32(zlib.crc32(name.encode()))


def srl(bk: Any, x: Tensor, k: int) -> Tensor:
    """Logical right shift of int32 values (backends shift signed ints arithmetically)."""
    return bk.numpy.bitwise_and(bk.numpy.right_shift(x, k), (1 << (32 - k)) - 1)


def mix32(bk: Any, x: Tensor) -> Tensor:
    """MurmurHash3's finaliser: a bijection of int32 in which every bit affects every bit."""
    xp = bk.numpy
    x = xp.bitwise_xor(x, srl(bk, x, 16))
    x = xp.multiply(x, _M1)
    x = xp.bitwise_xor(x, srl(bk, x, 13))
    x = xp.multiply(x, _M2)
    return xp.bitwise_xor(x, srl(bk, x, 16))


def int32(bk: Any, value: Any) -> Tensor:
    return bk.cast(value, "int32")


def to_unit(bk: Any, bits: Tensor) -> Tensor:
    """Random bits to float32 in (0, 1): the centre of one of 2^24 equal cells.

    ``u < p`` is then true with probability exactly ``p`` for ``p`` a multiple of 2^-24
    (so 0.5 is exact, 1 is always, 0 is never), and ``log(u)`` is finite.
    """
    top = bk.cast(srl(bk, bits, 8), "float32")
    return bk.numpy.add(bk.numpy.multiply(top, _UNIT), _UNIT / 2)


def uniform(bk: Any, keys: Tensor, stream: int, n: int) -> Tensor:
    """``(B, n)`` float32 uniforms in (0, 1), column ``j`` from ``(key, stream, j)``."""
    if not 0 < n <= _STREAM_STRIDE:
        raise UsageError(f"n must be between 1 and {_STREAM_STRIDE}; received {n}")
    xp = bk.numpy
    counters = xp.add(xp.arange(n, dtype="int32"), to_int32(stream * _STREAM_STRIDE))
    offsets = mix32(bk, xp.multiply(counters, GOLDEN))
    bits = mix32(bk, xp.add(xp.expand_dims(keys, 1), xp.expand_dims(offsets, 0)))
    return to_unit(bk, bits)


def uniform_at(
    bk: Any, keys: Tensor, stream: int, index: Tensor, batched: bool = False, light: bool = False
) -> Tensor:
    """Uniforms in (0, 1) for ``keys`` (B,) at int32 ``index``: (B, *index.shape), or
    index's own shape when ``batched`` (its first axis is then the batch).

    Equal indices give equal numbers, which is how Hide-and-Seek gives a whole cell one draw.
    ``light`` uses half of ``mix32`` after adding the key (for per-pixel noise, where the
    index is already fully hashed and speed matters).
    """
    xp = bk.numpy
    offsets = mix32(bk, xp.add(xp.multiply(index, GOLDEN), salt(f"stream{stream}")))
    ones = len(bk.shape(index)) - (1 if batched else 0)
    shaped = xp.reshape(keys, (-1,) + (1,) * ones)
    if not batched:
        offsets = xp.expand_dims(offsets, 0)
    bits = xp.add(shaped, offsets)
    if light:
        bits = xp.multiply(xp.bitwise_xor(bits, srl(bk, bits, 16)), _M1)
        return to_unit(bk, xp.bitwise_xor(bits, srl(bk, bits, 15)))
    return to_unit(bk, mix32(bk, bits))


def randint(bk: Any, u: Tensor, n: Any) -> Tensor:
    """Integers uniform over ``0..n-1`` from uniforms ``u`` (``n`` >= 1, scalar or per row)."""
    xp = bk.numpy
    n_f = bk.cast(n, "float32")
    k = int32(bk, xp.floor(xp.multiply(u, n_f)))
    # float32 rounding can turn u * n into n when n is large: keep the top value in range.
    return xp.minimum(k, xp.subtract(int32(bk, n), 1))


def log_gamma_draws(bk: Any, u: Tensor, alpha: float, tries: int) -> Tensor:
    """log Gamma(alpha, 1) per row from ``u`` (B, 3 * tries + 1) uniforms (Marsaglia-Tsang).

    For alpha < 1 the draw is Gamma(alpha + 1) * U^(1 / alpha), kept in log space so that
    tiny values do not underflow. Each try takes three uniforms (two for a Box-Muller
    normal, one for the acceptance test); the first accepted try is used. A try is
    accepted with probability above 0.95, so with ``tries`` = 8 all fail about once in
    10^10 rows, and then the last candidate is used anyway.
    """
    xp = bk.numpy
    shape = alpha + 1.0 if alpha < 1.0 else alpha
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    u1, u2, u3 = (u[:, k : 3 * tries : 3] for k in range(3))
    normal = xp.multiply(
        xp.sqrt(xp.multiply(xp.log(u1), -2.0)), xp.cos(xp.multiply(u2, 2.0 * math.pi))
    )
    base = xp.add(xp.multiply(normal, c), 1.0)
    v = xp.multiply(xp.multiply(base, base), base)
    safe_v = xp.maximum(v, 1e-30)
    bound = xp.add(
        xp.multiply(xp.multiply(normal, normal), 0.5),
        xp.multiply(xp.add(xp.subtract(1.0, safe_v), xp.log(safe_v)), d),
    )
    ok = xp.logical_and(xp.greater(v, 0.0), xp.less(xp.log(u3), bound))
    first = xp.argmax(bk.cast(ok, "int32"), axis=1)
    pick = xp.where(xp.any(ok, axis=1), first, tries - 1)
    chosen = xp.take_along_axis(safe_v, xp.expand_dims(int32(bk, pick), 1), axis=1)[:, 0]
    log_g = xp.add(xp.log(chosen), math.log(d))
    if alpha < 1.0:
        log_g = xp.add(log_g, xp.divide(xp.log(u[:, 3 * tries]), alpha))
    return log_g


def beta_symmetric(bk: Any, keys: Tensor, stream: int, alpha: float, tries: int = 8) -> Tensor:
    """(B,) float32 draws of Beta(alpha, alpha), one per key: G1 / (G1 + G2)."""
    per = 3 * tries + 1
    u = uniform(bk, keys, stream, 2 * per)
    g1 = log_gamma_draws(bk, u[:, :per], alpha, tries)
    g2 = log_gamma_draws(bk, u[:, per:], alpha, tries)
    return bk.numpy.divide(1.0, bk.numpy.add(1.0, bk.numpy.exp(bk.numpy.subtract(g2, g1))))


def fingerprints(bk: Any, images: Tensor, value_range: tuple[float, float]) -> Tensor:
    """(B,) int32 digests of each image's pixels (their bits, or for float64 a quantisation).

    The digest reads 16 evenly spaced rows of each image (all rows of smaller images): it
    only has to change when the batch does, and reading every pixel would cost as much as
    a cheap augmentation. Row and column sums are hashed with their positions, so moving
    content changes the digest. Integer arithmetic wraps, so the digest does not depend on
    the order of reduction.
    """
    xp = bk.numpy
    shape = bk.shape(images)
    q = xp.reshape(pixel_bits(bk, images, value_range), (shape[0], shape[1], -1))
    if not isinstance(shape[1], int) or shape[1] > _DIGEST_ROWS:
        # A gather of whole rows: far cheaper than a strided slice in TensorFlow.
        rows = xp.multiply(xp.arange(_DIGEST_ROWS, dtype="int32"), int32(bk, shape[1]))
        q = xp.take(q, xp.floor_divide(rows, _DIGEST_ROWS), axis=1)
    row_sums, col_sums = xp.sum(q, axis=2), xp.sum(q, axis=1)
    row_pos = xp.multiply(xp.arange(bk.shape(q)[1], dtype="int32"), GOLDEN)
    col_pos = mix32(bk, xp.add(xp.arange(bk.shape(q)[2], dtype="int32"), salt("columns")))
    row_part = xp.sum(mix32(bk, xp.add(row_sums, xp.expand_dims(row_pos, 0))), axis=1)
    col_part = xp.sum(mix32(bk, xp.bitwise_xor(col_sums, xp.expand_dims(col_pos, 0))), axis=1)
    return xp.add(row_part, mix32(bk, col_part))


def can_bitcast(bk: Any) -> bool:
    return hasattr(bk.numpy, "view")  # Keras >= 3.9


def bitcast(bk: Any, x: Tensor, dtype: str) -> Tensor:
    """``x``'s bits as ``dtype`` of the same size (free). Keras's ``view`` needs a static last
    axis, which a batch axis of unknown size is not: it gets one of size 1."""
    shape = bk.shape(x)
    column = bk.numpy.reshape(x, (-1, 1))
    return bk.numpy.reshape(bk.numpy.view(column, dtype), shape)


def pixel_bits(bk: Any, x: Tensor, value_range: tuple[float, float]) -> Tensor:
    """int32 per pixel value: the value's own bits where a same-size view exists (free)."""
    dtype = dtype_name(x)
    if "int" in dtype or dtype == "bool":
        return int32(bk, x)
    if can_bitcast(bk) and dtype == "float32":
        return bitcast(bk, x, "int32")
    if can_bitcast(bk) and dtype in ("float16", "bfloat16"):
        return int32(bk, bitcast(bk, x, "int16"))
    low, high = value_range
    scaled = bk.numpy.multiply(
        bk.numpy.subtract(bk.cast(x, "float32"), low), 65535.0 / (high - low)
    )
    return int32(bk, bk.numpy.clip(scaled, -(2.0**30), 2.0**30))


def sample_keys(bk: Any, digests: Tensor, base: Tensor) -> Tensor:
    """(B,) int32 keys: sample ``i`` gets hash(base, every digest of the batch in order, i).

    Any change to the batch (another order, another sample) changes every key; equal
    images at different positions get different keys.
    """
    xp = bk.numpy
    b = bk.shape(digests)[0]
    positions = xp.multiply(xp.arange(b, dtype="int32"), GOLDEN)
    batch = xp.sum(mix32(bk, xp.add(digests, positions)), axis=0)
    start = mix32(bk, xp.add(mix32(bk, xp.bitwise_xor(base, batch)), salt("keys")))
    return mix32(bk, xp.add(start, positions))


class _NumpyOps:
    """``keras.ops.numpy`` over NumPy: NumPy's functions, with int32 arithmetic wrapping
    silently (as on the Keras backends) and integer sums kept in their dtype."""

    def __getattr__(self, name: str) -> Any:
        fn = getattr(np, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with np.errstate(over="ignore"):
                return fn(*args, **kwargs)

        return call

    def sum(self, x: Any, axis: Any = None) -> Any:
        x = np.asarray(x)
        with np.errstate(over="ignore"):
            return np.sum(x, axis=axis, dtype=x.dtype if x.dtype.kind in "iu" else None)

    def view(self, x: Any, dtype: str) -> Any:
        return np.asarray(x).view(dtype)


NUMPY = SimpleNamespace(
    name="numpy",
    numpy=_NumpyOps(),
    cast=lambda x, dtype: np.asarray(x).astype(dtype),
    shape=lambda x: tuple(int(d) for d in np.shape(x)),
    convert_to_tensor=np.asarray,
)
"""The backend namespace over NumPy: what the folder command and :func:`replay` compute with."""
