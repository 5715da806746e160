"""Indexing. An index is a static pattern (int, slice with which parts are given, newaxis) plus the
operands it consumes: integers, slice bounds and integer arrays (the frontend turns `...` into
full slices, list literals into arrays and boolean masks into the arrays of their nonzero
positions, so every form prints as NumPy indexing, which Numba compiles too).

Integer arrays follow NumPy's advanced indexing: they broadcast together (scalar integers with
them), and the broadcast axes replace the indexed ones in place when the advanced indices are
next to each other, or come first otherwise. The adjoint of a read scatters the adjoint into zeros
of the array's shape: written there when the index names no element twice (an integer entry marked
"unique": a mask's positions, a literal list without repeats), otherwise added up (index_add along
the first axis, add_at at flat positions for any other form)."""
from __future__ import annotations

from ..ir.types import Type, TupleType, INT, FLOAT, BOOL
from .hand import prim
from .table import TypeRuleError, register_helpers

register_helpers("add_at", "mask_nonzero", "last_written")


def operand_count(entry) -> int:
    kind = entry[0]
    if kind == "slice":
        return sum(entry[1:])
    return 0 if kind == "newaxis" else 1


def index_axes(pattern, operands):
    """(entry, axis, the operands it reads) for each entry of an index pattern, `axis` being the
    indexed array's axis the entry applies to (None for a new axis, which applies to none)."""
    it, axis = iter(operands), 0
    for entry in pattern:
        ops = tuple(next(it) for _ in range(operand_count(entry)))
        if entry[0] == "newaxis":
            yield entry, None, ops
        else:
            yield entry, axis, ops
            axis += 1


def result_axes(pattern, operands, x: tuple, one, bounded, is_array) -> tuple | None:
    """What x[pattern] has on each axis, from what x has (`x`, one item per axis): an integer
    drops the axis, `:` keeps its item, None adds `one`, a slice with bounds gives `bounded()`.
    None where an index is an integer array (`is_array(operand)`) or there are more entries than
    axes. The shapes (symbolic dimensions) and the index proofs (axis lengths) both read it."""
    out, rest = [], 0
    for entry, axis, ops in index_axes(pattern, operands):
        if axis is None:
            out.append(one)
            continue
        if axis >= len(x) or (entry[0] != "slice" and is_array(ops[0])):
            return None
        if entry[0] == "slice":
            out.append(bounded() if ops else x[axis])
        rest = axis + 1
    return tuple(out) + tuple(x[rest:])


def index_text(pattern, operands) -> str:
    parts, it = [], iter(operands)
    for entry in pattern:
        kind = entry[0]
        if kind == "slice":
            s = [next(it) if flag else "" for flag in entry[1:]]
            parts.append(f"{s[0]}:{s[1]}" + (f":{s[2]}" if entry[3] else ""))
        elif kind == "newaxis":
            parts.append("None")
        else:
            parts.append(next(it))
    return ", ".join(parts) if parts else "()"


def _getitem_type(types, params):
    x, ops = types[0], types[1:]
    pattern = params["index"]
    if not isinstance(x, Type) or x.rank == 0:
        raise TypeRuleError(f"cannot index a {x}: it is not an array")
    consumed = sum(1 for e in pattern if e[0] != "newaxis")
    if consumed > x.rank:
        raise TypeRuleError(f"too many indices ({consumed}) for an array of rank {x.rank}")
    rank, k, arrays = x.rank, 0, 0
    for entry in pattern:
        n = operand_count(entry)
        these = ops[k:k + n]
        k += n
        for t in these:
            if entry[0] == "slice" and not (isinstance(t, Type) and t.rank == 0 and t.kind in (INT, BOOL)):
                raise TypeRuleError(f"slice bounds must be integers, got {t}")
        if entry[0] == "int":
            t = these[0]
            if not isinstance(t, Type) or t.kind == FLOAT:
                raise TypeRuleError(f"array indices must be integers, got {t}", hint="convert with int(...)")
            if t.kind == BOOL and t.rank:
                raise TypeRuleError("a boolean mask here must be made by the frontend",
                                    hint="index with the mask itself: x[mask]")
            rank -= 1
            arrays = max(arrays, t.rank)
        elif entry[0] == "newaxis":
            rank += 1
    return Type(x.kind, rank + arrays)


def _getitem_emit(a, p, t):
    return f"{a[0]}[{index_text(p['index'], a[1:])}]"


def _getitem_vjp(b, g, out, args, active, p):
    x, ops = args[0], args[1:]
    z = b.call("zeros_like", x)
    if not any(o.rank > 0 for o in ops) or any(e[1:] == ("unique",) for e in p["index"]):
        b.setitem(z, p["index"], ops, g)
    elif len(p["index"]) == 1:
        z = b.call("index_add", z, ops[0], g)
    else:
        z = b.call("add_at", z, positions(b, x, ops, p["index"]), g)
    return [z] + [None] * len(ops)


