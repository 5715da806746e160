"""The IR: printed by ct.ir, verified after every pass, typed by rank and kind."""
import numpy as np
import pytest

import cotangent as ct
from cotangent.frontend.lower import lower
from cotangent.ir import verify, Type, FLOAT
from cotangent.ir.verify import IRError
from cotangent.ir.nodes import Assign, Var, Function, Return
from cotangent.rules import PRIMITIVES
from cotangent.specialize import spec_of
from cotangent.transforms.reverse import reverse
from cotangent.transforms.forward import forward


def layer(W, b, x):
    h = np.tanh(W @ x + b)
    h = h * 2.0
    return np.sum(h ** 2)


def helper(v):
    return np.exp(-v * v)


def calls_helper(x):
    y = helper(x) + helper(2.0 * x)
    return np.sum(y)


ARGS = (np.ones((3, 2)), np.ones(3), np.ones(2))


def _lowered(f, *args):
    return lower(f, tuple(spec_of(a, "") for a in args))


def test_ir_prints_typed_three_address_code():
    text = str(ct.ir(layer, *ARGS))
    assert text.startswith("function layer(W: float[:,:], b: float[:], x: float[:]):")
    assert "= matmul(W, x)" in text and "= tanh(" in text
    # reassigned names are versioned (SSA): h, then h_1
    assert "h = tanh(" in text and "h_1 = mul(h, 2.0)" in text


@pytest.mark.parametrize("f, args", [(layer, ARGS), (calls_helper, (np.ones(4),))])
def test_every_pass_keeps_the_ir_valid(f, args):
    fn, result = _lowered(f, *args)
    verify(fn, PRIMITIVES)
    outs = (result.value,)
    wrt = [p for p in fn.params if fn.types[p].kind == FLOAT]
    verify(reverse(fn, outs, wrt), PRIMITIVES)
    verify(forward(fn, outs, wrt), PRIMITIVES)


def test_user_functions_are_inlined_with_their_locations():
    fn, _ = _lowered(calls_helper, np.ones(4))
    lines = {s.loc.line for s in fn.body if isinstance(s, Assign)}
    assert helper.__code__.co_firstlineno + 1 in lines
    ct.check_grad(calls_helper, np.linspace(-1, 1, 4))


def test_verifier_rejects_use_before_definition():
    bad = Function("bad", ["x"], [Assign("y", "exp", (Var("z"),)), Return((Var("y"),))])
    with pytest.raises(IRError, match="z used before definition"):
        verify(bad, PRIMITIVES)
    unknown = Function("bad", ["x"], [Assign("y", "no_such_op", (Var("x"),)), Return((Var("y"),))])
    with pytest.raises(IRError, match="unknown primitive"):
        verify(unknown, PRIMITIVES)


def test_types_follow_rank_rules():
    fn, result = _lowered(layer, *ARGS)
    assert fn.types["h"] == Type(FLOAT, 1)
    assert result.type == Type(FLOAT, 0)
