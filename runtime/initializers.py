"""Weight initializers: the starting scale that keeps activations and gradients from vanishing.

Every initializer is ``fn(shape, rng=None) -> np.ndarray`` (float64). ``rng`` is a
``np.random.Generator``, an integer seed, or ``None`` (fresh entropy), so the same seed gives the
same weights. Fans follow Glorot & Bengio (2010) and Keras: a dense weight is stored ``(in, out)``
(``y = x @ W``), and a convolution kernel ``(KH, KW, C_in, C_out)`` or ``(K, C_in, C_out)`` counts
its receptive field in both fans.
"""
from __future__ import annotations

import functools
import inspect
import math
from typing import Callable, Literal

import numpy as np

Shape = tuple[int, ...]
Rng = np.random.Generator | int | None
Initializer = Callable[..., np.ndarray]

__all__ = [
    "compute_fans", "get", "Initializer",
    "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal", "kaiming_uniform", "kaiming_normal", "lecun_normal",
    "zeros", "ones", "normal", "uniform", "orthogonal",
]


def _shape(shape: Shape) -> Shape:
    """A tuple of non-negative ints, so a bad shape fails here and not inside NumPy."""
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in dims):
        raise ValueError(f"an initializer's shape must be a tuple of non-negative ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def compute_fans(shape: Shape) -> tuple[int, int]:
    """(fan_in, fan_out) as Keras computes them, so scales match published recipes."""
    shape = _shape(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _variance_scaling(shape: Shape, rng: Rng, scale: float, mode: Literal["fan_in", "fan_avg"],
                      distribution: Literal["normal", "uniform"]) -> np.ndarray:
    """Weights with variance ``scale / fan``: the one rule behind Glorot, He and LeCun."""
    shape = _shape(shape)
    fan_in, fan_out = compute_fans(shape)
    fan = fan_in if mode == "fan_in" else (fan_in + fan_out) / 2
    variance = scale / max(1.0, fan)
    gen = np.random.default_rng(rng)
    if distribution == "normal":
        return gen.normal(0.0, math.sqrt(variance), size=shape)
    limit = math.sqrt(3.0 * variance)
    return gen.uniform(-limit, limit, size=shape)


def glorot_uniform(shape: Shape, rng: Rng = None) -> np.ndarray:
    """U(-l, l), l = sqrt(6 / (fan_in + fan_out)): keeps forward and backward variance for tanh layers."""
    return _variance_scaling(shape, rng, 1.0, "fan_avg", "uniform")


def glorot_normal(shape: Shape, rng: Rng = None) -> np.ndarray:
    """N(0, 2 / (fan_in + fan_out)), untruncated (as PyTorch's xavier_normal_)."""
    return _variance_scaling(shape, rng, 1.0, "fan_avg", "normal")


def he_uniform(shape: Shape, rng: Rng = None) -> np.ndarray:
    """U(-l, l), l = sqrt(6 / fan_in): ReLU halves the variance, so this doubles it."""
    return _variance_scaling(shape, rng, 2.0, "fan_in", "uniform")


def he_normal(shape: Shape, rng: Rng = None) -> np.ndarray:
    """N(0, 2 / fan_in), untruncated: He et al. (2015) for ReLU layers."""
    return _variance_scaling(shape, rng, 2.0, "fan_in", "normal")


def lecun_normal(shape: Shape, rng: Rng = None) -> np.ndarray:
    """N(0, 1 / fan_in), std = 1/sqrt(fan_in): the classic scale, and SELU's."""
    return _variance_scaling(shape, rng, 1.0, "fan_in", "normal")


xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


def zeros(shape: Shape, rng: Rng = None) -> np.ndarray:
    """All zeros, for biases; ``rng`` is accepted so every initializer is called the same way."""
    return np.zeros(_shape(shape))


def ones(shape: Shape, rng: Rng = None) -> np.ndarray:
    """All ones, for scales such as a normalization layer's gain."""
    return np.ones(_shape(shape))


def normal(shape: Shape, rng: Rng = None, std: float = 0.05) -> np.ndarray:
    """N(0, std^2) with a fixed std, for when the scale is chosen by hand."""
    if not std >= 0:
        raise ValueError(f"normal: std must be >= 0, got {std!r}")
    return np.random.default_rng(rng).normal(0.0, std, size=_shape(shape))


def uniform(shape: Shape, rng: Rng = None, limit: float = 0.05) -> np.ndarray:
    """U(-limit, limit) with a fixed limit, for when the scale is chosen by hand."""
    if not limit >= 0:
        raise ValueError(f"uniform: limit must be >= 0, got {limit!r}")
    return np.random.default_rng(rng).uniform(-limit, limit, size=_shape(shape))


def orthogonal(shape: Shape, rng: Rng = None, gain: float = 1.0) -> np.ndarray:
    """A (semi-)orthogonal matrix (Saxe et al. 2014), so a recurrent weight neither grows nor shrinks
    what it multiplies. Shapes of more than two dims are flattened to (prod(shape[:-1]), shape[-1])."""
    shape = _shape(shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal needs at least 2 dims, got shape {shape}")
    rows, cols = math.prod(shape[:-1]), shape[-1]
    if rows == 0 or cols == 0:
        return np.zeros(shape)
    a = np.random.default_rng(rng).normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)  # signs from R make the draw uniform over orthogonal matrices
    if rows < cols:
        q = q.T
    return gain * q.reshape(shape)


_REGISTRY: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal,
    "xavier_uniform": xavier_uniform, "xavier_normal": xavier_normal,
    "he_uniform": he_uniform, "he_normal": he_normal,
    "kaiming_uniform": kaiming_uniform, "kaiming_normal": kaiming_normal,
    "lecun_normal": lecun_normal,
    "zeros": zeros, "ones": ones, "normal": normal, "uniform": uniform, "orthogonal": orthogonal,
}


def get(name: str | Initializer, **options: float) -> Initializer:
    """An initializer by name (as layers take them), with options such as ``std=0.01`` bound;
    a callable passes through, so layers accept either."""
    if callable(name):
        fn = name
    elif isinstance(name, str) and name in _REGISTRY:
        fn = _REGISTRY[name]
    else:
        raise ValueError(f"unknown initializer {name!r}; valid names: {', '.join(sorted(_REGISTRY))}")
    if not options:
        return fn
    try:
        inspect.signature(fn).bind_partial(None, None, **options)
    except TypeError as e:
        raise ValueError(f"initializer {name!r} does not take options {sorted(options)}: {e}") from e
    return functools.partial(fn, **options)
