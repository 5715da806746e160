"""Index proofs (compiler/ir/bounds.py): code compiled without Numba's index checks where every
index is accounted for, proven from the loops' ranges, checked once on entry, or tested where it
is; the same gradients and the same BoundsError as code that checks every index.

Each program is compiled once (module fixtures) and called with arguments in and out of range."""
import math

import numpy as np
import pytest

import cotangent as ct
from cotangent.ir.bounds import prove, Form

pytestmark = pytest.mark.filterwarnings("ignore:Cannot cache compiled function")


def chain(w, x):
    """Loops over the argument's own lengths and an array made from them: proven, nothing to test."""
    n = x.shape[0]
    z = np.zeros(n)
    total = 0.0
    for k in range(n):
        z[k] = x[k] * w[k]
    for k in range(1, n):
        total += z[k] * z[k - 1]
    return total


def offsets(p, x):
    """p holds three blocks of len(x) numbers: 3 * n - 1 < len(p) is checked once, on entry."""
    n = x.shape[0]
    total = 0.0
    for k in range(n):
        a = p[k] * x[k]
        b = p[n + k] * a
        total += math.tanh(b + p[2 * n + k])
    return total


def guarded(p, x, m):
    """Reads p[k] only for k < m: the entry check asks len(x) - 1 < len(p), which is sufficient,
    not necessary, so a short p runs the code that checks every index, with the same result."""
    total = 0.0
    for k in range(x.shape[0]):
        if k < m:
            total += p[k] * x[k]
        else:
            total += x[k] * x[k]
    return total


def packed(v, x):
    """A counter as index (idx += 1): its range is not known on entry, so it is tested where it is."""
    d = x.shape[0]
    total = 0.0
    idx = 0
    for i in range(d):
        for j in range(i):
            total += v[idx] * x[i] * x[j]
            idx += 1
    return total


def gathered(x, rows):
    """An integer-array index: the function keeps Numba's checks."""
    return np.sum(x[rows] ** 2)


def source_of(f, *args):
    return ct.source(ct.grad(f), *args)


@pytest.fixture(scope="module")
def grads():
    return {f.__name__: ct.value_and_grad(f) for f in (chain, offsets, guarded, packed)}


def numeric(f, args, h=1e-6):
    x = np.array(args[0], dtype=float)
    out = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        out.flat[i] = (f(x + e, *args[1:]) - f(x - e, *args[1:])) / (2 * h)
    return out


def test_loops_over_an_arguments_lengths_need_no_test(grads):
    rng = np.random.default_rng(0)
    for n in (1, 5, 12):
        w, x = rng.normal(size=n), rng.normal(size=n)
        value, g = grads["chain"](w, x)
        assert math.isclose(value, chain(w, x), rel_tol=1e-12)
        np.testing.assert_allclose(g, numeric(chain, (w, x)), rtol=1e-6, atol=1e-8)
    src = source_of(chain, rng.normal(size=4), rng.normal(size=4))
    # w's length is not x's: w[k] needs x.shape[0] - 1 < w.shape[0]; everything else is proven
    assert 'boundscheck=False' in src and "raise IndexError(" not in src
    assert "if not (x.shape[0] - 1 < w.shape[0]):" in src


def test_offsets_into_blocks_are_checked_once_on_entry(grads):
    rng = np.random.default_rng(1)
    for n in (2, 7):
        p, x = rng.normal(size=3 * n), rng.normal(size=n)
        value, g = grads["offsets"](p, x)
        assert math.isclose(value, offsets(p, x), rel_tol=1e-12)
        np.testing.assert_allclose(g, numeric(offsets, (p, x)), rtol=1e-6, atol=1e-8)
    src = source_of(offsets, rng.normal(size=6), rng.normal(size=2))
    assert "3 * x.shape[0] - 1 < p.shape[0]" in src and "raise IndexError(" not in src
    # a p one number short: the entry check fails, the checked code finds the access
    with pytest.raises(ct.BoundsError, match="test_index_proofs.py"):
        grads["offsets"](rng.normal(size=5), rng.normal(size=2))


def test_an_entry_check_that_fails_runs_the_checked_code_with_the_same_result(grads):
    rng = np.random.default_rng(2)
    x, p = rng.normal(size=6), rng.normal(size=3)     # p[k] is read for k < 3 only
    value, g = grads["guarded"](p, x, 3)
    assert math.isclose(value, guarded(p, x, 3), rel_tol=1e-12)
    np.testing.assert_allclose(g, numeric(guarded, (p, x, 3)), rtol=1e-6, atol=1e-8)
    compiled = grads["guarded"]._cotangent.last
    assert "IndicesUnproven" in compiled.source
    checked = compiled.checked
    assert checked is not None and "boundscheck=True" in checked.source and "IndicesUnproven" not in checked.source
    with pytest.raises(ct.BoundsError, match="test_index_proofs.py"):
        grads["guarded"](p, x, 4)                       # now p[3] is read: out of range


def test_an_index_whose_range_is_unknown_is_tested_where_it_is(grads):
    rng = np.random.default_rng(3)
    d = 5
    v, x = rng.normal(size=d * (d - 1) // 2), rng.normal(size=d)
    value, g = grads["packed"](v, x)
    assert math.isclose(value, packed(v, x), rel_tol=1e-12)
    np.testing.assert_allclose(g, numeric(packed, (v, x)), rtol=1e-6, atol=1e-8)
    src = source_of(packed, v, x)
    assert 'boundscheck=False' in src and "if not -v.shape[0] <= idx" in src
    with pytest.raises(ct.BoundsError, match=r"(?s)test_index_proofs.py:\d+.*v\[idx\]"):
        grads["packed"](v[:-1], x)


def test_an_integer_array_index_keeps_numbas_checks():
    x, rows = np.arange(6.0), np.array([0, 2, 5])
    g = ct.grad(gathered)
    np.testing.assert_array_equal(g(x, rows), [0, 0, 4, 0, 0, 10])
    assert "boundscheck=True" in ct.source(g, x, rows)


def test_forms_print_and_compare_as_the_proofs_need():
    n = Form.atom("x.shape[0]")
    assert (n.scale(3).plus(-1)).text() == "3 * x.shape[0] - 1"
    assert (n - n).constant and (n - n).const == 0
    assert Form((), -2).text() == "-2" and (Form((), 0) - n).text() == "-x.shape[0]"


def test_a_function_without_indexing_ops_is_eligible_and_counts_what_it_proved(grads):
    grads["chain"](np.ones(3), np.ones(3))
    proof = prove(grads["chain"]._cotangent.last.details().ir)
    assert proof.eligible and proof.proven >= 4 and len(proof.entry) == 1 and not proof.inline


def test_index_proofs_can_be_turned_off_to_check_every_index(grads):
    rng = np.random.default_rng(4)
    p, x = rng.normal(size=9), rng.normal(size=3)
    proven = grads["offsets"](p, x)
    ct.config.index_proofs = False
    try:
        value, g = grads["offsets"](p, x)               # the same function, now every index checked
        checked = grads["offsets"]._cotangent.last.checked
        assert "boundscheck=True" in checked.source and "IndicesUnproven" not in checked.source
    finally:
        ct.config.index_proofs = True
    assert value == proven[0] and np.array_equal(g, proven[1])
