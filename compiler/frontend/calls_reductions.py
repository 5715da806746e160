"""How the NumPy calls of one area lower to primitives: reductions (var, std, cumprod, diff,
nan-reductions, average, argmax, builtin sum) and sorting and selection (sort, argsort, partition,
take, take_along_axis, select, searchsorted). Handlers are registered into the dispatch tables of
calls.py (NUMPY: np.NAME, METHODS: x.NAME(...)).

Conventions:
- Reductions take a tuple of axes (sum, mean, max, min, prod, var, std, nansum, nanmean, average);
  ties in max and min share the derivative equally over all the reduced axes.
- np.std where the variance is 0: the derivative is nan (d sqrt(v)/dv is infinite at 0), in both
  modes, as NumPy's own formula would give; the value is 0.
- np.var and np.std with ddof at least the number of elements reduced divide by 0 (inf or nan,
  as NumPy), never by a negative count.
- np.nansum, np.nanmean: the derivative with respect to a NaN element is 0 (a function of x with a
  nan derivative there, such as x * x, still gives 0 * nan = nan); a lane of only NaN has the mean
  nan (as NumPy, without its warning) and zero gradients.
- np.cumprod: derivatives exact where elements are zero, first and second order.
- np.sort, np.partition: stable, so among equal elements the one first in the input goes first in
  the output and takes that output's derivative. np.partition returns the fully sorted array, a
  valid partition (NumPy leaves the order inside each part unspecified, so it may differ there);
  np.argsort and np.argpartition give the stable order too (NumPy's default kind may order equal
  elements otherwise).
- np.argmax, np.argmin, np.argsort, np.searchsorted: integers, no derivative; argmax and argmin give
  the first of equal extremes, as NumPy.
- np.take, np.take_along_axis: repeated indices add up in the adjoint.
- np.average: weights broadcast against a (NumPy requires a's shape, or 1-D along axis); weights
  that sum to 0 give inf or nan (NumPy raises ZeroDivisionError).
- builtin sum of a list or tuple adds its items in order; of an array, it is np.sum(x, axis=0)."""
from __future__ import annotations

import ast

from ..ir.primitives import PRIMITIVES
from ..ir.builder import Sym
from ..ir.types import FLOAT, INT, BOOL
from .calls import NUMPY, METHODS, bind_args, static, axis_of, array_of, reduce, sequence
from . import lists

_FULL = ("slice", False, False, False)


# --- helpers ---
def _refuse(lw, e, qual, a, *names):
    """Arguments NumPy takes that have no meaning here (dtype, out, order): only None is accepted."""
    for name in names:
        node = a.get(name)
        if node is not None and not (isinstance(node, ast.Constant) and node.value is None):
            lw.error(e, f"{qual}() does not support {name}= here", hint=f"leave {name} out")


def _bound(lw, e, qual, names, required, args, base):
    """Bind a call's arguments; for the method form (base given) the first name is the array."""
    if base is None:
        a = bind_args(lw, e, qual, names, required, args)
        return a, array_of(lw, a[names[0]])
    return bind_args(lw, e, qual, names[1:], max(required - 1, 0), args), base


def _keepdims(lw, a):
    return bool(static(lw, a.get("keepdims"), "keepdims") or False)


def _count(b, x, axis):
    """How many elements each lane of a reduction over `axis` (None, int or tuple) holds."""
    if x.rank == 0:
        return b.const(1)
    if axis is None:
        return b.op("size", x)
    n = None
    for k in (axis if isinstance(axis, tuple) else (axis,)):
        d = b.op("dim", x, axis=k)
        n = d if n is None else n * d
    return n


def _isnan(b, x):
    """A mask of the NaN elements (x != x where np.isnan is not declared)."""
    return b.op("isnan", x) if "isnan" in PRIMITIVES else b.op("ne", x, x)


def _slice_along(b, x, axis, start=None, stop=None):
    entry = ("slice", start is not None, stop is not None, False)
    operands = [b.const(v) for v in (start, stop) if v is not None]
    return b.op("getitem", x, *operands, index=(_FULL,) * axis + (entry,))


def _need_array(lw, e, qual, x):
    if x.rank == 0:
        lw.error(e, f"{qual}() needs an array, got a number")


