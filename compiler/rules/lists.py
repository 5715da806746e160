"""Lists used as stacks (`stack = []`, `stack.append(v)`, `stack.pop()`, `stack[i]`, `len(stack)`).

The frontend keeps a list as an array of its items with room to grow, and a count
(frontend/lists.py), so that appends, pops and reads are element writes and reads whose rules
already exist. These primitives are the rest: making room (copying the items into a larger array
of zeros when it is full), the two linear maps that are its adjoint and tangent (the first n rows
of an array, and an array padded with zero rows), and the checked index of an item, which raises
Python's IndexError where a list would. Making room returns the same array while there is room,
and its adjoint the same adjoint, so an append costs O(1) in both sweeps."""
from __future__ import annotations

from ..ir.types import Type, INT
from .hand import prim
from .table import TypeRuleError, register_helpers

register_helpers("list_room", "list_head", "list_pad", "list_index", "list_top")


def _like_first(types, params):
    t = types[0]
    if not isinstance(t, Type) or t.rank == 0:
        raise TypeRuleError("a list's items are kept in an array")
    return t


prim("list_room", _like_first, "list_room({0}, {1}, {2})",
     jvp=lambda b, out, args, tg, p: None if tg[0] is None else b.call("list_room", tg[0], args[1], args[2]),
     vjp=lambda b, g, out, args, active, p: [b.call("list_head", g, args[0]) if active[0] else None, None, None],
     doc="the items array with room for one more item after the first `count`: itself, or when it "
         "is full a copy with twice the rows (at least 8), the new rows zero; the item being "
         "appended gives the shape of a row")
prim("list_head", _like_first, "list_head({0}, {1})",
     jvp=lambda b, out, args, tg, p: None if tg[0] is None else b.call("list_head", tg[0], args[1]),
     vjp=lambda b, g, out, args, active, p: [b.call("list_pad", g, args[0]) if active[0] else None, None],
     doc="the first rows of an array, as many as the second argument has (its shape, if it has "
         "none); the array itself when it has that many")
prim("list_pad", _like_first, "list_pad({0}, {1})",
     jvp=lambda b, out, args, tg, p: None if tg[0] is None else b.call("list_pad", tg[0], args[1]),
     vjp=lambda b, g, out, args, active, p: [b.call("list_head", g, args[0]) if active[0] else None, None],
     doc="an array shaped like the second argument: the first's rows, then zero rows")


def _index_type(types, params):
    for t in types:
        if t != Type(INT, 0):
            raise TypeRuleError(f"list indices must be integers, got {t}", hint="convert with int(...)")
    return Type(INT, 0)


prim("list_index", _index_type, "list_index({0}, {1})", differentiable=False,
     doc="the position of item i of a list of n items (negative i counts from the end); IndexError "
         "when there is no such item")
prim("list_top", _index_type, "list_top({0})", differentiable=False,
     doc="the position of the last of n items; IndexError('pop from empty list') when n is 0")
