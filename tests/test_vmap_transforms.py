"""ct.vmap beyond gradients: scratch arrays sized by shared arguments, per-sample JVPs, VJPs and
Hessian-vector products, has_aux, out_axes and pytree in_axes, and per-sample Jacobians run as
rows of one batch. Each is checked against the same derivative taken one sample at a time on the
Python target, and the derivatives themselves against central differences."""
import numpy as np
import pytest

import cotangent as ct
import cotangent.batch_jacobians as batch_jacobians
from vmap_programs import gmm_scratch, sized_by_sample, loop_net, loop_net_vector, rel_err

TOL = 1e-10
N, D, M = 9, 3, 2


@pytest.fixture(scope="module")
def net():
    rng = np.random.default_rng(3)
    return (rng.normal(size=(N, D)), rng.normal(size=(M, D)), rng.normal(size=M),
            rng.normal(size=(N, D)), rng.normal(size=(M, D)))


AXES = (0, None, None)
python_net = ct.differentiable(loop_net, target="python")
python_vector = ct.differentiable(loop_net_vector, target="python")


def central(f, args, directions, h=1e-6):
    """(f(args + h·d) - f(args - h·d)) / 2h."""
    plus = [a + h * d if d is not None else a for a, d in zip(args, directions)]
    minus = [a - h * d if d is not None else a for a, d in zip(args, directions)]
    return (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * h)


# --- scratch arrays sized by shared arguments ---

def gmm_problem(n=40, k=4, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=k), rng.normal(size=(k, d)), 0.2 * rng.normal(size=(k, d)), rng.normal(size=(n, d))


def test_scratch_array_sized_by_a_shared_argument():
    alphas, means, icf, x = gmm_problem()
    axes = (None, None, None, 0)
    per_sample = ct.vmap(ct.grad(gmm_scratch, argnums=(0, 1, 2)), axes)
    got = per_sample(alphas, means, icf, x)
    ref = ct.vmap(ct.grad(gmm_scratch, argnums=(0, 1, 2)), axes, target="python")(alphas, means, icf, x)
    for a, b in zip(got, ref):
        assert a.shape == b.shape and rel_err(a, b) < TOL
    source = ct.source(per_sample)
    assert "def gmm_scratch_grad_workspace(" in source and "vals: the caller's scratch array" in source
    ct.check_grad(ct.differentiable(gmm_scratch, target="python"), alphas, means, icf, x[0], argnums=(0, 1, 2))
    value, summed = ct.value_and_grad(ct.vmap(gmm_scratch, axes, reduce="sum"), argnums=(0, 1, 2))(alphas, means, icf, x)
    assert rel_err(value, ct.vmap(gmm_scratch, axes, target="python")(alphas, means, icf, x).sum()) < TOL
    for a, b in zip(summed, ref):
        assert rel_err(a, b.sum(axis=0)) < TOL


def test_scratch_array_sized_by_the_sample_runs_on_the_cpu():
    rng = np.random.default_rng(1)
    w, x = rng.normal(size=3), rng.normal(size=(6, 3))
    got = ct.vmap(ct.grad(sized_by_sample), (None, 0))(w, x)
    assert rel_err(got, np.stack([ct.grad(python_sized)(w, row) for row in x])) < TOL


python_sized = ct.differentiable(sized_by_sample, target="python")


# --- ct.jvp, ct.vjp and ct.hvp of a vmap ---

@pytest.mark.parametrize("target", ["cpu", "python"])
def test_jvp_of_vmap(net, target):
    x, w, b, tx, tw = net
    values, tangents = ct.jvp(ct.vmap(loop_net, AXES, target=target), (x, w, b), (tx, tw, None))
    for i in range(N):
        v, t = ct.jvp(python_net, (x[i], w, b), (tx[i], tw, None))
        assert abs(values[i] - v) < TOL and abs(tangents[i] - t) < TOL * max(1, abs(t))
        fd = central(loop_net, (x[i], w, b), (tx[i], tw, None))
        assert abs(tangents[i] - fd) < 1e-6 * max(1, abs(fd))
    total, total_t = ct.jvp(ct.vmap(loop_net, AXES, reduce="mean", target=target), (x, w, b), (tx, tw, None))
    assert rel_err(total, values.mean()) < TOL and rel_err(total_t, tangents.mean()) < TOL
    vv, vt = ct.jvp(ct.vmap(loop_net_vector, AXES, target=target), (x, w, b), (tx, None, None))
    assert vv.shape == vt.shape == (N, M)
    for i in range(N):
        assert rel_err(vt[i], central(loop_net_vector, (x[i], w, b), (tx[i], None, None))) < 1e-6


