"""Intervals for accuracies: Wilson over evaluations, a bootstrap over images.

Repeats of one image are not independent (the same picture, occluded again), so the
Wilson interval over all evaluations is too narrow when there are few images; the
percentile bootstrap that resamples whole images is the honest one for a gate, from
:data:`MIN_IMAGES` images on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054
"""The standard normal's 97.5 % quantile: two-sided 95 % intervals."""
RESAMPLES = 2000
MIN_IMAGES = 10
"""The fewest images an interval over images is given for (below, there is none).

A percentile bootstrap over n images can only return means of the C(2n-1, n) distinct
resamples: 1 for one image (the interval is a point, whatever the spread of the
evaluations), 3 for two, 126 for five, 92,378 for ten, so that from ten on its 2,000
resamples draw from a near-continuous distribution. And it is too narrow for small n: its
spread is the plug-in one (n, not n - 1) read off normal quantiles, so for a nominal 95 %
it covers, even for well-behaved (normal) data, about 60 % at two images, 75 % at three,
85 % at five, 89.8 % at nine and 90.4 % at ten (P(|t_{n-1}| < 1.96 sqrt((n-1)/n))), 93 %
at twenty. Ten is the fewest images for which it covers at least 90 %."""


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for ``successes`` out of ``n`` (None when ``n`` is 0).

    >>> [round(v, 4) for v in wilson(8, 10)]
    [0.4902, 0.9433]
    >>> wilson(0, 5)[0], wilson(5, 5)[1]
    (0.0, 1.0)
    """
    if n <= 0:
        return None
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def bootstrap_mean(
    values: Sequence[float],
    seed: int,
    resamples: int = RESAMPLES,
    level: float = 0.95,
    least: int = MIN_IMAGES,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean of ``values`` (one value per image).

    Deterministic for a seed; the caller passes the values in a fixed order (by path), so
    the interval does not depend on the order of the inputs. None with fewer than
    ``least`` values (see :data:`MIN_IMAGES`).
    """
    if len(values) < max(1, least):
        return None
    data = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x6F63636C]))
    picks = rng.integers(0, len(data), size=(resamples, len(data)))
    means = data[picks].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)
