"""Functions returning several values: ct.vjp takes a tuple of cotangents, ct.jvp returns a tuple
of tangents, ct.jacrev and ct.jacfwd return one Jacobian per output (JAX's structure). Each is
checked against central differences on two input shapes, on the Python and Numba targets. A
function may return a dict literal (alone or in a tuple): values, tangents, Jacobians and aux come
back as dicts, and ct.vjp takes a dict cotangent."""
import numpy as np
import pytest

import cotangent as ct

TARGETS = ["python", pytest.param("cpu", marks=pytest.mark.slow)]
H = 1e-6


def pair(x, w):
    """An array and a number, the array returned twice: its adjoints add up."""
    a = np.sin(x) * w
    b = np.sum(x ** 2) * w + np.sum(np.tanh(x))
    return a, b, a * 1.0


def with_count(x, w):
    """An integer output beside a float one: its cotangent is ignored, its tangent is zero."""
    n = x.shape[0]
    return np.exp(x) * w, n


SHAPES = [(3,), (2, 3)]


def numeric_vjp(f, args, cotangents):
    """<cotangents, f(args)> differentiated by central differences, per argument."""
    def scalar(*a):
        return sum(float(np.sum(np.asarray(c) * np.asarray(o))) for c, o in zip(cotangents, f(*a))
                   if c is not None)
    out = []
    for i, a in enumerate(args):
        a = np.asarray(a, dtype=float)
        g = np.zeros_like(a)
        for e in np.ndindex(a.shape):
            up, down = a.copy(), a.copy()
            up[e] += H
            down[e] -= H
            hi = list(args)
            lo = list(args)
            hi[i], lo[i] = (up if a.ndim else float(up)), (down if a.ndim else float(down))
            g[e] = (scalar(*hi) - scalar(*lo)) / (2 * H)
        out.append(g if a.ndim else float(g))
    return out


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("shape", SHAPES)
def test_vjp_takes_a_cotangent_per_output(target, shape):
    rng = np.random.default_rng(len(shape))
    x, w = rng.normal(size=shape), 1.3
    f = ct.differentiable(pair, target=target)
    value, pullback = ct.vjp(f, x, w)
    for got, want in zip(value, pair(x, w)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    cts = (rng.normal(size=shape), 0.7, rng.normal(size=shape))
    gx, gw = pullback(cts)
    nx, nw = numeric_vjp(pair, (x, w), cts)
    np.testing.assert_allclose(gx, nx, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gw, nw, rtol=1e-6, atol=1e-8)
    # None stands for zeros
    gx, gw = pullback((None, 1.0, None))
    nx, nw = numeric_vjp(pair, (x, w), (None, 1.0, None))
    np.testing.assert_allclose(gx, nx, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gw, nw, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("target", TARGETS)
def test_an_integer_output_takes_no_cotangent(target):
    x, w = np.array([0.2, -0.4]), 0.5
    f = ct.differentiable(with_count, target=target)
    (e, n), pullback = ct.vjp(f, x, w)
    assert n == 2
    c = np.array([1.0, -2.0])
    gx, gw = pullback((c, None))
    np.testing.assert_allclose(gx, c * np.exp(x) * w, rtol=1e-12)
    np.testing.assert_allclose(gw, np.sum(c * np.exp(x)), rtol=1e-12)
    (e, n), (de, dn) = ct.jvp(f, (x, w), (np.ones(2), 0.0))
    np.testing.assert_allclose(de, np.exp(x) * w, rtol=1e-12)
    assert dn == 0


def test_a_cotangent_that_does_not_match_the_outputs_is_refused():
    x = np.array([0.2, -0.4, 0.1])
    _, pullback = ct.vjp(ct.differentiable(pair, target="python"), x, 1.0)
    with pytest.raises(ValueError, match="tuple of 3: pass the cotangent as a tuple of 3.*not a tuple of 2"):
        pullback((np.ones(3), 1.0))
    with pytest.raises(ValueError, match=r"result\[0\] has shape \(2,\), but the result\[0\] has shape \(3,\)"):
        pullback((np.ones(2), 1.0, None))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("shape", SHAPES)
def test_jvp_returns_a_tangent_per_output(target, shape):
    rng = np.random.default_rng(7)
    x, w = rng.normal(size=shape), -0.8
    dx, dw = rng.normal(size=shape), 0.3
    value, tangents = ct.jvp(ct.differentiable(pair, target=target), (x, w), (dx, dw))
    up, down = pair(x + H * dx, w + H * dw), pair(x - H * dx, w - H * dw)
    assert isinstance(tangents, tuple) and len(tangents) == 3
    for t, u, d in zip(tangents, up, down):
        np.testing.assert_allclose(t, (np.asarray(u) - np.asarray(d)) / (2 * H), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("jacobian", [ct.jacrev, ct.jacfwd])
@pytest.mark.parametrize("shape", SHAPES)
def test_jacobians_have_one_block_per_output(target, jacobian, shape):
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=shape), 0.9
    f = ct.differentiable(pair, target=target)
    blocks = jacobian(f, argnums=(0, 1))(x, w)
    assert isinstance(blocks, tuple) and len(blocks) == 3
    for k, (jx, jw) in enumerate(blocks):
        out_shape = np.shape(pair(x, w)[k])
        assert np.shape(jx) == out_shape + shape and np.shape(jw) == out_shape
        want_x = np.zeros(out_shape + shape)
        for e in np.ndindex(shape):
            up, down = x.copy(), x.copy()
            up[e] += H
            down[e] -= H
            want_x[(...,) + e] = (np.asarray(pair(up, w)[k]) - np.asarray(pair(down, w)[k])) / (2 * H)
        want_w = (np.asarray(pair(x, w + H)[k]) - np.asarray(pair(x, w - H)[k])) / (2 * H)
        np.testing.assert_allclose(jx, want_x, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(jw, want_w, rtol=1e-6, atol=1e-8)
    single = jacobian(f)(x, w)          # an int argnums: each output's Jacobian itself
    for got, (jx, _) in zip(single, blocks):
        np.testing.assert_allclose(got, jx, rtol=1e-12)


def nested(x, w):
    """A loss with auxiliary values nested in a tuple; the adjoint of `a` gathers two parts (in a
    loop nest on Numba: the array parameter a_bar and the number added to it per element)."""
    a = np.sin(x) * w
    return np.sum(a), (a, np.max(x) * w)


def _flat(value):
    return [leaf for v in value for leaf in (_flat(v) if isinstance(v, tuple) else [v])]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("shape", SHAPES)
def test_nested_tuples_keep_their_structure(target, shape):
    rng = np.random.default_rng(11)
    x, w = rng.normal(size=shape), 1.7
    f = ct.differentiable(nested, target=target)
    value, pullback = ct.vjp(f, x, w)
    assert isinstance(value[1], tuple)
    cts = (0.5, (rng.normal(size=shape), -1.5))
    gx, gw = pullback(cts)
    flat_f = lambda x, w: _flat(nested(x, w))      # noqa: E731
    nx, nw = numeric_vjp(flat_f, (x, w), _flat(cts))
    np.testing.assert_allclose(gx, nx, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gw, nw, rtol=1e-6, atol=1e-8)
    _, tangents = ct.jvp(f, (x, w), (np.ones(shape), 0.0))
    assert isinstance(tangents[1], tuple) and np.shape(tangents[1][0]) == shape
    (loss, aux), g = ct.value_and_grad(f, has_aux=True)(x, w)
    np.testing.assert_allclose(g, np.cos(x) * w, rtol=1e-12)
    np.testing.assert_allclose(aux[0], np.sin(x) * w, rtol=1e-12)
    jl, (ja, jm) = ct.jacrev(f)(x, w)
    np.testing.assert_allclose(jl, np.cos(x) * w, rtol=1e-12)
    assert np.shape(ja) == shape + shape and np.shape(jm) == shape


def loop_outputs(x, w):
    """A loop writing into an array, both returned."""
    s = 0.0
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        s = s + np.sin(x[i] * w)
        y[i] = s * x[i]
    return y, s


def while_outputs(x, w):
    """A while loop, a branch after it, and its trip count returned beside the values."""
    t = 0.0
    k = 0
    while k < 3:
        t = t + w * np.sum(x ** 2)
        k += 1
    if t > 1.0:
        u = np.tanh(x) * t
    else:
        u = x * 2.0
    return t, u, k


def written_outputs(x, w):
    """An array written in place, returned inside a nested tuple."""
    z = x.copy()
    z[1] = z[0] * w
    m = z @ z
    return (m, z), w * 2.0


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("fn", [loop_outputs, while_outputs, written_outputs], ids=lambda f: f.__name__)
def test_control_flow_and_writes_with_several_outputs(target, fn):
    rng = np.random.default_rng(5)
    x, w = rng.normal(size=4), 0.9
    f = ct.differentiable(fn, target=target)
    value, pullback = ct.vjp(f, x, w)
    leaves = _flat(fn(x, w))
    cts = [rng.normal(size=np.shape(v)) if np.asarray(v).dtype.kind == "f" else None for v in leaves]
    it = iter(cts)

    def nest(v):
        return tuple(nest(a) if isinstance(a, tuple) else next(it) for a in v)

    got = pullback(nest(fn(x, w)))
    want = numeric_vjp(lambda x, w: _flat(fn(x, w)), (x, w), cts)
    for g, n in zip(got, want):
        np.testing.assert_allclose(g, n, rtol=1e-6, atol=1e-8)


def report(x, w):
    """A dict result, with a tuple inside it (keys out of order: they come back as written)."""
    a = np.sin(x) * w
    return {"scaled": a, "norm": np.sum(x ** 2) * w, "pair": (np.tanh(x), w * w)}


def loss_with_metrics(x, w):
    """has_aux with a dict of metrics."""
    r = np.tanh(x * w)
    return np.sum(r * r), {"mean": np.mean(r), "first": r[0]}


def report_leaves(d):
    return [d["norm"], d["pair"][0], d["pair"][1], d["scaled"]]


@pytest.mark.parametrize("target", TARGETS)
def test_dict_results(target):
    rng = np.random.default_rng(7)
    x, w = rng.normal(size=(2, 3)), 0.8
    f = ct.differentiable(report, target=target)
    value = f(x, w)
    assert isinstance(value, dict) and set(value) == {"scaled", "norm", "pair"}
    for got, want in zip(report_leaves(value), report_leaves(report(x, w))):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # jvp: a dict of tangents, against central differences along the direction
    tx = rng.normal(size=x.shape)
    _, tangent = ct.jvp(f, (x, w), (tx, 0.5))
    numeric = [(np.asarray(p) - np.asarray(m)) / (2 * H) for p, m in zip(
        report_leaves(report(x + H * tx, w + 0.5 * H)), report_leaves(report(x - H * tx, w - 0.5 * H)))]
    for got, want in zip(report_leaves(tangent), numeric):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    # vjp: a dict cotangent, against <cotangent, f> differentiated numerically
    value, pullback = ct.vjp(f, x, w)
    cot = {"scaled": rng.normal(size=x.shape), "norm": 0.3, "pair": (rng.normal(size=x.shape), -1.1)}
    gx, gw = pullback(cot)
    flat_f = lambda x, w: report_leaves(report(x, w))          # noqa: E731
    nx, nw = numeric_vjp(flat_f, (x, w), report_leaves(cot))
    np.testing.assert_allclose(gx, nx, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gw, nw, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="keys"):
        pullback({"scaled": cot["scaled"], "norm": 0.3})
    # jacrev and jacfwd: a dict of Jacobians, equal to each other
    jr, jf = ct.jacrev(f, argnums=1)(x, w), ct.jacfwd(f, argnums=1)(x, w)
    assert set(jr) == set(jf) == {"scaled", "norm", "pair"}
    for got, want in zip(report_leaves(jr), report_leaves(jf)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jr["scaled"], np.sin(x), rtol=1e-12)


def test_dict_aux_and_vmap():
    rng = np.random.default_rng(8)
    x, w = rng.normal(size=4), 0.6
    f = ct.differentiable(loss_with_metrics, target="python")
    (value, metrics), g = ct.value_and_grad(f, argnums=1, has_aux=True)(x, w)
    want_value, want_metrics = loss_with_metrics(x, w)
    assert set(metrics) == {"mean", "first"} and abs(metrics["first"] - want_metrics["first"]) < 1e-12
    assert abs(value - want_value) < 1e-12
    numeric = (loss_with_metrics(x, w + H)[0] - loss_with_metrics(x, w - H)[0]) / (2 * H)
    assert abs(g - numeric) < 1e-6 * max(1.0, abs(numeric))
    xs = rng.normal(size=(5, 4))
    batch = ct.vmap(report, in_axes=(0, None), target="python")(xs, w)
    assert set(batch) == {"scaled", "norm", "pair"} and batch["pair"][0].shape == (5, 4)
    np.testing.assert_allclose(batch["norm"], np.sum(xs ** 2, axis=1) * w, rtol=1e-12)


def only_key(x):
    return {"y": np.sin(x) * 2.0}


def test_a_dict_of_one_key():
    x = np.array([0.2, -0.4])
    f = ct.differentiable(only_key, target="python")
    assert set(f(x)) == {"y"}
    jac = ct.jacrev(f)(x)
    assert set(jac) == {"y"}
    np.testing.assert_allclose(jac["y"], np.diag(2.0 * np.cos(x)), rtol=1e-12)
    value, tangent = ct.jvp(f, (x,), (np.ones(2),))
    np.testing.assert_allclose(tangent["y"], 2.0 * np.cos(x), rtol=1e-12)
    _, pullback = ct.vjp(f, x)
    np.testing.assert_allclose(pullback({"y": np.ones(2)})[0], 2.0 * np.cos(x), rtol=1e-12)


def test_a_dict_with_computed_keys_is_refused():
    with pytest.raises(ct.CompileError, match="keys written out as strings"):
        ct.jvp(ct.differentiable(_computed_keys, target="python"), (np.ones(2),), (np.ones(2),))


def _computed_keys(x):
    return {str(1): x * 2.0}
