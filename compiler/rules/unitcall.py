"""Calls to separately compiled units (compiler/units.py).

`y = call(args; unit=K)` calls the generated function of unit K. Its adjoint calls K's VJP unit
with the arguments and y's adjoint; its tangent is handled by forward mode, which replaces the
call with one to K's JVP unit (value and tangent in one call)."""
from __future__ import annotations

from ..ir.types import FLOAT, TupleType
from ..ir.unit import transformed_result
from .hand import prim


def _call_type(types, p):
    return p["result"]


def _call_emit(args, p, types):
    return f"{p.get('callee') or p['unit'].name}({', '.join(args)})"


def _call_vjp(b, g, out, args, active, p):
    key = p["unit"]
    mask = tuple(bool(f) and getattr(a.type, "kind", None) == FLOAT for a, f in zip(args, active))
    if not any(mask):
        return [None] * len(args)
    vkey = key.vjp(mask)
    # calls in lowered code are to functions themselves, whose VJP types need only their
    # parameters and result
    result = transformed_result(vkey, lambda k: out.type)
    return _adjoints(b, b.op("call", *args, g, unit=vkey, result=result), mask, active)


def _value_vjp(b, g, out, args, active, p):
    """y = res[0] after `res = f_fwd(args)`: the adjoint calls f_bwd(args, res, y_bar), which
    reads what the forward sweep kept instead of computing it again."""
    key = p["unit"]
    res, call_args = args[0], args[1:]
    bars = b.op("call", *call_args, res, g, unit=key, result=p["grads"])
    return [None] + _adjoints(b, bars, key.chain[-1][1], active[1:])


def _adjoints(b, bars, mask, active) -> list:
    """One contribution per argument from what a VJP or adjoint sweep returned (the adjoints of
    the arguments `mask` selects: one value, or a tuple), for the active ones."""
    contribs, k = [], 0
    for m, flag in zip(mask, active):
        if not m:
            contribs.append(None)
            continue
        item = bars if not isinstance(bars.type, TupleType) else b.op("tuple_getitem", bars, i=k)
        contribs.append(item if flag else None)
        k += 1
    return contribs


prim("call", _call_type, _call_emit, vjp=_call_vjp,
     doc="a call to a separately compiled function (a unit): its VJP and JVP are units too")

prim("call_value", lambda types, p: p["result"], "{0}[0]", vjp=_value_vjp,
     doc="the value of a call split into forward and adjoint sweeps: item 0 of what the forward "
         "sweep returned (the rest are its residuals)")
