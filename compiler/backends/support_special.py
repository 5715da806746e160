"""Helpers that generated code calls for special functions, where NumPy has no single function or Numba
lacks one: the plain NumPy versions (target="python"); numba_special.py overloads the same names.

The Python target computes what SciPy computes when SciPy can be imported (the user who wrote
scipy.special.digamma has it); otherwise, and on Numba, each value comes from the scalar functions
below (`*_scalar`), written with `math` only so that Numba compiles them as they are. They follow
scipy.special at the poles and at infinities, and agree with it to about 1e-13 elsewhere."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["erf", "erfc", "gammaln", "digamma", "polygamma", "xlogy", "heaviside"]

# B_2, B_4, ..., B_20: the Bernoulli numbers of the asymptotic series of digamma and polygamma
BERNOULLI = (1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 5.0 / 66.0, -691.0 / 2730.0, 7.0 / 6.0,
             -3617.0 / 510.0, 43867.0 / 798.0, -174611.0 / 330.0)


# --- scalar functions (Numba compiles these too) ---------------------------------------------

def erf_scalar(x: float) -> float:
    return math.erf(x)


def erfc_scalar(x: float) -> float:
    return math.erfc(x)


def gammaln_scalar(x: float) -> float:
    """log|gamma(x)|: inf at the poles 0, -1, -2, ... (math.lgamma raises there), and SciPy's -inf
    at -inf."""
    if math.isnan(x) or math.isinf(x):
        return x
    if x <= 0.0 and x == math.floor(x):
        return math.inf
    return math.lgamma(x)


def digamma_scalar(x: float) -> float:
    """psi(x): the reflection psi(x) = psi(1 - x) - pi cot(pi x) for x < 0, the recurrence
    psi(x) = psi(x + 1) - 1/x up to x >= 6, then the asymptotic series. As SciPy: -inf at +0,
    +inf at -0, nan at the negative integers."""
    if math.isnan(x) or x == -math.inf:
        return math.nan
    if x == math.inf:
        return math.inf
    if x == 0.0:
        return math.copysign(math.inf, -x)
    acc = 0.0
    if x < 0.0:
        r = x - round(x)               # exact: cot(pi x) = cot(pi r) with |r| <= 1/2
        if r == 0.0:
            return math.nan
        acc = -math.pi * cot_pi(r)
        x = 1.0 - x
    while x < 6.0:
        acc -= 1.0 / x
        x += 1.0
    inv2 = 1.0 / x / x
    series = 0.0
    power = 1.0
    for k in range(len(BERNOULLI)):
        power *= inv2
        series += BERNOULLI[k] / (2 * (k + 1)) * power
    return acc + math.log(x) - 0.5 / x - series


def cot_pi(r: float) -> float:
    """cot(pi r) for |r| <= 1/2, exactly 0 at +-1/2: past 1/4 it is tan(pi (+-1/2 - r)), whose
    argument is exact."""
    if abs(r) > 0.25:
        return math.tan(math.pi * (math.copysign(0.5, r) - r))
    return 1.0 / math.tan(math.pi * r)


def inverse_power(x: float, k: int) -> float:
    """x**-k by products: 0 or inf past the float range, where Python's ** raises."""
    inv = 1.0 / x
    out = 1.0
    for _ in range(k):
        out *= inv
    return out


def cot_derivative(n: int, r: float) -> float:
    """d^n/dx^n cot(pi x) at x = r: a polynomial in c = cot(pi r), P_0(c) = c and
    P_k+1(c) = -pi (1 + c**2) P_k'(c)."""
    c = cot_pi(r)
    coef = np.zeros(n + 2)
    coef[1] = 1.0
    for _ in range(n):
        new = np.zeros(n + 2)
        for j in range(1, n + 2):
            d = j * coef[j]
            new[j - 1] -= math.pi * d
            if j + 1 < n + 2:
                new[j + 1] -= math.pi * d
        coef = new
    value = 0.0
    for j in range(n + 1, -1, -1):
        value = value * c + coef[j]
    return value