@pytest.mark.parametrize("target", ["cpu", "python"])
def test_vjp_of_vmap(net, target):
    x, w, b, _, _ = net
    rng = np.random.default_rng(5)
    values, pullback = ct.vjp(ct.vmap(loop_net_vector, AXES, target=target), x, w, b)
    assert values.shape == (N, M)
    cot = rng.normal(size=(N, M))
    gx, gw, gb = pullback(cot)
    refs = [ct.vjp(python_vector, x[i], w, b)[1](cot[i]) for i in range(N)]
    assert rel_err(gx, np.stack([r[0] for r in refs])) < TOL          # batched: one row per sample
    assert rel_err(gw, sum(r[1] for r in refs)) < TOL                  # shared: summed over the batch
    assert rel_err(gb, sum(r[2] for r in refs)) < TOL
    value, pullback = ct.vjp(ct.vmap(loop_net, AXES, reduce="sum", target=target), x, w, b)
    gx, gw, gb = pullback(2.0)
    grads = [ct.grad(python_net, argnums=(0, 1, 2))(x[i], w, b) for i in range(N)]
    assert rel_err(gx, 2 * np.stack([g[0] for g in grads])) < TOL
    assert rel_err(gw, 2 * sum(g[1] for g in grads)) < TOL
    with pytest.raises(ValueError, match="cotangent has shape"):
        pullback(np.ones(3))


@pytest.mark.parametrize("target", ["cpu", "python"])
def test_hvp_of_vmap(net, target):
    x, w, b, tx, tw = net
    (gx, gw), (hx, hw) = ct.hvp(ct.vmap(loop_net, AXES, reduce="sum", target=target), (x, w, b), (tx, tw, None))
    refs = [ct.hvp(python_net, (x[i], w, b), (tx[i], tw, None)) for i in range(N)]
    assert rel_err(gx, np.stack([r[0][0] for r in refs])) < TOL and rel_err(gw, sum(r[0][1] for r in refs)) < TOL
    assert rel_err(hx, np.stack([r[1][0] for r in refs])) < TOL and rel_err(hw, sum(r[1][1] for r in refs)) < TOL
    grad_net = ct.grad(python_net, argnums=(0, 1))
    fd = central(lambda *a: np.concatenate([g.ravel() for g in grad_net(*a)]), (x[0], w, b), (tx[0], tw, None))
    assert rel_err(np.concatenate([refs[0][1][0], refs[0][1][1].ravel()]), fd) < 1e-6
    _, (hx1, hw1) = ct.hvp(ct.vmap(loop_net, AXES, target=target), (x, w, b), (tx, tw, None))
    assert hw1.shape == (N, M, D) and rel_err(hw1, np.stack([r[1][1] for r in refs])) < TOL


# --- has_aux, out_axes, pytree in_axes ---

def net_with_aux(x, w, b):
    h = np.tanh(w @ x + b)
    return np.sum(h * h), (h, np.sum(x))


def pair_loss(params, x):
    a, c = params
    return np.sum(a * x) + c[0] * np.sum(x * x)


def test_has_aux(net):
    x, w, b, _, _ = net
    (values, (h, sx)), gw = ct.vmap(ct.value_and_grad(net_with_aux, 1, has_aux=True), AXES)(x, w, b)
    assert values.shape == (N,) and h.shape == (N, M) and sx.shape == (N,) and gw.shape == (N, M, D)
    python_aux = ct.differentiable(net_with_aux, target="python")
    for i in range(N):
        (v, (hi, si)), gi = ct.value_and_grad(python_aux, 1, has_aux=True)(x[i], w, b)
        assert rel_err(values[i], v) < TOL and rel_err(h[i], hi) < TOL and rel_err(gw[i], gi) < TOL
    g2, (h2, _) = ct.vmap(ct.grad(net_with_aux, 1, has_aux=True), AXES)(x, w, b)
    assert rel_err(g2, gw) < TOL and rel_err(h2, h) < TOL


