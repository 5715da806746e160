"""ct.vmap on the CPU: summed and per-sample gradients on threads (prange) and in plain Python,
against one thread, a loop over samples, central differences and ADBench's reference value; the
CUDA target's generated source and its errors (no GPU needed), and its PTX where the CUDA
toolkit's compiler is installed."""
import numba
import numpy as np
import pytest

import cotangent as ct
from vmap_programs import (GMM_AXES, PATH_AXES, DATA, gmm_point, gmm_prior, hinge_path, local_buffer, softclip, load,
                           loop_reference, one_thread, path_problem, random_problem, rel_err, wishart_constant)

TOL = 1e-10
pytestmark = pytest.mark.filterwarnings("ignore:Cannot cache compiled function")   # under NUMBA_OPT=0


@pytest.fixture(scope="module")
def gmm():
    p = load("1k/gmm_d2_K5.txt") if (DATA / "1k" / "gmm_d2_K5.txt").exists() else random_problem(2, 5, 1000)
    return p, (p["alphas"], p["means"], p["icf"], p["x"])


@pytest.fixture(scope="module")
def gmm_grad():
    return ct.value_and_grad(ct.vmap(gmm_point, GMM_AXES, reduce="sum"), argnums=(0, 1, 2))


def test_gmm_summed_gradient_matches_one_thread_a_loop_and_adbench(gmm, gmm_grad):
    p, args = gmm
    value, grads = gmm_grad(*args)
    value_1, grads_1 = one_thread(gmm_grad, *args)
    ref = loop_reference(ct.value_and_grad(gmm_point, argnums=(0, 1, 2)), args, GMM_AXES)
    assert rel_err(value, value_1) < TOL and rel_err(value, sum(r[0] for r in ref)) < TOL
    for j, g in enumerate(grads):
        assert g.shape == args[j].shape
        assert rel_err(g, grads_1[j]) < TOL
        assert rel_err(g, sum(r[1][j] for r in ref)) < TOL
    if "gamma" in p and (DATA / "1k" / "gmm_d2_K5.txt").exists():
        prior = gmm_prior(p["icf"], p["d"], p["gamma"], p["m"], wishart_constant(p["d"], p["gamma"], p["m"]))
        assert abs(value + prior - (-5240.590562549577)) < 1e-9 * 5240.59


def test_gmm_summed_gradient_against_central_differences(gmm, gmm_grad):
    _, (alphas, means, icf, x) = gmm
    x = x[:200]
    f = ct.vmap(gmm_point, GMM_AXES, reduce="sum")
    _, (d_alphas, d_means, d_icf) = gmm_grad(alphas, means, icf, x)
    h = 1e-5
    for arr, g, k in ((alphas, d_alphas, (2,)), (means, d_means, (1, 0)), (icf, d_icf, (3, 2))):
        up, down = arr.copy(), arr.copy()
        up[k] += h
        down[k] -= h
        args_up = [up if a is arr else a for a in (alphas, means, icf)] + [x]
        args_down = [down if a is arr else a for a in (alphas, means, icf)] + [x]
        fd = (f(*args_up) - f(*args_down)) / (2 * h)
        assert abs(g[k] - fd) < 1e-6 * max(1.0, abs(fd))
    ct.check_grad(gmm_point, alphas, means, icf, x[0], argnums=(0, 1, 2, 3))


def test_gmm_per_sample_gradients(gmm):
    _, args = gmm
    args = args[:3] + (args[3][:300],)
    per_sample = ct.vmap(ct.grad(gmm_point, argnums=(0, 2)), GMM_AXES)(*args)
    ref = loop_reference(ct.grad(gmm_point, argnums=(0, 2)), args, GMM_AXES)
    assert per_sample[0].shape == (300,) + args[0].shape and per_sample[1].shape == (300,) + args[2].shape
    for j in range(2):
        assert rel_err(per_sample[j], np.array([r[j] for r in ref])) < TOL
    jac = ct.jacrev(ct.vmap(gmm_point, GMM_AXES), argnums=(0, 2))(*args)       # the same, as a Jacobian
    assert rel_err(jac[0], per_sample[0]) < TOL and rel_err(jac[1], per_sample[1]) < TOL
    values, (d_alphas, _) = ct.vmap(ct.value_and_grad(gmm_point, argnums=(0, 2)), GMM_AXES)(*args)
    assert values.shape == (300,) and rel_err(d_alphas, per_sample[0]) < TOL
    assert rel_err(values, np.array([gmm_point(*args[:3], x) for x in args[3]])) < TOL


