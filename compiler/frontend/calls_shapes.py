"""How the NumPy calls of one area lower to primitives: shape functions (swapaxes, moveaxis, flip, roll, tile, repeat, pad, split, broadcast_to, linspace...).
Handlers are registered into the dispatch tables of calls.py (NUMPY: np.NAME, METHODS: x.NAME(...),
LINALG: np.linalg.NAME, INDEXED: np.NAME[...]).

Most of these are compositions of primitives whose rules exist (transpose, flip, getitem slices,
concatenate, expand_dims, full); roll, tile, repeat and broadcast_to are primitives of their own
(rules/shapes.py), since Numba lacks them along an axis. Axes, repetition counts, pad widths and
split points are constants written in the source; roll's shift, repeat's count and linspace's
number of samples may be integer variables."""
from __future__ import annotations

import ast

import numpy as np

from ..ir.builder import Sym
from ..ir.types import FLOAT, INT, BOOL
from .calls import NUMPY, METHODS, INDEXED, bind_args, static, dims, sequence, dtype_of

_WHOLE = ("slice", False, False, False)


# --- arguments ---
def _array(lw, node, what: str, min_rank: int = 1) -> Sym:
    x = lw.value(node)
    if x.rank < min_rank:
        lw.error(node, f"{what} needs an array of rank {min_rank} or more, got {x.type}")
    return x


def _int(lw, node, what: str) -> int:
    v = static(lw, node, what)
    if not isinstance(v, int) or isinstance(v, bool):
        lw.error(node, f"{what} must be an integer written in the source, got {v!r}")
    return v


def _axis(lw, node, rank: int, what: str, extra: int = 0) -> int:
    """One constant axis in -rank..rank-1 (up to rank-1+extra: rollaxis may start after the last
    axis), made non-negative."""
    k = _int(lw, node, what)
    if not -rank <= k < rank + extra:
        lw.error(node, f"{what}={k} is out of range for an array of rank {rank}")
    return k + rank if k < 0 else k


def _axes(lw, node, rank: int, what: str) -> tuple:
    """A constant axis or tuple of distinct axes, made non-negative."""
    v = static(lw, node, what)
    items = v if isinstance(v, (tuple, list)) else (v,)
    out = []
    for k in items:
        if not isinstance(k, int) or isinstance(k, bool) or not -rank <= k < rank:
            lw.error(node, f"{what}={v!r} is out of range for an array of rank {rank}")
        if k % rank in out:
            lw.error(node, f"{what}={v!r} names an axis twice")
        out.append(k % rank)
    return tuple(out)


def _int_value(lw, node, what: str) -> Sym:
    """An integer number: a literal or an integer variable."""
    v = lw.value(node)
    if v.rank != 0 or v.type.kind not in (INT, BOOL):
        lw.error(node, f"{what} must be an integer, got {v.type}", hint="convert with int(...)")
    return v


def _slice(b, x: Sym, axis: int, start, stop) -> Sym:
    """x[..., start:stop, ...] along one axis (None leaves a bound out)."""
    entry = ("slice", start is not None, stop is not None, False)
    operands = [v for v in (start, stop) if v is not None]
    return b.op("getitem", x, *operands, index=(_WHOLE,) * axis + (entry,))


def _at(b, x: Sym, axis: int, i) -> Sym:
    """x[..., i, ...] along one axis."""
    return b.op("getitem", x, i, index=(_WHOLE,) * axis + (("int",),))


def _vector(b, x: Sym) -> Sym:
    """A number as an array of one element."""
    return b.op("stack", x, axis=0)


# --- moving axes: transposes with a constant permutation ---
def _permute(lw, e, x: Sym, perm, qual: str) -> Sym:
    if sorted(perm) != list(range(x.rank)):
        lw.error(e, f"{qual}: axes {tuple(perm)} are not a permutation of the {x.rank} axes of {x.type}")
    return lw.b.op("transpose", x, axes=tuple(perm))


def _transpose_axes(lw, e, qual, x, nodes):
    """np.transpose(x, axes), x.transpose(), x.transpose(axes) and x.transpose(i, j, k)."""
    if not nodes or (len(nodes) == 1 and isinstance(nodes[0], ast.Constant) and nodes[0].value is None):
        return lw.b.op("transpose", x, axes=None)
    values = [static(lw, n, "axes") for n in nodes]
    axes = values[0] if len(values) == 1 and isinstance(values[0], (tuple, list)) else values
    if x.rank == 0:
        lw.error(e, f"{qual} of a number")
    for k in axes:
        if not isinstance(k, int) or isinstance(k, bool) or not -x.rank <= k < x.rank:
            lw.error(e, f"{qual}: axis {k!r} is out of range for an array of rank {x.rank}")
    return _permute(lw, e, x, [k % x.rank for k in axes], qual)


