"""Symbolic mode (transforms/symbolic.py): SymPy derives whole straight-line scalar functions.

Symbolic Jacobians, gradients and Hessians must agree with reverse and forward mode to 1e-12 on
random inputs: the three robotics functions of the benchmark (a camera projection through a
Rodrigues rotation, a planar arm whose loop is unrolled, an SE(3) pose residual with small 3x3
matrices and `@`), and a function with a branch on the data, np.where and maximum (which become
selects). Also: the source reads like the user's code and is byte-identical from run to run,
symbolic="auto" falls back where symbolic mode does not apply, and ct.vmap runs the symbolic
per-sample code in one loop.

Most checks run on target="python" (no Numba compile); the generated modules are cached on disk
(tests/conftest.py), so a second run does not call SymPy."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cotangent as ct

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks" / "workloads"))
import robotics as rb  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Cannot cache compiled function:numba.NumbaWarning")
TOL = 1e-12


def close(a, b, tol=TOL):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
    assert float(np.max(np.abs(a - b))) <= tol * scale if a.size else True, float(np.max(np.abs(a - b)))


def python(f):
    return ct.differentiable(f, target="python")


def energy(x, y, params):
    """A scalar with a branch on the data, np.where and maximum."""
    r = np.sqrt(x * x + y * y)
    e = params[0] * (r - params[1]) ** 2
    if r > 1.0:
        e = e + np.exp(-r) * params[2]
    else:
        e = e - 0.5 * r * params[2]
    return e + np.maximum(x, 0.0) * np.tanh(y) + np.where(y > x, x * y, 0.0)


def spiral(x, n):
    """A while loop: not straight-line code."""
    s = 0.0
    k = 0
    while k < n:
        s = s + np.sin(x * k)
        k = k + 1
    return s


def writes_copy(v):
    w = v.copy()
    w[0] = w[1] * 2.0
    w[2] += w[0]
    return w[0] * w[2]


# --- Jacobians, gradients and Hessians against reverse and forward mode ---------------------------

@pytest.mark.parametrize("name", rb.NAMES)
def test_jacobians_agree_with_reverse_and_forward_mode(name):
    f, argnums = python(rb.FUNCTIONS[name]), rb.ARGNUMS[name]
    batch = rb.inputs(name, 3, seed=7)
    sym_rev, sym_fwd = ct.jacrev(f, argnums, symbolic=True), ct.jacfwd(f, argnums, symbolic=True)
    rev, fwd = ct.jacrev(f, argnums), ct.jacfwd(f, argnums)
    for i in range(3):
        args = rb.sample(batch, name, i)
        expected = rev(*args)
        for got in (sym_rev(*args), sym_fwd(*args)):
            for g, r, w in zip(got, expected, fwd(*args)):
                close(g, r)
                close(g, w)


def test_symbolic_code_compiled_by_numba():
    f, argnums = rb.project, rb.ARGNUMS["project"]
    args = rb.sample(rb.inputs("project", 2, seed=3), "project", 1)
    for got, want in zip(ct.jacrev(f, argnums, symbolic=True)(*args), ct.jacrev(python(f), argnums)(*args)):
        close(got, want)


def test_gradient_and_hessian_through_branches_and_selects():
    f = python(energy)
    rng = np.random.default_rng(5)
    g_sym, g = ct.value_and_grad(f, (0, 1, 2), symbolic=True), ct.value_and_grad(f, (0, 1, 2))
    h_sym, h = ct.hessian(f, (0, 1, 2), symbolic=True), ct.hessian(f, (0, 1, 2))
    for scale in (0.3, 2.0):                         # both sides of `if r > 1.0`
        for _ in range(2):
            x, y = rng.normal(size=2) * scale
            params = rng.uniform(0.5, 1.5, size=3)
            (v1, d1), (v2, d2) = g_sym(x, y, params), g(x, y, params)
            close(v1, v2)
            for a, b in zip(d1, d2):
                close(a, b)
            for row1, row2 in zip(h_sym(x, y, params), h(x, y, params)):
                for a, b in zip(row1, row2):
                    close(a, b)


def test_matrix_output_and_jacobian_layouts():
    """A 3x3 output from nested np.array rows and `@`: JAX's shapes, out.shape + in.shape."""
    f = python(rb.rodrigues)
    r = np.array([0.3, -0.2, 0.5])
    for mode in (ct.jacrev, ct.jacfwd):
        got, want = mode(f, symbolic=True)(r), ct.jacrev(f)(r)
        assert got.shape == (3, 3, 3)
        close(got, want)