@pytest.fixture(scope="module")
def path():
    return path_problem()


@pytest.mark.parametrize("target", ["cpu", "python"])
def test_loop_and_branch_summed_and_per_sample(path, target):
    theta, scale, x, y = path
    vg = ct.value_and_grad(ct.vmap(hinge_path, PATH_AXES, reduce="sum", target=target), argnums=(0, 1, 2, 3))
    value, (d_theta, d_scale, d_x, d_y) = vg(*path)
    value_1, grads_1 = one_thread(vg, *path)
    ref = loop_reference(ct.value_and_grad(hinge_path, argnums=(0, 1, 2, 3)), path, PATH_AXES)
    assert rel_err(value, sum(r[0] for r in ref)) < TOL and rel_err(value, value_1) < TOL
    assert isinstance(d_scale, float)
    for j, g in enumerate((d_theta, d_scale, d_x, d_y)):
        assert rel_err(g, grads_1[j]) < TOL
        want = sum(r[1][j] for r in ref) if j < 2 else np.array([r[1][j] for r in ref])
        assert rel_err(g, want) < TOL
    per_sample = ct.vmap(ct.grad(hinge_path, argnums=(0, 1)), PATH_AXES, target=target)(*path)
    assert per_sample[1].shape == (x.shape[0],)
    for j in range(2):
        assert rel_err(per_sample[j], np.array([r[1][j] for r in ref])) < TOL
    ct.check_grad(hinge_path, theta, scale, x[3], y[3], argnums=(0, 1, 2, 3))


def test_mean_and_a_batch_axis_that_is_not_the_first(path):
    theta, scale, x, y = path
    sum_vg = ct.value_and_grad(ct.vmap(hinge_path, PATH_AXES, reduce="sum"), argnums=(0, 2))
    mean_vg = ct.value_and_grad(ct.vmap(hinge_path, (None, None, 1, 0), reduce="mean"), argnums=(0, 2))
    value, (d_theta, d_x) = sum_vg(*path)
    mean, (m_theta, m_xt) = mean_vg(theta, scale, np.ascontiguousarray(x.T), y)
    n = x.shape[0]
    assert rel_err(mean, value / n) < TOL and rel_err(m_theta, d_theta / n) < TOL
    assert m_xt.shape == x.T.shape and rel_err(m_xt, d_x.T / n) < TOL
    values = ct.vmap(hinge_path, (None, None, 1, 0))(theta, scale, x.T, y)
    assert values.shape == (n,) and rel_err(values.sum(), value) < TOL


def test_tuple_arguments_and_a_single_argnum(path):
    theta, scale, x, y = path

    def paired(params, x, y):
        theta, scale = params
        return hinge_path(theta, scale, x, y)

    g = ct.grad(ct.vmap(paired, (None, 0, 0), reduce="sum"), argnums=0)((theta, scale), x, y)
    ref = ct.grad(ct.vmap(hinge_path, PATH_AXES, reduce="sum"), argnums=(0, 1))(*path)
    assert isinstance(g, tuple) and rel_err(g[0], ref[0]) < TOL and rel_err(g[1], ref[1]) < TOL


def test_a_per_sample_function_that_makes_arrays_runs_allocating_on_cpu():
    def layer(W, b, x):
        h = np.tanh(W @ x + b)
        return np.sum(h * h)

    rng = np.random.default_rng(3)
    W, b, X = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=(40, 4))
    g = ct.grad(ct.vmap(layer, (None, None, 0), reduce="sum"), argnums=(0, 1))
    dW, db = g(W, b, X)
    ref = loop_reference(ct.grad(layer, argnums=(0, 1)), (W, b, X), (None, None, 0))
    assert rel_err(dW, sum(r[0] for r in ref)) < TOL and rel_err(db, sum(r[1] for r in ref)) < TOL
    src = ct.source(g)
    assert "numba.prange" in src and "np.zeros" in src
    with pytest.raises(ct.CompileError, match="makes an array") as e:
        ct.source(ct.grad(ct.vmap(layer, (None, None, 0), reduce="sum", target="cuda"), argnums=(0, 1)), W, b, X)
    assert "np.tanh(W @ x + b)" in str(e.value)