def _transpose(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "axes"], 1)
    x = lw.value(a["a"])
    return _transpose_axes(lw, e, qual, x, [a["axes"]] if "axes" in a else [])


def _transpose_method(lw, e, qual, args, base):
    if e.keywords:
        lw.error(e, "x.transpose() takes its axes by position", hint="write x.transpose(1, 0, 2)")
    return _transpose_axes(lw, e, qual, base, list(args))


def _swapaxes(lw, e, qual, args=None, base=None):
    names = ["a", "axis1", "axis2"] if base is None else ["axis1", "axis2"]
    a = bind_args(lw, e, qual, names, len(names), args)
    x = base if base is not None else _array(lw, a["a"], qual)
    if x.rank == 0:
        lw.error(e, f"{qual} needs an array, got a number")
    i, j = (_axis(lw, a[k], x.rank, k) for k in ("axis1", "axis2"))
    perm = list(range(x.rank))
    perm[i], perm[j] = perm[j], perm[i]
    return _permute(lw, e, x, perm, qual)


def _moveaxis(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "source", "destination"], 3)
    x = _array(lw, a["a"], qual)
    source = _axes(lw, a["source"], x.rank, "source")
    destination = _axes(lw, a["destination"], x.rank, "destination")
    if len(source) != len(destination):
        lw.error(e, f"{qual}: source and destination need the same number of axes")
    order = [k for k in range(x.rank) if k not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return _permute(lw, e, x, order, qual)


def _rollaxis(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "axis", "start"], 2)
    x = _array(lw, a["a"], qual)
    axis = _axis(lw, a["axis"], x.rank, "axis")
    start = _axis(lw, a["start"], x.rank, "start", extra=1) if "start" in a else 0
    if axis < start:
        start -= 1
    order = [k for k in range(x.rank) if k != axis]
    order.insert(start, axis)
    return _permute(lw, e, x, order, qual)


# --- reversing and rotating ---
def _flip_axes(b, x: Sym, axes) -> Sym:
    for k in axes:
        x = b.op("flip", x, axis=k)
    return x


def _flip(lw, e, qual):
    a = bind_args(lw, e, qual, ["m", "axis"], 1)
    x = lw.value(a["m"])
    if a.get("axis") is None or static(lw, a["axis"], "axis") is None:
        return _flip_axes(lw.b, x, range(x.rank))     # every axis; a number is itself
    if x.rank == 0:
        lw.error(e, f"{qual} of a number has no axis to flip")
    return _flip_axes(lw.b, x, _axes(lw, a["axis"], x.rank, "axis"))


def _flip_one(axis: int):
    def handler(lw, e, qual):
        a = bind_args(lw, e, qual, ["m"], 1)
        return lw.b.op("flip", _array(lw, a["m"], qual, axis + 1), axis=axis)
    return handler


def _rot90(lw, e, qual):
    a = bind_args(lw, e, qual, ["m", "k", "axes"], 1)
    x = _array(lw, a["m"], qual, 2)
    k = _int(lw, a["k"], "k") % 4 if "k" in a else 1
    axes = _axes(lw, a["axes"], x.rank, "axes") if "axes" in a else (0, 1)
    if len(axes) != 2:
        lw.error(e, f"{qual}: axes must name two different axes")
    b = lw.b
    if k == 0:
        return b.op("getitem", x, index=(_WHOLE,))
    if k == 2:
        return _flip_axes(b, x, axes)
    perm = list(range(x.rank))
    perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
    if k == 1:
        return b.op("transpose", b.op("flip", x, axis=axes[1]), axes=tuple(perm))
    return b.op("flip", b.op("transpose", x, axes=tuple(perm)), axis=axes[1])


# --- roll ---
def _shifts(lw, node):
    if isinstance(node, (ast.Tuple, ast.List)):
        return [_int_value(lw, x, "roll's shift") for x in node.elts]
    v = lw.value(node)
    if v.rank != 0 or v.type.kind not in (INT, BOOL):
        lw.error(node, f"roll's shift must be an integer or a tuple of integers, got {v.type}",
                 hint="an array of shifts is not supported: write a tuple")
    return [v]