def _indices_of(lw, node, qual):
    v = array_of(lw, node)
    if v.type.kind != INT:
        lw.error(node, f"{qual}() needs integer indices, got {v.type}",
                 hint="convert them with .astype(int) outside, or compute them with np.argsort/np.argmax")
    return v


def _axis(lw, node, x, default=-1):
    """A single axis (counted from 0), the default when the argument is left out; None stays None
    only when written."""
    if node is None:
        return default % x.rank if default is not None else None
    return axis_of(lw, node, x.rank)


# --- var and std ---
def variance(lw, x, axis_node, ddof, keep: bool, root: bool):
    """sum((x - mean)^2) / max(n - ddof, 0), over the axes, and its square root for std."""
    b = lw.b
    axis = axis_of(lw, axis_node, max(x.rank, 1), many=True)
    if x.rank <= 1:
        if x.rank == 0 and axis is not None:
            lw.error(axis_node, "a number has no axis to reduce")
        axis = None
    if x.rank == 0:
        d = x - x
        s = b.op("square", d)
    else:
        d = x - b.op("mean", x, axis=axis, keepdims=True)
        s = b.op("sum", b.op("square", d), axis=axis, keepdims=keep)
    n = _count(b, x, axis)
    if ddof is not None and not (ddof.is_const and ddof.const_value() == 0):
        n = b.op("maximum", n - ddof, 0)
    v = s / n
    return b.op("sqrt", v) if root else v


def _moment(root: bool):
    def handler(lw, e, qual, args=None, base=None):
        names = ["a", "axis", "dtype", "out", "ddof", "keepdims"]
        a, x = _bound(lw, e, qual, names, 1, args, base)
        _refuse(lw, e, qual, a, "dtype", "out")
        ddof = lw.value(a["ddof"]) if a.get("ddof") is not None else None
        if ddof is not None and ddof.rank:
            lw.error(a["ddof"], f"{qual}(): ddof must be a number")
        return variance(lw, x, a.get("axis"), ddof, _keepdims(lw, a), root)
    return handler


# --- nansum, nanmean ---
def _nan_reduction(op: str):
    def handler(lw, e, qual, args=None, base=None):
        a, x = _bound(lw, e, qual, ["a", "axis", "dtype", "out", "keepdims"], 1, args, base)
        _refuse(lw, e, qual, a, "dtype", "out")
        keep, b = _keepdims(lw, a), lw.b
        if x.type.kind != FLOAT:            # integers hold no NaN
            return reduce(lw, op, x, a.get("axis"), keep)
        nan = _isnan(b, x)
        clean = b.op("where", nan, 0.0, x)
        if x.rank == 0:
            return clean if op == "sum" else x
        total = reduce(lw, "sum", clean, a.get("axis"), keep)
        if op == "sum":
            return total
        return total / reduce(lw, "sum", b.op("logical_not", nan), a.get("axis"), keep)
    return handler


# --- cumprod, diff ---
def _cumulative(op: str):
    def handler(lw, e, qual, args=None, base=None):
        a, x = _bound(lw, e, qual, ["a", "axis", "dtype", "out"], 1, args, base)
        _refuse(lw, e, qual, a, "dtype", "out")
        if x.rank == 0:                     # a number is read as an array of one element
            x = lw.b.op("stack", x, axis=0)
        axis = axis_of(lw, a.get("axis"), x.rank)
        return lw.b.op(op, x, axis=None if x.rank == 1 else axis)
    return handler


def _diff(lw, e, qual, args=None, base=None):
    a = bind_args(lw, e, qual, ["a", "n", "axis", "prepend", "append"], 1, args)
    x = array_of(lw, a["a"])
    _need_array(lw, e, qual, x)
    if x.type.kind == BOOL:
        lw.error(e, "np.diff of booleans is not supported", hint="compare neighbours with x[1:] != x[:-1]")
    n = static(lw, a.get("n"), "n")
    n = 1 if n is None else n
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        lw.error(a.get("n") or e, f"np.diff: n must be a constant integer >= 0, got {n!r}")
    axis = _axis(lw, a.get("axis"), x)
    b = lw.b
    parts = [_edge(lw, a.get("prepend"), x, axis), x, _edge(lw, a.get("append"), x, axis)]
    parts = [p for p in parts if p is not None]
    if len(parts) > 1:
        x = b.op("concatenate", *parts, axis=axis)
    for _ in range(n):
        x = _slice_along(b, x, axis, start=1) - _slice_along(b, x, axis, stop=-1)
    return x


