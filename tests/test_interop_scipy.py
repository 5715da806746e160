"""cotangent's derivatives in SciPy: ct.value_and_grad as minimize(jac=True), ct.hessian and
ct.scipy_objective(f).hessp as hess and hessp, ct.jacfwd as solve_ivp's jac; and the example
that fits a model with them."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import minimize

import cotangent as ct
from example_runner import run_script
from interop_programs import nll, data

# the Jacobian driver calls compiled code, which Numba does not cache under NUMBA_OPT=0 (see test_higher.py)
pytestmark = pytest.mark.filterwarnings("ignore:Cannot cache compiled function:numba.NumbaWarning")
W, X, Y = data(n=200)
OBJECTIVE = ct.scipy_objective(nll)


def without_gradient(method):
    """The same minimizer on values alone: SciPy's finite differences, one evaluation per coordinate."""
    return minimize(nll, np.zeros(4), args=(X, Y), method=method)


def test_value_and_grad_is_scipys_jac_true_objective():
    value, g = ct.value_and_grad(nll)(np.zeros(4), X, Y)
    assert type(value) is float and g.shape == (4,) and g.dtype == np.float64


@pytest.mark.parametrize("method", ["L-BFGS-B", "BFGS"])
def test_minimizers_reach_the_same_optimum_with_fewer_evaluations(method):
    result = minimize(ct.value_and_grad(nll), np.zeros(4), args=(X, Y), jac=True, method=method,
                      options={"gtol": 1e-8})
    plain = without_gradient(method)
    assert result.success and plain.success
    assert np.linalg.norm(ct.grad(nll)(result.x, X, Y)) < 1e-6
    np.testing.assert_allclose(result.x, plain.x, atol=1e-4)
    assert result.nfev < plain.nfev / 2


@pytest.mark.parametrize("method, second", [("Newton-CG", "hess"), ("Newton-CG", "hessp"),
                                            ("trust-krylov", "hessp"), ("trust-exact", "hess")])
def test_newton_methods_take_the_hessian_or_its_products(method, second):
    extra = {"hess": ct.hessian(nll)} if second == "hess" else {"hessp": OBJECTIVE.hessp}
    result = minimize(OBJECTIVE.fun, np.zeros(4), args=(X, Y), jac=True, method=method, **extra)
    assert result.success
    assert np.linalg.norm(ct.grad(nll)(result.x, X, Y)) < 1e-6
    assert result.nfev <= 12


def test_hessp_is_the_hessian_times_p():
    w, p = np.array([0.2, -0.4, 0.1, 0.3]), np.array([1.0, 0.5, -2.0, 0.25])
    np.testing.assert_allclose(OBJECTIVE.hessp(w, p, X, Y), ct.hessian(nll)(w, X, Y) @ p, rtol=1e-12)


def lotka_volterra(t, u, a, b, c, d):
    du = np.empty(2)
    du[0] = a * u[0] - b * u[0] * u[1]
    du[1] = c * u[0] * u[1] - d * u[1]
    return du


def test_solve_ivp_takes_jacfwd_as_its_jacobian():
    args = (1.0, 0.5, 0.3, 0.8)
    jac = ct.jacfwd(lotka_volterra, argnums=1)
    u = np.array([1.0, 2.0])
    np.testing.assert_allclose(jac(0.0, u, *args), [[1.0 - 0.5 * 2.0, -0.5], [0.3 * 2.0, 0.3 - 0.8]])
    with_jac = solve_ivp(lotka_volterra, (0.0, 10.0), u, method="Radau", args=args, jac=jac, rtol=1e-8, atol=1e-10)
    plain = solve_ivp(lotka_volterra, (0.0, 10.0), u, method="Radau", args=args, rtol=1e-8, atol=1e-10)
    assert with_jac.success and with_jac.njev > 0
    np.testing.assert_allclose(with_jac.y[:, -1], plain.y[:, -1], rtol=1e-6)


def test_scipy_fit_example_runs(tmp_path):
    out = run_script("scipy_fit.py", [], tmp_path).stdout
    assert "L-BFGS-B" in out and "Newton-CG" in out and "solve_ivp" in out