# --- the generated code -----------------------------------------------------------------------------

def test_source_shows_the_symbolic_code_with_the_users_names():
    J = ct.jacrev(python(rb.project), rb.ARGNUMS["project"], symbolic=True)
    args = rb.sample(rb.inputs("project", 1), "project")
    src = ct.source(J, *args)
    assert "symbolic jacrev" in src.splitlines()[0]
    assert "symbolic: the whole function as one SymPy expression" in src
    for line in ("theta = np.sqrt(", "pc_0 = ", "r2 = ", "d = 1.0 + ", "rvec_0 = rvec[0]",
                 "# robotics.py:37  pc = R @ p + t", "# adjoint of robotics.py:", "jac_rvec[1, 2] = "):
        assert line in src, line
    report = J._cotangent.last.details().ir.symbolic
    assert report.operations <= 320 and report.accumulation == "reverse"


def _generated(name: str, seed: str) -> subprocess.Popen:
    script = (f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks' / 'workloads')!r})\n"
              "import numpy as np, robotics as rb\n"
              "from cotangent import specialize as sz\n"
              "from cotangent.transforms.symbolic import mode_text\n"
              "from cotangent.backends.pysource import module_source\n"
              f"args = rb.sample(rb.inputs({name!r}, 1), {name!r})\n"
              "specs = tuple(sz.spec_of(a, 'x') for a in args)\n"
              "mode = mode_text(True, 'jacrev', [np.shape(a) for a in args])\n"
              f"_, out_fn, _ = sz.transform_ir(rb.FUNCTIONS[{name!r}], specs, mode, rb.ARGNUMS[{name!r}], False)\n"
              "print(module_source([out_fn], 'python', 'header')[0])\n")
    env = dict(os.environ, PYTHONHASHSEED=seed)
    return subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)


def test_generated_source_is_deterministic():
    """Byte-identical output in processes with different string hashing (set orders)."""
    runs = [_generated("project", seed) for seed in ("1", "2")]
    first, second = (r.communicate(timeout=300)[0] for r in runs)
    assert all(r.returncode == 0 for r in runs)
    assert first == second and "def project_jacrev(" in first


# --- when it applies ------------------------------------------------------------------------------

def test_auto_falls_back_where_symbolic_mode_does_not_apply():
    f = python(spiral)
    got = ct.grad(f, symbolic="auto")(0.7, 5)
    close(got, ct.grad(f)(0.7, 5))
    src = ct.source(ct.grad(f, symbolic="auto"), 0.7, 5)
    assert "Not symbolic as a whole (a while loop at test_symbolic.py:" in src
    close(ct.grad(f, symbolic=True)(0.7, 5), ct.grad(f)(0.7, 5))     # the loop's body is symbolic
    v = np.array([1.0, 2.0, 3.0])           # element writes into a small local array are symbolic
    close(ct.grad(python(writes_copy), symbolic=True)(v), ct.grad(python(writes_copy))(v))
    with pytest.raises(ValueError, match="symbolic must be"):
        ct.jacrev(f, symbolic="yes")


def test_auto_takes_small_functions_and_specializes_to_shapes():
    f = python(sum_of_squares)
    J = ct.jacrev(f, symbolic="auto")
    for n in (2, 4):                        # one symbolic function per argument shape
        v = np.linspace(0.1, 1.0, n)
        close(J(v), 2.0 * v)
        assert f"v_{n - 1} = v[{n - 1}]" in ct.source(J)
    with pytest.raises(ct.CompileError, match="an index that depends on the data"):
        ct.grad(python(data_index), symbolic=True)(np.ones(3), 1)


def sum_of_squares(v):
    return np.sum(v * v)


def data_index(v, i):
    return v[i] * v[0]