def test_out_axes_and_pytree_in_axes(net):
    x, w, b, _, _ = net
    assert rel_err(ct.vmap(loop_net_vector, AXES, out_axes=1)(x, w, b),
                   ct.vmap(loop_net_vector, AXES)(x, w, b).T) < TOL
    rng = np.random.default_rng(2)
    params = (rng.normal(size=(D, N)), rng.normal(size=2))       # a batched along its axis 1, c shared
    axes = ((1, None), 0)
    values = ct.vmap(pair_loss, axes)(params, x)
    assert rel_err(values, [pair_loss((params[0][:, i], params[1]), x[i]) for i in range(N)]) < TOL
    ga, gc = ct.vmap(ct.grad(pair_loss), axes)(params, x)
    assert rel_err(ga, x) < TOL and rel_err(gc[:, 0], np.sum(x * x, axis=1)) < TOL
    sa, sc = ct.grad(ct.vmap(pair_loss, axes, reduce="sum"))(params, x)
    assert sa.shape == (D, N) and rel_err(sa, x.T) < TOL and rel_err(sc[0], np.sum(x * x)) < TOL


@pytest.mark.parametrize("make, message", [
    (lambda: ct.vmap(loop_net, AXES, reduce="sum", out_axes=1), "out_axes"),
    (lambda: ct.vmap(pair_loss, ((0, None, None), 0)), "does not match the argument's structure"),
    (lambda: ct.vmap(loop_net, AXES, out_axes=(0, 1)), "out_axes"),
])
def test_axes_errors(net, make, message):
    x, w, b, _, _ = net
    rng = np.random.default_rng(0)
    with pytest.raises(ct.CompileError, match=message):
        f = make()
        if f.pyfunc is pair_loss:
            f((rng.normal(size=(N, D)), rng.normal(size=2)), x)
        else:
            f(x, w, b)


# --- per-sample Jacobians and Hessians as rows of one batch ---

@pytest.mark.parametrize("reduce", [None, "sum"])
def test_jacobians_as_rows(net, reduce, monkeypatch):
    x, w, b, _, _ = net
    monkeypatch.setattr(batch_jacobians, "ROWS_BYTES", 2000)      # several slices of samples
    for make, f, nums in [(ct.jacfwd, loop_net_vector, (0, 1)), (ct.jacrev, loop_net_vector, 1),
                          (ct.hessian, loop_net, (0, 2))]:
        got = ct.vmap(make(f, nums), AXES, reduce=reduce)(x, w, b)
        ref = ct.vmap(make(f, nums), AXES, reduce=reduce, target="python")(x, w, b)
        got, ref = (got, ref) if isinstance(nums, tuple) else ((got,), (ref,))
        for a, r in zip(got, ref):
            for aa, rr in zip(a if make is ct.hessian else (a,), r if make is ct.hessian else (r,)):
                assert aa.shape == rr.shape and rel_err(aa, rr) < TOL, (make.__name__, reduce)
    one = ct.jacfwd(python_vector, (0, 1))(x[0], w, b)
    jacobian = ct.vmap(ct.jacfwd(loop_net_vector, (0, 1)), AXES)
    jx = jacobian(x, w, b)[0]
    driver = ct.source(jacobian)
    assert "computed once for every sample" in driver      # b[0] and b[1] are read before the loop
    assert rel_err(jx[0], one[0]) < TOL
    fd = np.stack([central(loop_net_vector, (x[0], w, b), (e, None, None)) for e in np.eye(D)], axis=-1)
    assert rel_err(jx[0], fd) < 1e-6


def test_check_grad_of_a_vmap(net):
    x, w, b, _, _ = net
    report = ct.check_grad(ct.vmap(loop_net, AXES, reduce="sum"), x, w, b, argnums=(0, 1))
    assert set(report) == {"x", "w"} and max(report.values()) < 1e-6
