"""A loop that only sums a function's values, run once instead of twice.

The gradient of `total += f(x[i])` over a loop (a likelihood summed over data points) calls f's
unit in the forward sweep for the value, then f's VJP unit in the adjoint sweep, which computes
f's value again on the way to its adjoint. When the forward loop does nothing else, and nothing
the adjoint sweep computes depends on the sum, the forward loop goes: the adjoint loop calls the
VJP unit that also returns f's value (`vjpv`), records each value in an array, and the sum is
taken after it, in the order of the forward loop (the same additions as before, so the value is the
same to the last bit), followed by the statements that used it:

    for i in range(n):                          (gone)
        total += f(x[i])
    ...                                         vals = np.empty(n)
    for i in range(n - 1, -1, -1):              for i in range(n - 1, -1, -1):
        g = f_vjp(x[i], total_bar)                  g = f_vjpv(x[i], total_bar); vals[i] = g[0]
                                                for i in range(n):
                                                    total += vals[i]

Only loops at the top of a function, stepping by 1 from 0, whose body is pure code feeding one
unit call and the sum, and whose adjoint calls the unit's VJP (a call in a loop whose residuals
would hold tapes; one without records its residuals instead, computing f once anyway)."""
from __future__ import annotations

from ..ir.nodes import Assign, For, Return, SetItem, Var, Const, walk, operands, names_in
from ..ir.types import Type, TupleType, FLOAT, INT
from .cleanup import PURE as SIDE_EFFECT_FREE

# what the summing loop's other statements and the numbers computed from the sum may be
PURE = SIDE_EFFECT_FREE | {"alias", "floordiv", "dim"}


def fold_summed_calls(fn, result_of) -> None:
    """Rewrite, in place, each forward loop of `fn`'s top level that only sums a unit's values and
    whose adjoint loop calls that unit's VJP. `result_of(key)` gives a unit's result type."""
    body = fn.body
    a = 0
    while a < len(body):
        if not _fold(fn, body, a, result_of):
            a += 1


def _fold(fn, body: list, a: int, result_of) -> bool:
    loop = body[a]
    if not (isinstance(loop, For) and loop.role == "primal" and loop.counter is None and loop.checkpoint is None
            and _const(loop.start, 0) and _const(loop.step, 1)):
        return False
    summed = _summed_call(loop)
    if summed is None:
        return False
    call, add, carry, acc = summed
    paired = _adjoint_loop(body, a, call)
    if paired is None:
        return False
    b, vjp = paired
    reverse = body[b]
    inner = {s.target for s in loop.body if isinstance(s, Assign)}
    if any(isinstance(s, Assign) and s.target in inner - {acc} for s in walk(body[a + 1:b])):
        return False
    if isinstance(loop.stop, Var) and any(isinstance(s, Assign) and s.target == loop.stop.name
                                          for s in walk(body[a + 1:])):
        return False                    # the sum is taken again after the adjoint loop, to the same stop
    uses = _uses_of_sum(fn, body, a, b, acc)
    if uses is None or not _recomputed(reverse, inner - {acc, call.target, add.target}, body[b + 1:]):
        return False
    grads = vjp.param("result")
    if isinstance(grads, TupleType) and any(
            isinstance(s, Assign) and vjp.target in set(names_in(s.args))
            and not (s.op == "tuple_getitem" and s.args == (Var(vjp.target),)) for s in walk(reverse.body)):
        return False                    # the adjoints' tuple read whole: left as it is
    if result_of(call.param("unit")) != Type(FLOAT, 0):
        return False
    _rewrite(fn, body, loop, reverse, call, add, carry, vjp, uses)
    return True


def _adjoint_loop(body: list, a: int, call: Assign):
    """(index, VJP call) of the adjoint loop after body[a] that calls the unit's VJP on the same
    arguments over the same range, or None."""
    loop, key = body[a], call.param("unit")
    for k in range(a + 1, len(body) - 1):
        reverse = body[k]
        if not (isinstance(reverse, For) and reverse.role == "adjoint" and reverse.var == loop.var):
            continue
        if reverse.mirrors is not None and tuple(reverse.mirrors) != (loop.start, loop.stop, loop.step):
            continue                    # the adjoint of another loop
        for s in reverse.body:
            u = s.param("unit") if isinstance(s, Assign) and s.op == "call" else None
            if u is not None and u.chain and u.chain[-1][0] == "vjp" and u.parent == key \
                    and s.args[:len(call.args)] == call.args:
                return k, s
    return None


def _uses_of_sum(fn, body: list, a: int, b: int, acc: str):
    """The statements between the two loops that compute from the sum (numbers only, moved after
    the adjoint loop), or None when something else reads it: the adjoint loop, a statement after it
    that is not a number on the way to the value, or the adjoints returned."""
    number = lambda s: isinstance(s, Assign) and s.op in PURE and getattr(fn.types.get(s.target), "rank", 1) == 0
    uses, tainted = [], {acc}
    for s in body[a + 1:b]:
        if set(names_in(operands(s))) & tainted:
            if not number(s):
                return None
            tainted.add(s.target)
            uses.append(s)
        elif isinstance(s, Assign) and s.target in tainted:
            return None
    if any(set(names_in(operands(s))) & tainted for s in walk(body[b].body)):
        return None
    for s in body[b + 1:-1]:
        if number(s):
            if set(names_in(s.args)) & tainted:
                tainted.add(s.target)
        elif any(set(names_in(operands(t))) & tainted for t in walk([s])):
            return None
    ret = body[-1]
    if not isinstance(ret, Return) or len(ret.values) != 2 or set(names_in(ret.values[1])) & tainted:
        return None
    return uses


