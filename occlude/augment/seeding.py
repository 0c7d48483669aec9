"""Reproducible per-output randomness: a generator from (seed, relative path, copy).

Each output's generator is derived with SHA-256, never drawn from a shared stream, so the
order of the inputs, the number of workers and the shard that runs it change nothing.
File names that are not UTF-8 are hashed as their raw bytes.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np


def output_seed(seed: int, rel: str, copy: int) -> int:
    """A 128-bit seed from (global seed, relative path, copy index); replay one output
    with ``numpy.random.default_rng(output_seed(...))``."""
    key = b"occlude-augment\0%d\0%b\0%d" % (int(seed), os.fsencode(rel), int(copy))
    return int.from_bytes(hashlib.sha256(key).digest()[:16], "big")


def output_rng(seed: int, rel: str, copy: int) -> np.random.Generator:
    return np.random.default_rng(output_seed(seed, rel, copy))
