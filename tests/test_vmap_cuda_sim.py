"""The CUDA target on Numba's CUDA simulator, against the single-thread CPU target: summed and
per-sample gradients, tapes that must grow, and elementwise kernels.

The simulator must be switched on before numba is imported, so these tests run in a child
process (test_simulator_run below starts it with NUMBA_ENABLE_CUDASIM=1); in the main process
they are skipped."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cotangent as ct
from numba.core import config
from vmap_programs import (GMM_AXES, PATH_AXES, gmm_point, hinge_path, local_buffer, softclip, one_thread, path_problem,
                           random_problem, rel_err, gmm_scratch, sized_by_sample, loop_net, loop_net_vector)

TOL = 1e-10
SIM = bool(config.ENABLE_CUDASIM)
on_simulator = pytest.mark.skipif(not SIM, reason="runs in the child process with NUMBA_ENABLE_CUDASIM=1")
pytestmark = pytest.mark.filterwarnings("ignore:Cannot cache compiled function")


def test_simulator_run():
    """Runs this module on the simulator in a child process, and checks that every test passed."""
    if SIM:
        pytest.skip("already on the simulator")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    here = Path(__file__).resolve()
    proc = subprocess.run([sys.executable, "-m", "pytest", str(here), "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist"], cwd=here.parents[1], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert re.search(r"^7 passed", proc.stdout, re.M) and "failed" not in proc.stdout, proc.stdout[-2000:]


def both(make, *args):
    """(CUDA result, single-thread CPU result) of the function `make(target)` at args."""
    return make("cuda")(*args), one_thread(make("cpu"), *args)


@on_simulator
def test_gmm_summed_and_per_sample():
    p = random_problem(3, 3, 80, seed=5)
    args = (p["alphas"], p["means"], p["icf"], p["x"])
    (v, g), (v1, g1) = both(lambda t: ct.value_and_grad(ct.vmap(gmm_point, GMM_AXES, reduce="sum", target=t),
                                                      argnums=(0, 1, 2, 3)), *args)
    assert rel_err(v, v1) < TOL
    for a, b in zip(g, g1):
        assert a.shape == b.shape and rel_err(a, b) < TOL
    ps, ps1 = both(lambda t: ct.vmap(ct.grad(gmm_point, argnums=(0, 1, 2)), GMM_AXES, target=t), *args)
    for a, b in zip(ps, ps1):
        assert a.shape == (80,) + b.shape[1:] and rel_err(a, b) < TOL
    values, values1 = both(lambda t: ct.vmap(gmm_point, GMM_AXES, target=t), *args)
    assert values.shape == (80,) and rel_err(values, values1) < TOL


@on_simulator
def test_loop_and_branch_summed_mean_and_per_sample():
    args = path_problem(n=50)
    (v, g), (v1, g1) = both(lambda t: ct.value_and_grad(ct.vmap(hinge_path, PATH_AXES, reduce="mean", target=t),
                                                      argnums=(0, 1, 2, 3)), *args)
    assert rel_err(v, v1) < TOL and isinstance(g[1], float)
    for a, b in zip(g, g1):
        assert rel_err(a, b) < TOL
    ps, ps1 = both(lambda t: ct.vmap(ct.grad(hinge_path, argnums=(0, 1)), PATH_AXES, target=t), *args)
    for a, b in zip(ps, ps1):
        assert rel_err(a, b) < TOL


@on_simulator
def test_tapes_longer_than_the_first_guess_and_local_arrays():
    """A loop of 40 trips needs tapes longer than the 32 first allocated: the kernel runs again."""
    def long_loop(w, x):
        s = 0.0
        for i in range(x.shape[0]):
            s = np.sin(s * w[i % 3] + x[i])
        return s

    rng = np.random.default_rng(2)
    w, x = rng.normal(size=3), rng.normal(size=(20, 40))
    (v, g), (v1, g1) = both(lambda t: ct.value_and_grad(ct.vmap(long_loop, (None, 0), reduce="sum", target=t),
                                                      argnums=(0, 1)), w, x)
    assert rel_err(v, v1) < TOL and rel_err(g[0], g1[0]) < TOL and rel_err(g[1], g1[1]) < TOL
    w, x = rng.normal(size=4), rng.normal(size=(30, 3))       # a local array of constant shape
    (v, g), (v1, g1) = both(lambda t: ct.value_and_grad(ct.vmap(local_buffer, (None, 0), reduce="sum", target=t),
                                                      argnums=(0, 1)), w, x)
    assert rel_err(v, v1) < TOL and rel_err(g[0], g1[0]) < TOL and rel_err(g[1], g1[1]) < TOL


@on_simulator
def test_elementwise_kernels():
    f = ct.differentiable(softclip, target="cuda")
    e = ct.elementwise(softclip, target="cuda")
    x, a = np.linspace(-3.0, 3.0, 40).reshape(8, 5), 1.5
    ref = np.vectorize(softclip)(x, a)
    assert rel_err(f(x, a), ref) < 1e-14 and rel_err(e(x, a), ref) < 1e-14
    dx, da = e.derivative((0, 1))(x, a)
    cpu = ct.elementwise(softclip, target="cpu")
    rx, ra = cpu.derivative((0, 1))(x, a)
    assert rel_err(dx, rx) < 1e-14 and rel_err(da, ra) < 1e-14
    values, tangents = e.jvp((x, a), (np.ones_like(x), 1.0))
    assert rel_err(values, ref) < 1e-14 and rel_err(tangents, rx + ra) < 1e-14
    assert "@cuda.jit" in ct.source(e) and "math.log1p(" in ct.source(e)


def dot_and_extremes(x, w):
    """Several outputs per sample (numbers, in element loops, as CUDA threads run them)."""
    s = 0.0
    m = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * w[i]
        m = max(m, x[i])
    return s, (s * s, np.tanh(m))


@on_simulator
def test_tuple_outputs():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((30, 4)), rng.standard_normal(4)
    for reduce in (None, "sum"):
        out, ref = both(lambda t: ct.vmap(dot_and_extremes, (0, None), reduce=reduce, target=t), x, w)
        flat = [out[0], *out[1]]
        for a, b in zip(flat, [ref[0], *ref[1]]):
            assert np.shape(a) == np.shape(b) == ((30,) if reduce is None else ()) and rel_err(a, b) < TOL


@on_simulator
def test_scratch_arrays_sized_by_shared_arguments():
    """Each thread takes its slice of a workspace sized at launch; a size read from the sample's
    own data is refused with the line."""
    rng = np.random.default_rng(4)
    alphas, means, icf, x = rng.normal(size=4), rng.normal(size=(4, 3)), 0.2 * rng.normal(size=(4, 3)), rng.normal(size=(50, 3))
    axes = (None, None, None, 0)
    g, g1 = both(lambda t: ct.vmap(ct.grad(gmm_scratch, argnums=(0, 1, 2)), axes, target=t), alphas, means, icf, x)
    for a, b in zip(g, g1):
        assert a.shape == b.shape and rel_err(a, b) < TOL
    (v, s), (v1, s1) = both(lambda t: ct.value_and_grad(ct.vmap(gmm_scratch, axes, reduce="sum", target=t),
                                                       argnums=(0, 1)), alphas, means, icf, x)
    assert rel_err(v, v1) < TOL and all(rel_err(a, b) < TOL for a, b in zip(s, s1))
    with pytest.raises(ct.CompileError, match="depends on the sample"):
        ct.vmap(sized_by_sample, (None, 0), target="cuda")(np.ones(3), np.ones((4, 3)))


@on_simulator
def test_derivatives_of_vmap_and_per_sample_jacobians():
    rng = np.random.default_rng(6)
    x, w, b, tx, tw = (rng.normal(size=(20, 3)), rng.normal(size=(2, 3)), rng.normal(size=2),
                       rng.normal(size=(20, 3)), rng.normal(size=(2, 3)))
    axes = (0, None, None)
    (v, t), (v1, t1) = both(lambda tg: lambda *a: ct.jvp(ct.vmap(loop_net, axes, target=tg), a, (tx, tw, None)), x, w, b)
    assert rel_err(v, v1) < TOL and rel_err(t, t1) < TOL
    cot = rng.normal(size=(20, 2))
    g, g1 = both(lambda tg: lambda *a: ct.vjp(ct.vmap(loop_net_vector, axes, target=tg), *a)[1](cot), x, w, b)
    assert all(rel_err(p, q) < TOL for p, q in zip(g, g1))
    h, h1 = both(lambda tg: lambda *a: ct.hvp(ct.vmap(loop_net, axes, reduce="sum", target=tg), a, (tx, tw, None)),
                 x, w, b)
    assert all(rel_err(p, q) < TOL for pair in zip(h, h1) for p, q in zip(*pair))
    for make, f, nums in [(ct.jacfwd, loop_net_vector, (0, 1)), (ct.hessian, loop_net, 0)]:
        j, j1 = both(lambda tg: ct.vmap(make(f, nums), axes, target=tg), x, w, b)
        flat = lambda r: [r] if isinstance(r, np.ndarray) else [leaf for item in r for leaf in flat(item)]
        assert all(p.shape == q.shape and rel_err(p, q) < TOL for p, q in zip(flat(j), flat(j1)))