def _edge(lw, node, x, axis):
    """np.diff's prepend or append: an array of x's rank, or a number repeated over x's shape with
    length 1 along the axis."""
    if node is None:
        return None
    b = lw.b
    v = array_of(lw, node)
    if v.rank == x.rank:
        return v
    if v.rank:
        lw.error(node, f"np.diff: prepend and append must be numbers or arrays of rank {x.rank}")
    dims = [b.const(1) if k == axis else b.op("dim", x, axis=k) for k in range(x.rank)]
    return b.op("full", *dims, v)


# --- average ---
def _average(lw, e, qual, args=None, base=None):
    a = bind_args(lw, e, qual, ["a", "axis", "weights", "returned", "keepdims"], 1, args)
    x = array_of(lw, a["a"])
    keep, b = _keepdims(lw, a), lw.b
    returned = bool(static(lw, a.get("returned"), "returned") or False)
    if a.get("weights") is None:
        avg = reduce(lw, "mean", x, a.get("axis"), keep)
        axis = axis_of(lw, a.get("axis"), max(x.rank, 1), many=True)
        scale = _count(b, x, None if x.rank <= 1 else axis)
    else:
        w = array_of(lw, a["weights"])
        axis = axis_of(lw, a.get("axis"), max(x.rank, 1), many=True)
        if w.rank != x.rank:
            if w.rank != 1 or not isinstance(axis, int):
                lw.error(a["weights"], "np.average: weights must have a's shape, or be 1-D along one given axis")
            for _ in range(x.rank - 1 - axis):      # along the axis: trailing axes of length 1
                w = b.op("expand_dims", w, axis=w.rank)
        ones = b.op("ones_like", x) if x.rank else b.const(1.0)
        scale = reduce(lw, "sum", ones * w, a.get("axis"), keep)
        avg = reduce(lw, "sum", x * w, a.get("axis"), keep) / scale
    if not returned:
        return avg
    if avg.rank == 0:
        return avg, b.op("float", scale)
    return avg, scale if scale.rank == avg.rank else b.op("ones_like", avg) * scale


# --- argmax, argmin ---
def _arg_extremum(op: str):
    def handler(lw, e, qual, args=None, base=None):
        a, x = _bound(lw, e, qual, ["a", "axis", "out", "keepdims"], 1, args, base)
        _refuse(lw, e, qual, a, "out")
        keep = _keepdims(lw, a)
        if x.rank == 0:
            if a.get("axis") is not None:
                lw.error(a["axis"], "a number has no axis to reduce")
            return lw.b.const(0)
        axis = axis_of(lw, a.get("axis"), x.rank, f"{qual}() axis")
        return lw.b.op(op, x, axis=None if x.rank == 1 else axis, keepdims=keep)
    return handler


# --- builtin sum ---
def builtin_sum(lw, e):
    """sum(items[, start]): items a list or tuple of numbers and arrays (added in order), an array
    (summed along its first axis, as np.sum(x, axis=0)) or a list used as a stack."""
    b = lw.b
    if any(isinstance(n, ast.Starred) for n in e.args) or len(e.args) not in (1, 2):
        lw.error(e, "sum() takes an iterable and an optional start value")
    for kw in e.keywords:
        if kw.arg != "start" or len(e.args) == 2:
            lw.error(e, f"sum() does not take the keyword {kw.arg!r} here")
    node = e.args[0]
    start = e.args[1] if len(e.args) == 2 else next((kw.value for kw in e.keywords), None)
    if isinstance(node, (ast.GeneratorExp, ast.ListComp)):
        lw.error(node, "sum() of a generator or comprehension is not supported",
                 hint="write np.sum of an array expression, or sum([a, b, c]) of a literal list")
    v = lw.expr(node)
    if isinstance(v, lists.ListRef):
        total = reduce(lw, "sum", lists.as_array(lw, v, node), ast.Constant(0), False)
    elif isinstance(v, tuple):
        for item in v:
            if not isinstance(item, Sym):
                lw.error(node, "sum() of nested tuples is not supported", hint="sum numbers or arrays")
        if not v:
            return lw.value(start) if start is not None else b.const(0)
        total = v[0] if len(v) > 1 else b.op("add", b.const(0), v[0])
        for item in v[1:]:
            total = total + item
    else:
        x = lw.value(node)
        if x.rank == 0:
            lw.error(node, "sum() of a number: a number is not iterable", hint="sum a list, tuple or array")
        total = reduce(lw, "sum", x, ast.Constant(0), False)
    return total if start is None else lw.value(start) + total