def _total(b, shifts):
    acc = shifts[0]
    for s in shifts[1:]:
        acc = b.op("add", acc, s)
    return acc


def _roll(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "shift", "axis"], 2)
    x = lw.value(a["a"])
    shifts = _shifts(lw, a["shift"])
    b = lw.b
    if a.get("axis") is None or static(lw, a["axis"], "axis") is None:
        if x.rank == 0:
            return x
        flat = x if x.rank == 1 else b.op("ravel", x)
        rolled = b.op("roll", flat, _total(b, shifts), axis=0)
        return rolled if x.rank == 1 else b.op("reshape_like", rolled, x)
    if x.rank == 0:
        lw.error(e, f"{qual} of a number has no axis to roll along")
    value = static(lw, a["axis"], "axis")
    axes = list(value) if isinstance(value, (tuple, list)) else [value]
    for k in axes:
        if not isinstance(k, int) or isinstance(k, bool) or not -x.rank <= k < x.rank:
            lw.error(e, f"{qual}: axis {k!r} is out of range for an array of rank {x.rank}")
    if len(axes) == 1:
        axes = axes * len(shifts)
    elif len(shifts) == 1:
        shifts = shifts * len(axes)
    if len(axes) != len(shifts):
        lw.error(e, f"{qual}: {len(shifts)} shifts for {len(axes)} axes")
    per_axis: dict = {}
    for k, s in zip(axes, shifts):
        per_axis.setdefault(k % x.rank, []).append(s)
    for k in sorted(per_axis):
        x = b.op("roll", x, _total(b, per_axis[k]), axis=k)
    return x


# --- tile and repeat ---
def _tile(lw, e, qual):
    a = bind_args(lw, e, qual, ["A", "reps"], 2)
    x = lw.value(a["A"])
    value = static(lw, a["reps"], "reps")
    reps = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in reps):
        lw.error(a["reps"], f"{qual}: reps must be non-negative integers written in the source, got {value!r}")
    b = lw.b
    if x.rank == 0:
        x = _vector(b, x)
    while x.rank < len(reps):
        x = b.op("expand_dims", x, axis=0)
    reps = (1,) * (x.rank - len(reps)) + reps
    if all(r == 1 for r in reps):
        return b.op("copy", x)
    return b.op("tile", x, reps=reps)


def _repeat(lw, e, qual, args=None, base=None):
    names = ["a", "repeats", "axis"] if base is None else ["repeats", "axis"]
    a = bind_args(lw, e, qual, names, len(names) - 1, args)
    x = base if base is not None else lw.value(a["a"])
    node = a["repeats"]
    count = lw.value(node)
    if count.rank != 0 or count.type.kind not in (INT, BOOL):
        lw.error(node, f"{qual}: repeats must be one integer, got {count.type}",
                 hint="a count per element is not supported")
    b = lw.b
    if a.get("axis") is None or static(lw, a["axis"], "axis") is None:
        x = _vector(b, x) if x.rank == 0 else x if x.rank == 1 else b.op("ravel", x)
        return b.op("repeat", x, count, axis=0)
    if x.rank == 0:
        lw.error(e, f"{qual} of a number has no axis to repeat along")
    return b.op("repeat", x, count, axis=_axis(lw, a["axis"], x.rank, "axis"))


# --- pad ---
def _pad_widths(lw, node, rank: int, qual: str) -> list:
    value = static(lw, node, "pad_width")
    try:
        widths = np.broadcast_to(np.asarray(value), (rank, 2))
    except ValueError:
        widths = None
    if widths is None or widths.dtype.kind not in "iu" or (widths < 0).any():
        lw.error(node, f"{qual}: pad_width={value!r} is not an int, a (before, after) pair or one pair "
                       f"per axis of non-negative integers")
    return [(int(w[0]), int(w[1])) for w in widths]


def _fill(lw, x: Sym, c: Sym) -> Sym:
    """The constant in the array's kind, as np.pad assigns it."""
    b = lw.b
    if x.type.kind == FLOAT and c.type.kind != FLOAT:
        return b.const(float(c.const_value())) if c.is_const else b.op("float", c)
    if x.type.kind == INT and c.type.kind == FLOAT:
        return b.const(int(c.const_value())) if c.is_const else b.op("int", c)
    return c