def polygamma_positive(n: int, x: float) -> float:
    """psi^(n)(x) for n >= 1 and x > 0: (-1)**(n+1) n! sum over k of 1/(x + k)**(n+1), by the
    recurrence up to x >= 8 + 2n and then the asymptotic series
    (n-1)!/x**n + n!/(2 x**(n+1)) + sum over k of B_2k (2k+n-1)!/((2k)! x**(2k+n))."""
    fact = math.gamma(n + 1.0)
    acc = 0.0
    while x < 8.0 + 2.0 * n:
        acc += inverse_power(x, n + 1)
        x += 1.0
    ratio = math.gamma(float(n)) * inverse_power(x, n)   # (2k+n-1)!/((2k)! x**(2k+n)), k = 0, 1, ...
    series = ratio + 0.5 * fact * inverse_power(x, n + 1)
    inv2 = 1.0 / x / x
    for k in range(1, len(BERNOULLI) + 1):
        ratio *= (2 * k + n - 2) * (2 * k + n - 1) / ((2 * k - 1) * (2 * k)) * inv2
        series += BERNOULLI[k - 1] * ratio
    value = fact * acc + series
    return value if n % 2 == 1 else -value


def polygamma_scalar(n: int, x: float) -> float:
    """psi^(n)(x), the n-th derivative of digamma: +-inf at the poles, as SciPy; for x < 0 the
    reflection psi^(n)(x) = (-1)**n psi^(n)(1 - x) - pi d^n/dx^n cot(pi x)."""
    if n == 0:
        return digamma_scalar(x)
    if math.isnan(x):
        return math.nan
    if x == math.inf:
        return 0.0
    if x == -math.inf or (x <= 0.0 and x == math.floor(x)):      # SciPy's value at -inf too
        return math.inf if n % 2 == 1 else -math.inf
    r = x - round(x)
    if x < 0.0:
        mirrored = polygamma_positive(n, 1.0 - x)
        if n % 2 == 1:
            mirrored = -mirrored
        return mirrored - math.pi * cot_derivative(n, r)
    return polygamma_positive(n, x)


def xlogy_scalar(x: float, y: float) -> float:
    """x log(y), 0 where x = 0 (unless y is nan), as scipy.special.xlogy."""
    if math.isnan(y):
        return math.nan
    if x == 0.0:
        return 0.0
    if y < 0.0:
        return math.nan
    if y == 0.0:
        return -math.inf * x
    return x * math.log(y)


def heaviside_scalar(x: float, h: float) -> float:
    """0 for x < 0, h at 0, 1 for x > 0, nan for nan: np.heaviside."""
    if math.isnan(x):
        return math.nan
    if x < 0.0:
        return 0.0
    if x > 0.0:
        return 1.0
    return h


# --- the helpers generated code calls (Python target) ----------------------------------------

_SCIPY = None


def _scipy():
    """scipy.special, or None where SciPy is not installed."""
    global _SCIPY
    if _SCIPY is None:
        try:
            import scipy.special as special
        except ImportError:
            special = False
        _SCIPY = special
    return _SCIPY or None


def _each(scalar, *args):
    """scalar(...) of every element, broadcast as NumPy broadcasts; a number for numbers."""
    if all(np.ndim(a) == 0 for a in args):
        return np.float64(scalar(*[float(a) for a in args]))
    return np.vectorize(scalar, otypes=[np.float64])(*args)


def erf(x):
    special = _scipy()
    return special.erf(x) if special else _each(erf_scalar, x)


def erfc(x):
    special = _scipy()
    return special.erfc(x) if special else _each(erfc_scalar, x)


def gammaln(x):
    special = _scipy()
    return special.gammaln(x) if special else _each(gammaln_scalar, x)


def digamma(x):
    special = _scipy()
    return special.digamma(x) if special else _each(digamma_scalar, x)


def polygamma(n, x):
    special = _scipy()
    if special:
        return special.polygamma(n, x)
    return _each(lambda v: polygamma_scalar(int(n), v), x)


def xlogy(x, y):
    special = _scipy()
    return special.xlogy(x, y) if special else _each(xlogy_scalar, x, y)


def heaviside(x, h):
    return np.heaviside(x, h)