def _rewrite(fn, body: list, loop: For, reverse: For, call: Assign, add: Assign, carry: Assign,
             vjp: Assign, uses: list) -> None:
    """Drop the forward loop; the adjoint loop calls the VJP that returns the value and records it;
    after it, the sum over the record and the statements that used the sum."""
    vkey = vjp.param("unit")
    grads = vjp.param("result")
    value_type = Type(FLOAT, 0)
    names = fn.names
    both = names.fresh(f"{vjp.target}_and_value")
    value = names.fresh(f"{call.target}_value")
    values = names.fresh(f"{carry.target}_terms", temp=False)
    flat = tuple(grads.elts) if isinstance(grads, TupleType) else (grads,)
    fn.types[both] = TupleType((value_type,) + flat)
    fn.types[value] = value_type
    fn.types[values] = Type(FLOAT, 1)
    new_body = []
    for s in reverse.body:
        if s is not vjp:
            if isinstance(s, Assign) and s.op == "tuple_getitem" and s.args == (Var(vjp.target),):
                s = Assign(s.target, s.op, (Var(both),), (("i", s.param("i") + 1),), s.loc, s.role)
            new_body.append(s)
            continue
        new_body.append(Assign(both, "call", vjp.args, (("result", fn.types[both]),
                                                        ("unit", vkey.parent.vjpv(vkey.chain[-1][1]))),
                               vjp.loc, vjp.role))
        new_body.append(Assign(value, "tuple_getitem", (Var(both),), (("i", 0),), call.loc, "primal"))
        new_body.append(SetItem(values, (Var(loop.var),), (("index", (("int",),)),), Var(value), call.loc, "primal"))
        if not isinstance(grads, TupleType):
            new_body.append(Assign(vjp.target, "tuple_getitem", (Var(both),), (("i", 1),), vjp.loc, vjp.role))
    reverse.body = new_body
    trips = names.fresh(f"{loop.var}_trips")
    fn.types[trips] = Type(INT, 0)
    count = Assign(trips, "trip_count", (loop.start, loop.stop, loop.step), (), loop.loc, "primal")
    make = Assign(values, "empty", (Var(trips),), (), loop.loc, "primal")
    term = names.fresh(f"{call.target}")
    fn.types[term] = value_type
    add_args = tuple(Var(term) if isinstance(x, Var) and x.name == call.target else x for x in add.args)
    again = For(loop.var, loop.start, loop.stop, loop.step,
                [Assign(term, "getitem", (Var(values), Var(loop.var)), (("index", (("int",),)),), call.loc, "primal"),
                 Assign(add.target, add.op, add_args, add.params, add.loc, add.role),
                 carry], loop.loc, "primal")
    for s in uses:
        body.remove(s)
    b = body.index(reverse)
    body[b + 1:b + 1] = [again] + uses
    body[b:b] = [count, make]
    body.remove(loop)


def _const(v, n) -> bool:
    return isinstance(v, Const) and v.value == n and not isinstance(v.value, bool)


def _summed_call(loop: For):
    """(call, add, carry, acc) when the loop's body is pure statements feeding one call to a unit
    (no transformation of it) whose number result is added to a carried sum, and nothing else."""
    calls = [s for s in loop.body if isinstance(s, Assign) and s.op == "call"]
    if len(calls) != 1 or not all(isinstance(s, Assign) and (s.op in PURE or s is calls[0]) for s in loop.body):
        return None
    call = calls[0]
    if call.param("unit") is None or call.param("unit").chain:
        return None
    adds = [s for s in loop.body if s.op == "add" and Var(call.target) in s.args]
    if len(adds) != 1:
        return None
    add = adds[0]
    others = [x for x in add.args if x != Var(call.target)]
    if len(others) != 1 or not isinstance(others[0], Var):
        return None
    acc = others[0].name
    carry = loop.body[-1]
    if not (carry.op == "alias" and carry.target == acc and carry.args == (Var(add.target),)):
        return None
    for s in loop.body:               # the value feeds the sum only, the sum only its carry
        reads = set(names_in(s.args))
        if s is not add and call.target in reads or s is not carry and add.target in reads \
                or s not in (add, carry) and acc in reads:
            return None
    return call, add, carry, acc


def _recomputed(loop: For, names: set, after: list) -> bool:
    """Whether every name in `names` read in `loop` is assigned there before it is read, and none
    is read after it."""
    assigned: set = set()
    for s in loop.body:
        if set(names_in(operands(s))) & (names - assigned):
            return False
        if isinstance(s, Assign):
            assigned.add(s.target)
    return not any(set(names_in(operands(s))) & names for s in walk(after))