def _pad_constant(lw, x: Sym, widths, c: Sym) -> Sym:
    b = lw.b
    fill = _fill(lw, x, c)
    for k, (before, after) in enumerate(widths):
        if not before and not after:
            continue
        sizes = [None if j == k else b.op("dim", x, axis=j) for j in range(x.rank)]
        block = lambda width: b.op("full", *[b.const(width) if s is None else s for s in sizes], fill)
        parts = [block(before)] if before else []
        parts.append(x)
        if after:
            parts.append(block(after))
        x = b.op("concatenate", *parts, axis=k)
    return x


def _edge(b, x: Sym, axis: int, i: int, width: int) -> Sym:
    """`width` copies of the element at index i along the axis (an IndexError on an empty axis, as
    np.pad raises on one)."""
    element = _at(b, x, axis, b.const(i))
    side = _vector(b, element) if element.rank == 0 else b.op("expand_dims", element, axis=axis)
    return side if width == 1 else b.op("repeat", side, b.const(width), axis=axis)


def _pad_edge(lw, x: Sym, widths) -> Sym:
    b = lw.b
    for k, (before, after) in enumerate(widths):
        if not before and not after:
            continue
        parts = [_edge(b, x, k, 0, before)] if before else []
        parts.append(x)
        if after:
            parts.append(_edge(b, x, k, -1, after))
        x = b.op("concatenate", *parts, axis=k)
    return x


def _pad(lw, e, qual):
    a = bind_args(lw, e, qual, ["array", "pad_width", "mode", "constant_values"], 2)
    x = _array(lw, a["array"], qual)
    if x.type.kind == BOOL:
        lw.error(e, f"{qual} of a boolean array is not supported")
    widths = _pad_widths(lw, a["pad_width"], x.rank, qual)
    mode = static(lw, a["mode"], "mode") if "mode" in a else "constant"
    if mode not in ("constant", "edge"):
        lw.error(a["mode"], f"{qual}: mode={mode!r} is not supported", hint="supported modes: 'constant', 'edge'")
    if mode == "edge":
        if "constant_values" in a:
            lw.error(e, f"{qual}: constant_values is for mode='constant'")
        return _pad_edge(lw, x, widths)
    node = a.get("constant_values")
    if isinstance(node, (ast.Tuple, ast.List)):
        lw.error(node, f"{qual}: constant_values must be one number",
                 hint="pad with one constant, then write the others with slices")
    c = lw.value(node) if node is not None else lw.b.const(0)
    if c.rank:
        lw.error(node, f"{qual}: constant_values must be one number, got {c.type}")
    return _pad_constant(lw, x, widths, c)


# --- adding axes and joining ---
def _at_least(rank: int):
    """np.atleast_1d/2d/3d: numbers and arrays of lower rank get axes of length 1, as NumPy places
    them ((n,) becomes (1, n) and (1, n, 1))."""
    def lift(b, x: Sym) -> Sym:
        if x.rank >= rank:
            return x
        if x.rank == 0:
            x = _vector(b, x)
        if x.rank == 1 and rank >= 2:
            x = b.op("expand_dims", x, axis=0)
        if x.rank == 2 and rank == 3:
            x = b.op("expand_dims", x, axis=2)
        return x

    def handler(lw, e, qual):
        if e.keywords or not e.args:
            lw.error(e, f"{qual} takes arrays by position")
        out = tuple(lift(lw.b, lw.value(n)) for n in e.args)
        return out[0] if len(out) == 1 else out
    handler.lift = lift
    return handler


_ATLEAST = {n: _at_least(n) for n in (1, 2, 3)}


def _append(lw, e, qual):
    a = bind_args(lw, e, qual, ["arr", "values", "axis"], 2)
    x, y = lw.value(a["arr"]), lw.value(a["values"])
    b = lw.b
    if a.get("axis") is None or static(lw, a["axis"], "axis") is None:
        flat = [_vector(b, v) if v.rank == 0 else v if v.rank == 1 else b.op("ravel", v) for v in (x, y)]
        return b.op("concatenate", *flat, axis=0)
    if x.rank == 0 or x.rank != y.rank:
        lw.error(e, f"{qual} along an axis needs two arrays of one rank, got {x.type} and {y.type}")
    return b.op("concatenate", x, y, axis=_axis(lw, a["axis"], x.rank, "axis"))


def _column(b, x: Sym) -> Sym:
    if x.rank == 0:
        x = _vector(b, x)
    return b.op("expand_dims", x, axis=1) if x.rank == 1 else x