# --- batched ------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["python", "cpu"])
def test_vmap_of_symbolic_jacobian(target):
    name = "project"
    batch = rb.inputs(name, 6, seed=11)
    J = ct.vmap(ct.jacrev(rb.project, rb.ARGNUMS[name], symbolic=True), rb.AXES[name], target=target)
    got = J(*batch)
    assert [g.shape for g in got] == [(6, 2, 3)] * 3
    one = ct.jacrev(python(rb.project), rb.ARGNUMS[name])
    for i in range(6):
        for g, w in zip(got, one(*rb.sample(batch, name, i))):
            close(g[i], w)
    if target == "cpu":         # one loop, the per-sample code inside it
        src = ct.source(J)
        assert "for i in range(" in src and "jac_rvec[i, 0, 0] = " in src


def test_vmap_of_symbolic_gradient_per_sample_and_summed():
    rng = np.random.default_rng(2)
    x, y, params = rng.normal(size=8), rng.normal(size=8), np.array([1.0, 0.8, 1.2])
    per_sample = ct.vmap(ct.grad(energy, (0, 1, 2), symbolic=True), (0, 0, None), target="python")
    ordinary = ct.vmap(ct.grad(energy, (0, 1, 2)), (0, 0, None), target="python")
    for a, b in zip(per_sample(x, y, params), ordinary(x, y, params)):
        close(a, b)
    summed = ct.grad(ct.vmap(energy, (0, 0, None), reduce="sum", target="python"), 2)(x, y, params)
    total = ct.vmap(ct.grad(energy, 2, symbolic=True), (0, 0, None), reduce="sum")(x, y, params)
    close(total, summed)


def _nvvm_available() -> bool:
    try:
        from numba import cuda
        cuda.compile_ptx(lambda x: x + 1.0, "float64(float64)", device=True, cc=(9, 0))
        return True
    except Exception:   # noqa: BLE001 - no CUDA toolkit: the PTX check is skipped
        return False


@pytest.mark.skipif(not _nvvm_available(), reason="needs the CUDA toolkit's NVVM (numba-cuda[cu13])")
def test_symbolic_jacobian_kernel_compiles_to_ptx():
    """On CUDA the formulas are printed one primitive per statement (math.* calls)."""
    f = ct.vmap(ct.jacrev(rb.arm, symbolic=True), rb.AXES["arm"], target="cuda")
    compiled, batch, _ = f._cotangent.specialize(rb.inputs("arm", 8))
    ptx = compiled.run.ptx(batch.leaves)
    assert ".visible .entry" in ptx and "arm_jacobian_batch" in ptx


SIMULATOR_CHECK = """
import sys
sys.path.insert(0, {workloads!r})
sys.path.insert(0, {tests!r})
import numpy as np
import cotangent as ct
import robotics as rb
from test_symbolic import energy
for name in ("arm", "project"):
    batch = rb.inputs(name, 40, seed=4)
    make = lambda target: ct.vmap(ct.jacrev(rb.FUNCTIONS[name], rb.ARGNUMS[name], symbolic=True), rb.AXES[name],
                                  target=target)(*batch)
    for a, b in zip(make("cuda"), make("python")):
        assert np.max(np.abs(a - b)) <= 1e-12 * max(1.0, np.max(np.abs(b))), name
x, y, params = np.linspace(-1, 1, 40), np.linspace(1, -0.5, 40), np.array([1.0, 0.8, 1.2])
make = lambda target: ct.vmap(ct.grad(energy, (0, 2), symbolic=True), (0, 0, None), reduce="sum", target=target)
for a, b in zip(make("cuda")(x, y, params), make("python")(x, y, params)):
    assert np.max(np.abs(a - b)) <= 1e-12 * max(1.0, np.max(np.abs(b)))
print("SIMULATOR OK")
"""


def test_cuda_kernels_on_the_simulator():
    """The CUDA batch (formulas as one primitive per statement, outputs in buffers, summed
    gradients added by rows) on Numba's CUDA simulator, in a child process (the simulator must be
    switched on before numba is imported), against the plain Python loop."""
    pytest.importorskip("numba.cuda")
    code = SIMULATOR_CHECK.format(workloads=str(ROOT / "benchmarks" / "workloads"), tests=str(ROOT / "tests"))
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", COTANGENT_CACHE_DIR=str(ct.config.cache_dir))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert "SIMULATOR OK" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-3000:]