# --- sorting ---
def _sorted_axis(lw, a, x):
    """x and the axis to sort along: x flattened for axis=None."""
    node = a.get("axis")
    if node is not None and static(lw, node, "axis") is None:
        return (x if x.rank == 1 else lw.b.op("ravel", x)), 0
    return x, _axis(lw, node, x)


def _check_kind(lw, e, qual, a):
    kind = static(lw, a.get("kind"), "kind")
    if kind not in (None, "quicksort", "mergesort", "heapsort", "stable", "introselect"):
        lw.error(e, f"{qual}(): unknown kind {kind!r}")
    stable = static(lw, a.get("stable"), "stable")
    if stable not in (None, True, False):
        lw.error(e, f"{qual}(): stable must be True, False or None")


def _argsort(lw, e, qual, args=None, base=None):
    a, x = _bound(lw, e, qual, ["a", "axis", "kind", "order", "stable"], 1, args, base)
    _refuse(lw, e, qual, a, "order")
    _check_kind(lw, e, qual, a)
    _need_array(lw, e, qual, x)
    x, axis = _sorted_axis(lw, a, x)
    return lw.b.op("argsort", x, axis=axis)


def _sort(lw, e, qual, args=None, base=None):
    if base is not None:
        lw.error(e, "x.sort() sorts in place, which is not supported", hint="write x = np.sort(x)")
    a = bind_args(lw, e, qual, ["a", "axis", "kind", "order", "stable"], 1, args)
    _refuse(lw, e, qual, a, "order")
    _check_kind(lw, e, qual, a)
    x = array_of(lw, a["a"])
    _need_array(lw, e, qual, x)
    x, axis = _sorted_axis(lw, a, x)
    return lw.b.op("take_along_axis", x, lw.b.op("argsort", x, axis=axis), axis=axis)


def _kth(lw, node, qual):
    kth = static(lw, node, "kth")
    kth = kth if isinstance(kth, (tuple, list)) else (kth,)
    if not kth or not all(isinstance(k, int) and not isinstance(k, bool) for k in kth):
        lw.error(node, f"{qual}(): kth must be a constant integer or a tuple of them")
    return tuple(kth)


def _partition_order(lw, e, qual, args, base):
    """x (flattened for axis=None), the indices that partition it, and the axis."""
    a, x = _bound(lw, e, qual, ["a", "kth", "axis", "kind", "order"], 2, args, base)
    _refuse(lw, e, qual, a, "order")
    _check_kind(lw, e, qual, a)
    _need_array(lw, e, qual, x)
    x, axis = _sorted_axis(lw, a, x)
    return x, lw.b.op("argpartition", x, kth=_kth(lw, a["kth"], qual), axis=axis), axis


def _argpartition(lw, e, qual, args=None, base=None):
    return _partition_order(lw, e, qual, args, base)[1]


def _partition(lw, e, qual, args=None, base=None):
    if base is not None:
        lw.error(e, "x.partition() partitions in place, which is not supported",
                 hint="write x = np.partition(x, kth)")
    x, order, axis = _partition_order(lw, e, qual, args, None)
    return lw.b.op("take_along_axis", x, order, axis=axis)