def _joined(lw, e, xs, axis: int, qual: str) -> Sym:
    ranks = {x.rank for x in xs}
    if len(ranks) != 1:
        lw.error(e, f"{qual} needs arrays of one rank once lifted, got " + ", ".join(str(x.type) for x in xs))
    return lw.b.op("concatenate", *xs, axis=axis)


def _column_stack(lw, e, qual):
    a = bind_args(lw, e, qual, ["tup"], 1)
    xs = [_column(lw.b, x) for x in sequence(lw, a["tup"], qual)]
    return _joined(lw, e, xs, 1, qual)


def _dstack(lw, e, qual):
    a = bind_args(lw, e, qual, ["tup"], 1)
    xs = [_ATLEAST[3].lift(lw.b, x) for x in sequence(lw, a["tup"], qual)]
    return _joined(lw, e, xs, 2, qual)


# --- splitting: a tuple of slices ---
def _split(equal: bool):
    def handler(lw, e, qual):
        a = bind_args(lw, e, qual, ["ary", "indices_or_sections", "axis"], 2)
        x = _array(lw, a["ary"], qual)
        axis = _axis(lw, a["axis"], x.rank, "axis") if "axis" in a else 0
        node, b = a["indices_or_sections"], lw.b
        if isinstance(node, (ast.List, ast.Tuple)):
            points = [_int_value(lw, n, "a split index") for n in node.elts]
            bounds = [None] + points + [None]
            return tuple(_slice(b, x, axis, bounds[i], bounds[i + 1]) for i in range(len(points) + 1))
        sections = _int(lw, node, "the number of sections")
        if sections <= 0:
            lw.error(node, f"{qual}: the number of sections must be positive, got {sections}")
        n = b.op("dim", x, axis=axis)
        if equal:
            size = b.op("split_length", n, b.const(sections))
            bounds = [b.op("mul", b.const(i), size) if i else None for i in range(sections)] + [None]
        else:
            q = b.op("floordiv", n, b.const(sections))
            r = b.op("mod", n, b.const(sections))
            bounds = [None] + [b.op("add", b.op("mul", b.const(i), q), b.op("minimum", b.const(i), r))
                               for i in range(1, sections)] + [None]
        return tuple(_slice(b, x, axis, bounds[i], bounds[i + 1]) for i in range(sections))
    return handler


# --- broadcast_to and astype ---
def _broadcast_to(lw, e, qual):
    a = bind_args(lw, e, qual, ["array", "shape"], 2)
    x, sizes = lw.value(a["array"]), dims(lw, a["shape"])
    if x.rank > len(sizes):
        lw.error(e, f"{qual}: an array of rank {x.rank} cannot broadcast to {len(sizes)} axes")
    if x.rank == 0:
        return lw.b.op("full", *sizes, x)
    return lw.b.op("broadcast_to", x, *sizes)


_CASTS = {"float64": FLOAT, "float": FLOAT, "float_": FLOAT, "int64": INT, "int": INT,
          "intp": INT, "bool_": BOOL, "bool": BOOL}


def _astype(lw, e, qual, args, base):
    a = bind_args(lw, e, qual, ["dtype"], 1, args)
    node = a["dtype"]
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
    if name not in _CASTS:
        lw.error(node, f"{qual}: dtype {ast.unparse(node)} is not supported",
                 hint="cotangent computes in float64, int64 and bool: use np.float64, np.int64, float, int or bool")
    kind, b = dtype_of(lw, node), lw.b
    if kind == base.type.kind:
        return b.op("copy", base) if base.rank else base
    return _cast(lw, base, kind)


def _cast(lw, v: Sym, kind) -> Sym:
    """v in the kind a dtype= asks for (a float copy keeps its derivative; int and bool have none)."""
    if kind is None or v.type.kind == kind:
        return v
    if v.rank == 0:
        return lw.b.op({FLOAT: "float", INT: "int", BOOL: "bool"}[kind], v)
    return lw.b.op("astype", v, dtype=kind)


def _with_dtype(handler):
    """np.array and np.asarray of names and nested lists honour dtype= as literals do."""
    def array(lw, e, qual):
        v = handler(lw, e, qual)
        node = bind_args(lw, e, qual, ["object", "dtype"], 1).get("dtype")
        return _cast(lw, v, dtype_of(lw, node)) if isinstance(v, Sym) and node is not None else v
    return array


