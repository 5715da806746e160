"""Loop nests on the CPU target (backends/loops.py) and the symbolic shapes they rest on
(ir/shapes.py): runs of elementwise statements, the sums and maxima over their domain, and the
adjoints that sum back over broadcast axes print as one nest; values and gradients equal the
Python target's (NumPy code, checked against central differences by the rule and program tests);
an argument whose axis of length 1 broadcasts runs the general code instead."""
import copy

import numpy as np
import pytest

import cotangent as ct
from cotangent.backends.pysource import module_source
from cotangent.ir.nodes import Assign, walk
from cotangent.ir.shapes import Shapes
from cotangent.specialize import spec_of, transform_ir

RNG = np.random.default_rng(11)


def mlp(W1, b1, W2, b2, X, Y):
    h = np.maximum(X @ W1 + b1, 0.0)
    z = h @ W2 + b2
    s = z - ct.stop_gradient(np.max(z, axis=1, keepdims=True))
    logp = s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))
    return -np.sum(Y * logp) / X.shape[0]


def reductions(x, v):
    a = np.sum(np.tanh(x) * v, axis=0)              # a sum over the leading axis
    b = np.min(x * x, axis=1)                       # a minimum over the trailing axis
    c = np.max(x, axis=0, keepdims=True)
    y = x * 2.0
    y = y + np.sin(x) * c                           # a name assigned twice, read before
    return np.sum(a * a) + np.sum(b) + np.sum(y ** 2) / 3.0


def stepped(p, x):
    for _ in range(3):                              # nests inside a loop body, taped for the adjoint
        x = np.tanh(x * p + 0.5) - 0.1 * x
    return np.sum(x * x)


def parts(x, k):
    """Reads of parts of x with bounds: their adjoints are added into parts of x_bar."""
    d = x.shape[1] - k
    head = np.tanh(x[:, :d])
    tail = x[1:, d:] * x[1:, d:]
    return np.sum(head * head) + np.sum(tail) + np.sum(np.exp(x[0, d:]))


def _sizes(n, i, h, o):
    return [RNG.standard_normal(s) for s in [(i, h), (h,), (h, o), (o,), (n, i)]] + \
        [np.eye(o)[RNG.integers(0, o, n)]]


def _source(f, args, mode="grad", wrt=(0,)):
    specs = [spec_of(a, "x") for a in args]
    _, out, _ = transform_ir(f, specs, mode, wrt, False)
    return module_source([out], "cpu", "test", loops=True, kernels=True)[0]