def test_a_small_array_of_constant_shape_made_inside():
    rng = np.random.default_rng(4)
    w, x = rng.normal(size=4), rng.normal(size=(30, 3))
    vg = ct.value_and_grad(ct.vmap(local_buffer, (None, 0), reduce="sum"), argnums=(0, 1))
    value, (d_w, d_x) = vg(w, x)
    ref = loop_reference(ct.value_and_grad(local_buffer, argnums=(0, 1)), (w, x), (None, 0))
    assert rel_err(value, sum(r[0] for r in ref)) < TOL and rel_err(d_w, sum(r[1][0] for r in ref)) < TOL
    assert rel_err(d_x, np.array([r[1][1] for r in ref])) < TOL
    src = ct.source(ct.grad(ct.vmap(local_buffer, (None, 0), reduce="sum", target="cuda")), w, x)
    assert "h = cuda.local.array((3,), numba.float64)" in src and "h_bar = cuda.local.array((3,)" in src


def test_source_shows_the_thread_loop_and_the_buffer_form(path):
    g = ct.grad(ct.vmap(hinge_path, PATH_AXES, reduce="sum"), argnums=(0, 1))
    src = ct.source(g, *path)
    driver = '@numba.njit(parallel=True, cache=True, error_model="numpy", boundscheck=True)'
    assert driver in src and "numba.prange(chunks)" in src
    assert "theta_bar_parts[c]" in src and "tapes[c]" in src       # one accumulator row per chunk
    per_sample = src.split(driver)[0]
    assert "np.zeros" not in per_sample and ".append(" not in src   # the per-sample code allocates nothing


def test_cuda_source_without_a_gpu(gmm):
    _, args = gmm
    g = ct.grad(ct.vmap(gmm_point, GMM_AXES, reduce="sum", target="cuda"), argnums=(0, 1, 2))
    src = ct.source(g, *args)
    for piece in ("@cuda.jit(device=True)", "def gmm_point_grad(", "math.exp(", "cuda.grid(1)",
                  "cuda.gridsize(1)", "tapes[:, :, slot]", "alphas_bar_parts[slot]", "def sum_rows(",
                  "cuda.atomic.max(tape_need, 0,"):
        assert piece in src, piece
    assert "np.exp" not in src and "len(range(" not in src
    if not numba.cuda.is_available():
        with pytest.raises(ct.CompileError, match="no GPU"):
            g(*args)


@pytest.mark.parametrize("construct, message", [
    ("np.sum(x)", "sum"), ("np.dot(x, x)", "dot"), ("np.cumsum(x)[0]", "makes an array")])
def test_cuda_rejects_what_device_code_cannot_do(construct, message, tmp_path):
    src = f"import numpy as np\n\ndef f(w, x):\n    return w * {construct}\n"
    path = tmp_path / f"cuda_reject_{abs(hash(construct))}.py"
    path.write_text(src)
    import importlib.util
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    f = ct.vmap(mod.f, (None, 0), reduce="sum", target="cuda")
    with pytest.raises(ct.CompileError, match=message) as e:
        ct.source(f, 2.0, np.ones((5, 3)))
    assert construct in str(e.value) and ":4:" in str(e.value)


def test_elementwise_on_the_cpu():
    e = ct.elementwise(softclip)
    x, a = np.linspace(-3.0, 3.0, 12).reshape(4, 3), 1.5
    ref = np.vectorize(softclip)(x, a)
    assert rel_err(e(x, a), ref) < 1e-14 and e(x, a).shape == (4, 3)
    grad = ct.grad(softclip, argnums=(0, 1))
    dx, da = e.derivative((0, 1))(x, a)
    assert rel_err(dx, np.vectorize(lambda u: grad(u, a)[0])(x)) < 1e-14
    assert rel_err(da, np.vectorize(lambda u: grad(u, a)[1])(x)) < 1e-14
    values, tangents = e.jvp((x, a), (2.0 * np.ones_like(x), None))
    assert rel_err(values, ref) < 1e-14 and rel_err(tangents, 2.0 * dx) < 1e-14
    assert isinstance(e(0.5, 1.5), float)