# --- take, take_along_axis, select, searchsorted ---
def _take(lw, e, qual, args=None, base=None):
    a, x = _bound(lw, e, qual, ["a", "indices", "axis", "out", "mode"], 2, args, base)
    _refuse(lw, e, qual, a, "out")
    if static(lw, a.get("mode"), "mode") not in (None, "raise"):
        lw.error(e, f"{qual}(): only mode='raise' is supported", hint="clip or wrap the indices first")
    _need_array(lw, e, qual, x)
    idx, b = _indices_of(lw, a["indices"], qual), lw.b
    axis = None if a.get("axis") is None else axis_of(lw, a["axis"], x.rank)
    if axis is None or x.rank == 1:
        flat = x if x.rank == 1 else b.op("ravel", x)
        return b.op("getitem", flat, idx, index=(("int",),))
    if idx.rank == 0:
        return b.op("getitem", x, idx, index=(_FULL,) * axis + (("int",),))
    out = b.op("take", x, idx if idx.rank == 1 else b.op("ravel", idx), axis=axis)
    if idx.rank == 1:
        return out
    dims = ([b.op("dim", x, axis=k) for k in range(axis)] + [b.op("dim", idx, axis=k) for k in range(idx.rank)]
            + [b.op("dim", x, axis=k) for k in range(axis + 1, x.rank)])
    return b.op("reshape", out, *dims)


def _take_along_axis(lw, e, qual, args=None, base=None):
    a = bind_args(lw, e, qual, ["arr", "indices", "axis"], 2, args)
    x, idx = array_of(lw, a["arr"]), _indices_of(lw, a["indices"], qual)
    _need_array(lw, e, qual, x)
    node = a.get("axis")
    if node is not None and static(lw, node, "axis") is None:
        if idx.rank != 1:
            lw.error(e, f"{qual}() with axis=None needs 1-D indices")
        return lw.b.op("take_along_axis", x if x.rank == 1 else lw.b.op("ravel", x), idx, axis=0)
    if idx.rank != x.rank:
        lw.error(e, f"{qual}(): the indices must have the array's rank ({x.rank}), got rank {idx.rank}")
    return lw.b.op("take_along_axis", x, idx, axis=_axis(lw, node, x))


def _select(lw, e, qual, args=None, base=None):
    a = bind_args(lw, e, qual, ["condlist", "choicelist", "default"], 2, args)
    conds = sequence(lw, a["condlist"], qual)
    choices = sequence(lw, a["choicelist"], qual)
    if len(conds) != len(choices) or not conds:
        lw.error(e, f"{qual}(): condlist and choicelist need the same number of entries, at least one")
    for c in conds:
        if c.type.kind != BOOL:
            lw.error(a["condlist"], f"{qual}(): every condition must be boolean, got {c.type}")
    out = lw.value(a["default"]) if a.get("default") is not None else lw.b.const(0)
    for c, v in reversed(list(zip(conds, choices))):       # the first true condition wins
        out = lw.b.op("where", c, v, out)
    return out


def _searchsorted(lw, e, qual, args=None, base=None):
    a, x = _bound(lw, e, qual, ["a", "v", "side", "sorter"], 2, args, base)
    _refuse(lw, e, qual, a, "sorter")
    if x.rank != 1:
        lw.error(e, f"{qual}() needs a 1-D sorted array, got {x.type}")
    side = static(lw, a.get("side"), "side") or "left"
    if side not in ("left", "right"):
        lw.error(e, f"{qual}(): side must be 'left' or 'right', got {side!r}")
    params = {} if side == "left" else {"side": side}
    return lw.b.op("searchsorted", x, array_of(lw, a["v"]), **params)


NUMPY.update({
    "var": _moment(False), "std": _moment(True), "nansum": _nan_reduction("sum"),
    "nanmean": _nan_reduction("mean"), "cumprod": _cumulative("cumprod"), "cumsum": _cumulative("cumsum"),
    "diff": _diff, "average": _average, "argmax": _arg_extremum("argmax"), "argmin": _arg_extremum("argmin"),
    "sort": _sort, "argsort": _argsort, "partition": _partition, "argpartition": _argpartition,
    "take": _take, "take_along_axis": _take_along_axis, "select": _select, "searchsorted": _searchsorted,
})
METHODS.update({
    "var": _moment(False), "std": _moment(True), "cumprod": _cumulative("cumprod"),
    "cumsum": _cumulative("cumsum"), "argmax": _arg_extremum("argmax"), "argmin": _arg_extremum("argmin"),
    "sort": _sort, "argsort": _argsort, "partition": _partition, "argpartition": _argpartition,
    "take": _take, "searchsorted": _searchsorted,
})