def _compare(f, args, argnums):
    """The loop-nest code's value and gradient equal the Python target's, and its gradient
    matches central differences in both modes."""
    ct.check_grad(f, *args, argnums=argnums, rtol=1e-5)
    fast = ct.value_and_grad(f, argnums=argnums)(*args)
    slow = ct.value_and_grad(ct.differentiable(f, target="python"), argnums=argnums)(*args)
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-12, atol=1e-12)
    for a, b in zip(fast[1] if isinstance(fast[1], tuple) else (fast[1],),
                    slow[1] if isinstance(slow[1], tuple) else (slow[1],)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_mlp_source_is_loops_and_matrix_products():
    src = _source(mlp, _sizes(5, 3, 4, 2), wrt=(0, 1, 2, 3))
    code = "\n".join(line.split("#")[0] for line in src.splitlines())
    assert "unbroadcast(" not in code and "np.exp(s)" not in code and "np.sum(" not in code
    assert code.count("matmul(") == 5 and " @ " not in code     # BLAS calls, through the cached kernel
    assert "for i0 in range(t1.shape[0]):" in src
    assert "b1_bar[i1] += " in src                  # the bias adjoint summed in the nest
    assert "raise ShapeAssumption(" in src and "W1.shape[1] != b1.shape[0]" in src
    assert src == _source(mlp, _sizes(5, 3, 4, 2), wrt=(0, 1, 2, 3))      # deterministic


@pytest.mark.parametrize("n, i, h, o", [(5, 3, 4, 2), (1, 2, 1, 3)])
def test_mlp_matches_python_target(n, i, h, o):
    _compare(mlp, _sizes(n, i, h, o), (0, 1, 2, 3))


def test_axis_of_length_one_runs_the_general_code():
    args = _sizes(6, 3, 4, 2)
    args[1] = args[1][:1]                           # b1 of length 1 broadcasts over the hidden units
    _compare(mlp, args, (0, 1, 2, 3))
    _compare(mlp, _sizes(6, 3, 4, 2), (0, 1, 2, 3))     # and the nests again for other shapes


def test_mismatched_shapes_raise_numpy_error():
    args = _sizes(6, 3, 4, 2)
    args[1] = args[1][:3]                           # neither the hidden size nor 1
    with pytest.raises(ct.CompileError, match="could not be broadcast"):
        ct.value_and_grad(mlp, argnums=(0, 1, 2, 3))(*args)


def test_reductions_and_reassignment():
    x, v = RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    src = _source(reductions, [x, v], wrt=(0, 1))
    assert "np.minimum(" in src and "np.maximum(" in src
    assert "x_bar[i0, i1] += " in src                 # a contribution added in place, in a nest
    _compare(reductions, [x, v], (0, 1))
    x[1, 2] = np.nan                                # NumPy's maxima and minima propagate nan
    fast = ct.value_and_grad(reductions)(x, v)
    slow = ct.value_and_grad(ct.differentiable(reductions, target="python"))(x, v)
    assert np.isnan(fast[0]) and np.isnan(slow[0])


@pytest.mark.parametrize("shape, k", [((3, 4), 1), ((5, 6), 3)])
def test_adjoints_added_into_parts_with_bounds_are_loops_over_a_view(shape, k):
    x = RNG.standard_normal(shape)
    src = _source(parts, [x, k], wrt=(0,))
    assert "x_bar_part4 = x_bar[:, :d]" in src and "x_bar_part2[i0, i1] += " in src
    assert "x_bar[1:, d:] +=" not in src         # Numba compiles such an assignment in seconds
    _compare(parts, [x, k], 0)


def test_nests_in_loop_bodies():
    p, x = RNG.standard_normal(5), RNG.standard_normal((2, 5))
    src = _source(stepped, [p, x], wrt=(0, 1))
    assert src.count("for i0 in range(") >= 2
    _compare(stepped, [p, x], (0, 1))


def test_shapes_unify_parameter_dimensions():
    args = _sizes(5, 3, 4, 2)
    specs = [spec_of(a, "x") for a in args]
    fn, _, _ = transform_ir(mlp, specs, "primal", (), False)
    shapes = Shapes(copy.deepcopy(fn))
    z = shapes.of("z")
    assert z[0] is shapes.of("X")[0] and z[1] is shapes.of("b2")[0]
    assert ("W2.shape[1]", "b2.shape[0]") in [(a, b) for a, b, _ in shapes.assumptions]


def layer_loss(W, b, X):
    return np.sum(np.tanh(X @ W + b) ** 2)


def test_kernels_where_numba_caches_their_callers(monkeypatch):
    """Outside NUMBA_OPT=0 (the tests' setting) matrix products and the nests' arrays are calls to
    the cached kernels; the code computes what the Python target computes."""
    monkeypatch.setenv("NUMBA_OPT", "3")
    W, b, X = RNG.standard_normal((3, 4)), RNG.standard_normal(4), RNG.standard_normal((5, 3))
    src = ct.source(ct.grad(layer_loss, argnums=(0, 1)), W, b, X)
    assert "from cotangent.backends.kernels import" in src and "matmul(X, W)" in src
    _compare(layer_loss, [W, b, X], (0, 1))
    monkeypatch.setenv("NUMBA_OPT", "0")               # NumPy calls, so that Numba caches the function
    specs = [spec_of(a, "x") for a in (W, b, X)]
    _, out, _ = transform_ir(layer_loss, specs, "grad", (0, 1), False)
    src = module_source([out], "cpu", "test", loops=True)[0]
    assert "matmul(" not in src and "X @ W" in src and "np.empty((" in src


def running(w, x):
    """A loop over rows that reads w at each trip (w's adjoint starts from zeros and is added into)
    and whose numbers the adjoint needs (a tape of numbers)."""
    total = 0.0
    for i in range(x.shape[0]):
        total += np.tanh(np.sum(x[i] * w))
    return total


def test_adjoint_zeros_and_number_tapes_use_the_kernels(monkeypatch):
    """Outside NUMBA_OPT=0 an adjoint's zeros and a tape of numbers are calls to the cached kernels
    (no np.zeros_like or np.empty overload compiled into each function); the result is unchanged."""
    monkeypatch.setenv("NUMBA_OPT", "3")
    w, x = RNG.standard_normal(3), RNG.standard_normal((6, 3))
    src = ct.source(ct.grad(running), w, x)
    code = "\n".join(line.split("#")[0] for line in src.splitlines())
    assert "= zeros_like(w)" in code and "np.zeros_like(" not in code
    assert "_tape = empty((" in code and "np.empty(" not in code
    _compare(running, [w, x], 0)


def halves(w, x):
    """Two slices whose lengths the shapes cannot relate: their adjoints go through unbroadcast."""
    b = x.shape[0]
    return np.sum(np.tanh(w[0:b] + w[b:2 * b]) * x)


def test_unbroadcast_left_in_nest_code_is_the_cached_kernel(monkeypatch):
    monkeypatch.setenv("NUMBA_OPT", "3")
    w, x = RNG.standard_normal(8), RNG.standard_normal(4)
    src = ct.source(ct.grad(halves), w, x)
    imports = [line for line in src.splitlines() if line.startswith("from cotangent.backends.")]
    assert "unbroadcast(" in src and any(line.startswith("from cotangent.backends.kernels import")
                                         and "unbroadcast" in line for line in imports)
    assert not any("support import" in line and "unbroadcast" in line for line in imports)
    _compare(halves, [w, x], 0)


def sliced(w, x):
    b = x.shape[0]
    y = np.tanh(x * w[0:b] + w[b:2 * b])            # slices: lengths checked where a nest reads them
    out = np.zeros((2, b))
    out[0, :] = y                                   # an array written into a part of one: a loop
    out[1] = y * y
    return np.sum(out * out)


def test_slices_and_writes_of_parts():
    w, x = RNG.standard_normal(8), RNG.standard_normal(4)
    src = _source(sliced, [w, x], wrt=(0, 1))
    assert 'raise ShapeAssumption("lengths differ' in src
    assert "out[0, i0] = y[i0]" in src
    _compare(sliced, [w, x], (0, 1))
    _compare(sliced, [RNG.standard_normal(12), RNG.standard_normal(6)], (0, 1))


def dense_tanh(x, W, b):
    """A dense layer with a soft-clipped tanh (four statements: more than the cost model inlines)."""
    z = x @ W
    u = z + b
    a = np.tanh(u)
    return a * (1.0 - 0.25 * a)


def two_dense(W1, b1, W2, b2, X):
    """Calls to a unit outside loops: each adjoint is the unit's adjoint sweep (`dense_tanh_bwd`),
    which reads the forward sweep's residuals back from a tuple."""
    h = dense_tanh(X, W1, b1)
    return np.sum(dense_tanh(h, W2, b2) ** 2)


def test_split_adjoint_sweep_knows_its_residuals_shapes():
    """The adjoint sweep split from a unit's forward sweep knows the shapes of the residuals and of
    the incoming adjoint from that sweep, so its elementwise adjoints and the bias's sum are one nest."""
    args = [RNG.standard_normal(s) for s in [(3, 4), (4,), (4, 2), (2,), (5, 3)]]
    g = ct.grad(two_dense, argnums=(0, 1, 2, 3))
    g(*args)
    src = ct.source(g)
    bwd = src[src.index("def dense_tanh_bwd("):]
    bwd = "\n".join(line.split("#")[0] for line in bwd[:bwd.index("return")].splitlines())
    calls = bwd.replace("np.empty(", "").replace("np.zeros(", "")      # (allocations, as NumPy under NUMBA_OPT=0)
    assert "unbroadcast(" not in bwd and "np." not in calls
    assert "b_bar[i1] += " in bwd and "W.shape[1] != b.shape[0]" in bwd
    _compare(two_dense, args, (0, 1, 2, 3))
    short = list(args)
    short[1] = short[1][:1]                         # b1 broadcasts: the general code, in every unit
    _compare(two_dense, short, (0, 1, 2, 3))


def flat_params(theta, X):
    """Parameters unpacked from one flat vector, as the runtime does: the lengths are literals."""
    W = theta[0:6].reshape((3, 2))
    b = theta[6:8]
    h = np.tanh(X @ W + b)
    return np.sum(h * h)


def test_lengths_written_in_the_code_are_dimensions():
    """`reshape((3, 2))` has the dimensions 3 and 2, so the bias (a slice of length 2 by its
    bounds, checked where read) broadcasts along a known axis: one nest, no unbroadcast; an input
    with the wrong width runs the general code, which raises NumPy's error."""
    theta, X = RNG.standard_normal(8), RNG.standard_normal((5, 3))
    src = _source(flat_params, [theta, X], wrt=(0,))
    code = "\n".join(line.split("#")[0] for line in src.splitlines())
    assert "unbroadcast(" not in code and "X.shape[1] != 3" in code
    _compare(flat_params, [theta, X], 0)
    with pytest.raises(ct.CompileError, match="shapes|aligned|mismatch"):
        ct.grad(flat_params)(theta, RNG.standard_normal((5, 4)))


def gated(w, bias, h0, xs):
    """A diagonal gated recurrence written with NumPy slices of packed weights, as a user writes an
    LSTM cell: gates from the parts of w and bias, each step's state from the last one."""
    b = h0.shape[0]
    h = h0.copy()
    total = 0.0
    for t in range(xs.shape[0]):
        x = xs[t]
        f = 1.0 / (1.0 + np.exp(-(x * w[0:b] + bias[0:b])))
        g = np.tanh(h * w[b:2 * b] + bias[b:2 * b])
        h = f * h + (1.0 - f) * g
        total += np.sum(h * h)
    return total


def test_slices_between_elementwise_statements_keep_one_nest():
    """The views `w[0:b]` between the gates' statements print before the nest and the tape's
    record after it, so a step's gates, state and sum are one nest; its adjoint is one nest too
    (the adjoint sweep recomputes the slices and they keep their dimensions), adding into the parts
    of w_bar and bias_bar as it goes."""
    w, bias, h0 = RNG.standard_normal(6), RNG.standard_normal(6), RNG.standard_normal(3)
    xs = RNG.standard_normal((4, 3))
    src = ct.source(ct.value_and_grad(gated, argnums=(0, 1, 2)), w, bias, h0, xs, units=False)
    forward, adjoint = src.split("def gated_grad(", 1)[1].split("# adjoint of", 1)
    assert forward.count("for i0 in range(") == 1
    assert "t27 = h_2[i0] * h_2[i0]" in forward and "t28 += t27" in forward
    assert forward.index("t16 = w[b:t15]") < forward.index("for i0 in range(") < forward.index("tape_1.append(")
    step = adjoint.split("for t in range(", 1)[1]
    assert step.count("for i0 in range(") == 4, step     # h * h's adjoint, its two writes, one nest
    assert "w_bar_part2 = w_bar[0:b]" in step and "w_bar_part2[i0] += t7_bar" in step
    assert "w_bar_part2.shape[0] != h_2_bar.shape[0]" in step     # the view's length, checked
    # the arrays a nest stores are rows of one allocation, but not a gradient it returns
    assert "arrays = np.empty((5, x.shape[0]))" in forward and "h_2 = arrays[4]" in forward
    assert "h_1_bar = np.empty((h_2_bar.shape[0],))" in step
    _compare(gated, [w, bias, h0, xs], (0, 1, 2))
    _compare(gated, [RNG.standard_normal(10), RNG.standard_normal(10), RNG.standard_normal(5),
                     RNG.standard_normal((2, 5))], (0, 1, 2))


def test_shapes_of_a_recomputed_slice_are_its_first():
    """An adjoint sweep recomputing `t = w[0:b]` gives t the dimensions it had in the forward
    sweep, instead of marking it assigned arrays of different shapes."""
    w, bias, h0 = RNG.standard_normal(6), RNG.standard_normal(6), RNG.standard_normal(3)
    specs = [spec_of(a, "x") for a in (w, bias, h0, RNG.standard_normal((4, 3)))]
    _, out, _ = transform_ir(gated, specs, "grad", (0, 1, 2), False)
    shapes = Shapes(out)
    sliced = {s.target for s in walk(out.body) if isinstance(s, Assign) and s.op == "getitem"
              and any(e[0] == "slice" and any(e[1:]) for e in dict(s.params)["index"])}
    assert sliced and not sliced & shapes.poisoned


def columns(x, a):
    """Columns written in a loop, each from a sum over a row (the GMM's `lk[:, k] = ...`): the
    last nest of the trip is followed by its tape record, which reads the shape of the nest's value."""
    out = np.zeros((x.shape[0], a.shape[0]))
    for k in range(a.shape[0]):
        xc = x - a[k]
        out[:, k] = a[k] - 0.5 * np.sum(xc * xc, axis=1)
    return np.sum(out * out)


def test_tape_record_after_a_nest_reads_what_prints_before_it():
    x, a = RNG.standard_normal((5, 3)), RNG.standard_normal(4)
    src = ct.source(ct.value_and_grad(columns), x, a, units=False)
    forward = src.split("# adjoint of", 1)[0]
    record = forward.index("tape_1.append(")
    assert forward.index("t15_shape = ") < record     # (a record printed after the nest read it too early)
    _compare(columns, [x, a], 0)
    _compare(columns, [RNG.standard_normal((2, 6)), RNG.standard_normal(2)], 0)


def filled(x, v):
    """The adjoint of np.sum(lse) is an array filled with one number (np.full_like) that the nests
    after it do not start with (the adjoint of the sum over v comes between), and that of the
    keepdims sum inside a log-sum-exp ones (np.ones_like): fills that print alone, as calls."""
    lse = np.log(np.sum(np.exp(x), axis=1))
    w = np.tanh(v)
    return np.sum(lse) + 2.0 * np.sum(w * w)


def test_fills_alone_are_the_cached_kernels(monkeypatch):
    """Outside NUMBA_OPT=0, an array filled with one number that is not part of a nest is a call
    to the cached `full` or `empty` kernel, not a NumPy overload compiled into the function."""
    monkeypatch.setenv("NUMBA_OPT", "3")
    x, v = RNG.random((4, 3)) + 0.5, RNG.standard_normal(5)
    src = ct.source(ct.grad(filled, argnums=(0, 1)), x, v)
    code = "\n".join(line.split("#")[0] for line in src.splitlines())
    for call in ("np.full_like(", "np.ones_like(", "np.empty_like(", "np.ones("):
        assert call not in code
    assert "lse_bar = full(lse.shape, " in code
    _compare(filled, [x, v], (0, 1))
    _compare(filled, [RNG.random((2, 6)) + 0.5, RNG.standard_normal(1)], (0, 1))