def path_and_scale(theta, scale, x, y):
    return hinge_path(theta, scale, x, y), scale


def residual_and_parts(w, x, y):
    """Several outputs per sample, one of them a tuple: a number, an array and a pair."""
    r = np.tanh(x @ w) - y
    return np.sum(r * r), (r, (np.max(r), np.sum(w * w)))


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_tuple_outputs(target):
    """A function returning a (nested) tuple maps to the same tuple of per-sample outputs, each
    stacked along axis 0, or summed or averaged with reduce."""
    rng = np.random.default_rng(7)
    w, x, y = rng.standard_normal(3), rng.standard_normal((40, 5, 3)), rng.standard_normal((40, 5))
    f = ct.differentiable(residual_and_parts, target=target)
    loss, (r, (top, norm)) = ct.vmap(f, (None, 0, 0))(w, x, y)
    expected = [residual_and_parts(w, x[i], y[i]) for i in range(40)]
    np.testing.assert_allclose(loss, [e[0] for e in expected], rtol=1e-12)
    np.testing.assert_allclose(r, np.stack([e[1][0] for e in expected]), rtol=1e-12)
    np.testing.assert_allclose(top, [e[1][1][0] for e in expected], rtol=1e-12)
    np.testing.assert_allclose(norm, np.full(40, np.sum(w * w)), rtol=1e-12)
    assert r.shape == (40, 5) and top.shape == (40,)
    for reduce, scale in (("sum", 1.0), ("mean", 1 / 40)):
        total, (r_sum, (top_sum, _)) = ct.vmap(f, (None, 0, 0), reduce=reduce)(w, x, y)
        assert total == pytest.approx(scale * sum(e[0] for e in expected), rel=1e-12)
        np.testing.assert_allclose(r_sum, scale * np.sum([e[1][0] for e in expected], axis=0), rtol=1e-12)
        assert top_sum == pytest.approx(scale * sum(e[1][1][0] for e in expected), rel=1e-12)


def pose_residual(pose, p, q):
    """A 2-D point moved by a pose (x, y, angle), minus its match: a robotics residual."""
    c, s = np.cos(pose[2]), np.sin(pose[2])
    return np.array([c * p[0] - s * p[1] + pose[0] - q[0], s * p[0] + c * p[1] + pose[1] - q[1]])