def positions(b, x, ops, pattern):
    """The flat positions in `x` of the elements `x[index]` reads, in the shape of that read."""
    return b.call("getitem", b.call("positions", x), *ops, index=pattern)


prim("getitem", _getitem_type, _getitem_emit,
     jvp=lambda b, out, args, tg, p: b.call("getitem", tg[0], *args[1:], **p),
     vjp=_getitem_vjp)
prim("index_add", lambda types, p: Type(FLOAT, types[0].rank), "index_add({0}, {1}, {2})",
     jvp=lambda b, out, args, tg, p: b.call("index_add", tg[0] if tg[0] is not None else b.call(
         "zeros_like", args[0]), args[1], tg[2] if tg[2] is not None else b.call("zeros_like", args[2])),
     vjp=lambda b, g, out, args, active, p: [g, None, b.call("getitem", g, args[1], index=(("int",),))],
     doc="adds rows of the third argument into the first at the integer indices of the second")


# --- flat positions: the adjoint of any advanced read ---
def _positions_type(types, params):
    x = types[0]
    if not isinstance(x, Type) or x.rank == 0:
        raise TypeRuleError("positions of a number")
    return Type(INT, x.rank)


def _int_positions(t, what):
    if not isinstance(t, Type) or t.kind != INT:
        raise TypeRuleError(f"{what} needs integer positions, got {t}")


def _add_at_type(types, params):
    z, pos, g = types
    _int_positions(pos, "add_at")
    if not isinstance(z, Type) or z.rank == 0 or not isinstance(g, Type) or g.rank not in (0, pos.rank):
        raise TypeRuleError(f"add_at({z}, {pos}, {g}): the values must have the positions' shape")
    return Type(FLOAT, z.rank)


def _take_flat_type(types, params):
    a, pos = types
    _int_positions(pos, "take_flat")
    if not isinstance(a, Type) or a.rank == 0:
        raise TypeRuleError(f"take_flat of a {a}")
    return Type(a.kind, pos.rank)


def _or_zeros(b, tangent, like):
    return tangent if tangent is not None else b.call("zeros_like", like)


prim("positions", _positions_type, "np.arange({0}.size).reshape({0}.shape)", differentiable=False,
     doc="the flat (C-order) position of every element of an array, in its shape")
prim("add_at", _add_at_type, "add_at({0}, {1}, {2})",
     jvp=lambda b, out, args, tg, p: b.call("add_at", _or_zeros(b, tg[0], args[0]), args[1],
                                            _or_zeros(b, tg[2], args[2])),
     vjp=lambda b, g, out, args, active, p: [g, None, b.call("take_flat", g, args[1]) if active[2] else None],
     doc="a copy of the first argument with the third added at the flat positions of the second; "
         "values at a repeated position add up (np.add.at)")
prim("take_flat", _take_flat_type, "{0}.ravel()[{1}]",
     jvp=lambda b, out, args, tg, p: b.call("take_flat", tg[0], args[1]),
     vjp=lambda b, g, out, args, active, p: [b.call("add_at", b.call("zeros_like", args[0]), args[1], g), None],
     doc="the elements of an array at flat positions, in the positions' shape")


# --- masks and writes that may repeat an element ---
def _mask_nonzero_type(types, params):
    m, x = types
    axis = params["axis"]
    if not isinstance(m, Type) or m.kind != BOOL or m.rank == 0:
        raise TypeRuleError(f"a boolean mask must be a boolean array, got {m}")
    if not isinstance(x, Type) or axis + m.rank > x.rank:
        raise TypeRuleError(f"a mask of rank {m.rank} at axis {axis} does not fit an array of {x}")
    return TupleType(tuple(Type(INT, 1) for _ in range(m.rank)))


prim("mask_nonzero", _mask_nonzero_type, "mask_nonzero({0}, {1}, {axis})", differentiable=False,
     doc="np.nonzero of a boolean mask over the axes axis, axis + 1, ... of the second argument, "
         "after checking that the mask has their lengths (IndexError otherwise, as NumPy)")


def _last_written_type(types, params):
    pos = types[0]
    _int_positions(pos, "last_written")
    return Type(BOOL, pos.rank)


prim("last_written", _last_written_type, "last_written({0}, {1})", differentiable=False,
     doc="for flat positions into the second argument, whether each is the last (in C order) to "
         "name its element: the value a write keeps where an index repeats an element")


def _nonzero_type(types, params):
    m = types[0]
    if not isinstance(m, Type) or m.kind != BOOL or m.rank == 0:
        raise TypeRuleError(f"np.nonzero needs a boolean array here, got {m}")
    return TupleType(tuple(Type(INT, 1) for _ in range(m.rank)))


prim("nonzero", _nonzero_type, "np.nonzero({0})", differentiable=False,
     doc="the positions of the true elements of a boolean array, one integer array per axis")
prim("flatnonzero", lambda types, p: Type(INT, 1), "np.flatnonzero({0})", differentiable=False,
     doc="the flat (C-order) positions of the true elements of a boolean array")
