"""Indexing. An index is a static pattern (int, slice with which parts are given, newaxis, integer
array) plus the operands it consumes. The adjoint of a read scatters the adjoint into zeros of the
array's shape; with an integer array, repeated indices accumulate (index_add)."""
from __future__ import annotations

from ..ir.types import Type, INT, FLOAT, BOOL
from .hand import prim
from .table import TypeRuleError


def operand_count(entry) -> int:
    kind = entry[0]
    if kind == "slice":
        return sum(entry[1:])
    return 0 if kind == "newaxis" else 1


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
    rank, k = x.rank, 0
    for entry in pattern:
        n = operand_count(entry)
        these = ops[k:k + n]
        k += n
        for t in these:
            if entry[0] == "slice" and not (t.rank == 0 and t.kind in (INT, BOOL)):
                raise TypeRuleError(f"slice bounds must be integers, got {t}")
        if entry[0] == "int":
            t = these[0]
            if t.kind == FLOAT:
                raise TypeRuleError("array indices must be integers, got a float",
                                    hint="convert with int(...)")
            if t.kind == BOOL and t.rank:
                raise TypeRuleError("boolean mask indexing is not supported",
                                    hint="use np.where(mask, x, 0.0) instead")
            rank += t.rank - 1
        elif entry[0] == "newaxis":
            rank += 1
    if any(e[0] == "int" for e in pattern) and any(
            t.rank > 0 for t in ops) and len(pattern) != 1:
        raise TypeRuleError("an integer-array index must be the only index",
                            hint="index in two steps: x[idx] then [:, j]")
    return Type(x.kind, rank)


def _getitem_emit(a, p, t):
    return f"{a[0]}[{index_text(p['index'], a[1:])}]"


def _getitem_vjp(b, g, out, args, active, p):
    x, ops = args[0], args[1:]
    z = b.call("zeros_like", x)
    if any(o.rank > 0 for o in ops):
        return [b.call("index_add", z, ops[0], g)] + [None] * len(ops)
    b.setitem(z, p["index"], ops, g)
    return [z] + [None] * len(ops)


prim("getitem", _getitem_type, _getitem_emit,
     jvp=lambda b, out, args, tg, p: b.call("getitem", tg[0], *args[1:], **p),
     vjp=_getitem_vjp)
prim("index_add", lambda types, p: Type(FLOAT, types[0].rank), "index_add({0}, {1}, {2})",
     jvp=lambda b, out, args, tg, p: b.call("index_add", tg[0] if tg[0] is not None else b.call(
         "zeros_like", args[0]), args[1], tg[2] if tg[2] is not None else b.call("zeros_like", args[2])),
     vjp=lambda b, g, out, args, active, p: [g, None, b.call("getitem", g, args[1], index=(("int",),))],
     doc="adds rows of the third argument into the first at the integer indices of the second")
