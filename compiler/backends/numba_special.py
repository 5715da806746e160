"""Numba versions of the helpers in support_special.py (special functions): the scalar functions
there, compiled as they are, applied to a number or to every element of an array (binary ones with
NumPy's broadcasting). Operands become floats as `x * 1.0`, which keeps the sign of -0.0 (digamma(-0.0)
is +inf) and takes bools."""
from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload, register_jitable

from . import support_special as sp

for _f in (sp.erf_scalar, sp.erfc_scalar, sp.gammaln_scalar, sp.digamma_scalar, sp.cot_pi,
           sp.inverse_power, sp.cot_derivative, sp.polygamma_positive, sp.polygamma_scalar,
           sp.xlogy_scalar, sp.heaviside_scalar):
    register_jitable(_f)

_NUMBER = (types.Number, types.Boolean)


def _unary(helper, scalar):
    @overload(helper)
    def ol(x):
        if isinstance(x, _NUMBER):
            return lambda x: scalar(x * 1.0)
        if isinstance(x, types.Array):
            def impl(x):
                out = np.empty(x.shape)
                for idx in np.ndindex(x.shape):
                    out[idx] = scalar(x[idx] * 1.0)
                return out
            return impl
    return ol


def _binary(helper, scalar):
    @overload(helper)
    def ol(x, y):
        if isinstance(x, _NUMBER) and isinstance(y, _NUMBER):
            return lambda x, y: scalar(x * 1.0, y * 1.0)

        def impl(x, y):
            bx, by = np.broadcast_arrays(np.asarray(x).astype(np.float64), np.asarray(y).astype(np.float64))
            out = np.empty(bx.shape)
            for idx in np.ndindex(bx.shape):
                out[idx] = scalar(bx[idx], by[idx])
            return out
        return impl
    return ol


_unary(sp.erf, sp.erf_scalar)
_unary(sp.erfc, sp.erfc_scalar)
_unary(sp.gammaln, sp.gammaln_scalar)
_unary(sp.digamma, sp.digamma_scalar)
_binary(sp.xlogy, sp.xlogy_scalar)
_binary(sp.heaviside, sp.heaviside_scalar)


@overload(sp.polygamma)
def _ol_polygamma(n, x):
    scalar = sp.polygamma_scalar
    if isinstance(x, _NUMBER):
        return lambda n, x: scalar(int(n), x * 1.0)
    if isinstance(x, types.Array):
        def impl(n, x):
            out = np.empty(x.shape)
            for idx in np.ndindex(x.shape):
                out[idx] = scalar(int(n), x[idx] * 1.0)
            return out
        return impl
