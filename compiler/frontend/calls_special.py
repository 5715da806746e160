"""How the NumPy calls of one area lower to primitives: scipy.special and the elementwise functions with their own argument conventions.
Handlers are registered into the dispatch tables of calls.py (NUMPY: np.NAME, METHODS: x.NAME(...),
LINALG: np.linalg.NAME, SCIPY_SPECIAL: scipy.special.NAME, MATH: math.NAME); elementwise functions
of one or two arrays go into its UNARY and BINARY tables.

logsumexp, softmax and log_softmax are compositions of existing primitives, so their derivative
rules come from those: they subtract the maximum along the axis first (SciPy's stable form), held
constant by stop_gradient, which is exact because the maximum cancels from the value."""
from __future__ import annotations

import ast

from ..ir.types import FLOAT
from .calls import NUMPY, SCIPY_SPECIAL, MATH, UNARY, BINARY, bind_args, static, axis_of

UNARY.update({name: name for name in ("exp2", "cbrt", "sinc", "arcsinh", "arccosh", "arctanh",
                                      "deg2rad", "rad2deg", "isnan", "isinf", "isfinite")})
UNARY.update({"asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "degrees": "rad2deg",
              "radians": "deg2rad"})
BINARY.update({name: name for name in ("logaddexp", "logaddexp2", "fmax", "fmin", "copysign", "heaviside")})
BINARY.update({"remainder": "mod"})
MATH.update({"erf": "erf", "erfc": "erfc", "lgamma": "gammaln"})

_MAX_FLOAT = 1.7976931348623157e308


def _unary(op):
    def handler(lw, e, qual):
        a = bind_args(lw, e, qual, ["x"], 1)
        return lw.b.op(op, lw.value(a["x"]))
    return handler


def _binary(op):
    def handler(lw, e, qual):
        a = bind_args(lw, e, qual, ["x1", "x2"], 2)
        return lw.b.op(op, lw.value(a["x1"]), lw.value(a["x2"]))
    return handler


def _reciprocal(lw, e, qual):
    a = bind_args(lw, e, qual, ["x"], 1)
    x = lw.value(a["x"])
    if x.type.kind != FLOAT:
        lw.error(e, f"{qual} of integers rounds 1/x toward zero, which has no derivative",
                 hint="write 1.0 / x for the float reciprocal")
    return lw.b.op("truediv", 1.0, x)


def _identity(lw, e, qual):
    """np.real and np.conj of a real array: the array itself (NumPy returns it, not a copy)."""
    a = bind_args(lw, e, qual, ["val"], 1)
    return lw.value(a["val"])


def _replacement(lw, a, key, default, qual, e):
    node = a.get(key)
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return lw.b.const(default)
    v = lw.value(node)
    if v.rank:
        lw.error(e, f"{qual}: {key}= must be a number")
    return v


def _nan_to_num(lw, e, qual):
    a = bind_args(lw, e, qual, ["x", "copy", "nan", "posinf", "neginf"], 1)
    if static(lw, a.get("copy"), "copy") is False:
        lw.error(e, f"{qual}(copy=False) writes into its argument, which is not supported",
                 hint="leave copy at its default and use the result")
    x = lw.value(a["x"])
    if x.type.kind != FLOAT:        # no NaN or infinity to replace: NumPy returns a copy
        return lw.b.op("copy", x) if x.rank else x
    return lw.b.op("nan_to_num", x, _replacement(lw, a, "nan", 0.0, qual, e),
                   _replacement(lw, a, "posinf", _MAX_FLOAT, qual, e),
                   _replacement(lw, a, "neginf", -_MAX_FLOAT, qual, e))


NUMPY.update({"reciprocal": _reciprocal, "nan_to_num": _nan_to_num, "real": _identity,
              "conj": _identity, "conjugate": _identity})


# --- scipy.special ---------------------------------------------------------------------------

def _polygamma(lw, e, qual):
    a = bind_args(lw, e, qual, ["n", "x"], 2)
    n = static(lw, a["n"], f"{qual}'s order n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        lw.error(e, f"{qual}: the order n must be a non-negative integer constant, got {n!r}")
    x = lw.value(a["x"])
    return lw.b.op("digamma", x) if n == 0 else lw.b.op("polygamma", n, x)


def _shifted(lw, x, axis, finite_only):
    """x minus its maximum along `axis` (kept as an axis of length 1), the maximum held constant;
    finite_only: a maximum that is not finite is taken as 0, as SciPy does, so that -inf rows give
    -inf and an inf gives inf instead of nan."""
    b = lw.b
    m = b.op("max", x, axis=axis, keepdims=True) if x.rank > 1 else b.op("max", x, axis=None)
    if finite_only:
        m = b.op("where", b.op("isfinite", m), m, 0.0)
    m = b.op("stop_gradient", m)
    return b.op("sub", x, m), m


def _softmax_axis(lw, e, qual, a, x):
    if x.rank == 0:
        lw.error(e, f"{qual} of a number", hint="pass an array")
    return axis_of(lw, a.get("axis"), x.rank, many=True)


def _logsumexp(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "axis", "b", "keepdims", "return_sign"], 1)
    if a.get("b") is not None and not (isinstance(a["b"], ast.Constant) and a["b"].value is None):
        lw.error(e, f"{qual}: the weights b= are not supported", hint="add log(b) to the argument instead")
    if a.get("return_sign") is not None and static(lw, a["return_sign"], "return_sign") is not False:
        lw.error(e, f"{qual}: return_sign=True is not supported", hint="the sum of exponentials is positive without b=")
    x = lw.value(a["a"])
    if x.rank == 0:
        return x
    b = lw.b
    axis = _softmax_axis(lw, e, qual, a, x)
    keep = bool(static(lw, a.get("keepdims"), "keepdims") or False)
    shifted, m = _shifted(lw, x, axis if x.rank > 1 else None, True)
    total = b.op("sum", b.op("exp", shifted), axis=axis if x.rank > 1 else None, keepdims=keep)
    if not keep and m.rank:
        m = b.op("max", m, axis=axis) if axis is not None else b.op("max", m, axis=None)
    return b.op("add", b.op("log", total), m)


def _softmax(lw, e, qual):
    a = bind_args(lw, e, qual, ["x", "axis"], 1)
    x = lw.value(a["x"])
    axis = _softmax_axis(lw, e, qual, a, x)
    b = lw.b
    shifted, _ = _shifted(lw, x, axis if x.rank > 1 else None, False)
    ex = b.op("exp", shifted)
    return b.op("truediv", ex, b.op("sum", ex, axis=axis if x.rank > 1 else None, keepdims=x.rank > 1))


def _log_softmax(lw, e, qual):
    a = bind_args(lw, e, qual, ["x", "axis"], 1)
    x = lw.value(a["x"])
    axis = _softmax_axis(lw, e, qual, a, x)
    b = lw.b
    shifted, _ = _shifted(lw, x, axis if x.rank > 1 else None, True)
    total = b.op("sum", b.op("exp", shifted), axis=axis if x.rank > 1 else None, keepdims=x.rank > 1)
    return b.op("sub", shifted, b.op("log", total))


SCIPY_SPECIAL.update({
    "expit": _unary("sigmoid"), "logit": _unary("logit"), "erf": _unary("erf"), "erfc": _unary("erfc"),
    "gammaln": _unary("gammaln"), "digamma": _unary("digamma"), "psi": _unary("digamma"),
    "polygamma": _polygamma, "xlogy": _binary("xlogy"),
    "logsumexp": _logsumexp, "softmax": _softmax, "log_softmax": _log_softmax,
})