def point_energy(w, x):
    return np.sum(np.tanh(w * x) ** 2) + w[0] * x[1] * x[2]


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_per_sample_jacobians_and_hessians(target):
    """vmap of jacfwd, jacrev and hessian: one Jacobian (Hessian) per sample in JAX's shapes, batch
    axis first, equal to the per-sample transformation; with reduce, their sum or mean."""
    rng = np.random.default_rng(11)
    n = 30
    pose, p, q = rng.standard_normal(3), rng.standard_normal((n, 2)), rng.standard_normal((2, n))
    f = ct.differentiable(pose_residual, target=target)
    for jac in (ct.jacfwd, ct.jacrev):
        d_pose, d_p = ct.vmap(jac(f, argnums=(0, 1)), in_axes=(None, 0, 1))(pose, p, q)
        assert d_pose.shape == (n, 2, 3) and d_p.shape == (n, 2, 2)
        for i in range(n):
            e_pose, e_p = jac(f, argnums=(0, 1))(pose, p[i], q[:, i])
            np.testing.assert_allclose(d_pose[i], e_pose, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(d_p[i], e_p, rtol=1e-12, atol=1e-14)
        mean = ct.vmap(jac(f), in_axes=(None, 0, 1), reduce="mean")(pose, p, q)
        np.testing.assert_allclose(mean, np.mean(d_pose, axis=0), rtol=1e-12, atol=1e-14)
    g = ct.differentiable(point_energy, target=target)
    w, x = rng.standard_normal(3), rng.standard_normal((n, 3))
    H = ct.vmap(ct.hessian(g), in_axes=(None, 0))(w, x)
    blocks = ct.vmap(ct.hessian(g, argnums=(0, 1)), in_axes=(None, 0))(w, x)
    assert H.shape == (n, 3, 3) and blocks[1][0].shape == (n, 3, 3)
    for i in range(n):
        np.testing.assert_allclose(H[i], ct.hessian(g)(w, x[i]), rtol=1e-12, atol=1e-14)
        expected = ct.hessian(g, argnums=(0, 1))(w, x[i])
        for a in range(2):
            for b in range(2):
                np.testing.assert_allclose(blocks[a][b][i], expected[a][b], rtol=1e-12, atol=1e-14)
    # a finite-difference check of one sample's Hessian, independent of the compiler
    grad = ct.grad(ct.differentiable(point_energy, target="python"))
    eps = 1e-6
    fd = np.array([(grad(w + eps * e, x[0]) - grad(w - eps * e, x[0])) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(H[0], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("call, message", [
    (lambda p: ct.grad(ct.vmap(hinge_path, PATH_AXES), argnums=0)(*p), "one value per sample"),
    (lambda p: ct.vmap(hinge_path, PATH_AXES)(p[0], p[1], p[2], p[3][:5]), "different batch sizes"),
    (lambda p: ct.vmap(hinge_path, None)(*p), "at least one batched"),
    (lambda p: ct.vmap(hinge_path, (0, 0, 0, 0))(*p), "is a number"),
    (lambda p: ct.vmap(hinge_path, (None, 0))(*p), "in_axes has 2 entries"),
    (lambda p: ct.jacrev(ct.vmap(hinge_path, PATH_AXES), argnums=2)(*p), "block-diagonal"),
    (lambda p: ct.vmap(ct.vmap(hinge_path, PATH_AXES)), "vmap of a batched function"),
    (lambda p: ct.grad(ct.vmap(path_and_scale, PATH_AXES, reduce="sum"))(*p), "returns a tuple"),
])
def test_errors(path, call, message):
    with pytest.raises(ct.CompileError, match=message):
        call(path)


def test_bad_reduce_and_target():
    with pytest.raises(ValueError, match="reduce"):
        ct.vmap(hinge_path, PATH_AXES, reduce="max")
    with pytest.raises(ValueError, match="target"):
        ct.vmap(hinge_path, PATH_AXES, target="tpu")


def _nvvm_available() -> bool:
    try:
        from numba import cuda
        cuda.compile_ptx(lambda x: x + 1.0, "float64(float64)", device=True, cc=(9, 0))
        return True
    except Exception:   # noqa: BLE001 - no CUDA toolkit: the PTX checks are skipped
        return False


@pytest.mark.skipif(not _nvvm_available(), reason="needs the CUDA toolkit's NVVM (numba-cuda[cu13])")
@pytest.mark.parametrize("which", ["gmm", "path", "local", "elementwise"])
def test_cuda_kernels_compile_to_ptx(which, gmm, path):
    """Numba's real CUDA compiler (not the simulator) types and lowers the generated kernels."""
    if which == "local":
        f, argnums, args = ct.vmap(local_buffer, (None, 0), reduce="sum", target="cuda"), (0, 1), \
            (np.ones(4), np.ones((8, 3)))
    elif which == "gmm":
        f, argnums, args = ct.vmap(gmm_point, GMM_AXES, reduce="sum", target="cuda"), (0, 1, 2), gmm[1]
    elif which == "path":
        f, argnums, args = ct.vmap(hinge_path, PATH_AXES, reduce="sum", target="cuda"), (0, 1, 2, 3), path
    else:
        f, argnums, args = ct.vmap(ct.grad(softclip, argnums=(0, 1)), (0, None), target="cuda"), None, (np.ones(8), 1.5)
    t = (ct.grad(f, argnums=argnums) if argnums else f)._cotangent
    compiled, batch, _ = t.specialize(args)
    ptx = compiled.run.ptx(batch.leaves)
    assert ".visible .entry" in ptx and f"{t.last.ir.name}_batch" in ptx