# --- linspace ---
def _linspace(lw, e, qual):
    a = bind_args(lw, e, qual, ["start", "stop", "num", "endpoint"], 2)
    start, stop = lw.value(a["start"]), lw.value(a["stop"])
    if start.rank or stop.rank:
        lw.error(e, f"{qual} needs numbers for start and stop", hint="arrays of end points are not supported")
    endpoint = static(lw, a["endpoint"], "endpoint") if "endpoint" in a else True
    if not isinstance(endpoint, bool):
        lw.error(a["endpoint"], f"{qual}: endpoint must be True or False")
    b = lw.b
    num = _int_value(lw, a["num"], "num") if "num" in a else b.const(50)
    if num.is_const:
        if num.const_value() < 0:
            lw.error(a["num"], f"{qual}: num must be non-negative, got {num.const_value()}")
        divisor = b.const(max(num.const_value() - int(endpoint), 1))
    else:
        num = b.op("sample_count", num)
        divisor = b.op("maximum", b.op("sub", num, b.const(int(endpoint))), b.const(1))
    step = b.op("truediv", b.op("sub", stop, start), divisor)
    return b.op("add", b.op("mul", b.op("arange", num), step), start)


# --- np.r_[...] and np.c_[...] ---
def _index_items(lw, e, qual):
    """The values an index expression names: a slice of constants is a range (a complex step
    counts samples, as in linspace); numbers and arrays are themselves."""
    node = e.slice
    out = []
    for x in node.elts if isinstance(node, ast.Tuple) else [node]:
        if isinstance(x, ast.Constant) and isinstance(x.value, str):
            lw.error(x, f"{qual}: directive strings such as {x.value!r} are not supported")
        out.append(_range(lw, x, qual) if isinstance(x, ast.Slice) else lw.value(x))
    return out


def _range(lw, s: ast.Slice, qual: str) -> Sym:
    parts = [static(lw, p, "a bound of a slice in " + qual) if p is not None else None
             for p in (s.lower, s.upper, s.step)]
    for p in parts:
        if p is not None and (not isinstance(p, (int, float, complex)) or isinstance(p, bool)):
            lw.error(s, f"{qual}: slices must be of numbers written in the source")
    start, stop, step = parts
    b = lw.b
    start = 0 if start is None else start
    if stop is None:
        lw.error(s, f"{qual}: a slice needs its stop")
    if isinstance(step, complex):
        count = int(abs(step))
        values = tuple(float(v) for v in np.linspace(start, stop, count))
        return b.op("array_literal", value=values, dtype=FLOAT) if values else b.op("zeros", b.const(0))
    args = [start, stop] + ([step] if step is not None else [])
    return b.op("arange", *[b.const(v) for v in args])


def _group_numbers(b, items) -> list:
    """Consecutive numbers become one array of them."""
    out, run = [], []
    for v in items:
        if v.rank == 0:
            run.append(v)
            continue
        if run:
            out.append(b.op("stack", *run, axis=0))
            run = []
        out.append(v)
    if run:
        out.append(b.op("stack", *run, axis=0))
    return out


def _r_(lw, e):
    given = _index_items(lw, e, "np.r_")
    items = _group_numbers(lw.b, given)
    if len(items) == 1:
        return lw.b.op("copy", items[0]) if items[0] in given else items[0]
    return _joined(lw, e, items, 0, "np.r_")


def _c_(lw, e):
    b = lw.b
    items = [b.op("expand_dims", _vector(b, v), axis=0) if v.rank == 0 else _column(b, v)
             for v in _index_items(lw, e, "np.c_")]
    if len(items) == 1:
        return b.op("copy", items[0])
    rank = items[0].rank
    return _joined(lw, e, items, rank - 1, "np.c_")


NUMPY.update({
    "transpose": _transpose, "swapaxes": _swapaxes, "moveaxis": _moveaxis, "rollaxis": _rollaxis,
    "flip": _flip, "flipud": _flip_one(0), "fliplr": _flip_one(1), "rot90": _rot90, "roll": _roll,
    "tile": _tile, "repeat": _repeat, "pad": _pad, "atleast_1d": _ATLEAST[1], "atleast_2d": _ATLEAST[2],
    "atleast_3d": _ATLEAST[3], "append": _append, "column_stack": _column_stack, "dstack": _dstack,
    "split": _split(True), "array_split": _split(False), "broadcast_to": _broadcast_to,
    "linspace": _linspace, "array": _with_dtype(NUMPY["array"]), "asarray": _with_dtype(NUMPY["asarray"]),
})
METHODS.update({"transpose": _transpose_method, "swapaxes": _swapaxes, "repeat": _repeat, "astype": _astype})
INDEXED.update({"r_": _r_, "c_": _c_})
