"""cotangent's derivatives in SciPy: a logistic regression fitted by scipy.optimize.minimize with
L-BFGS-B (value and gradient in one compiled call, jac=True) and with Newton-CG (the Hessian, or
Hessian-vector products), then a stiff chemical reaction integrated by solve_ivp with the
Jacobian of its right-hand side from forward mode.

    python examples/scipy_fit.py
"""
import time

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import minimize

import cotangent as ct


def nll(w, X, y):
    """Mean negative log-likelihood of logistic regression (bias w[0]) with a small ridge term."""
    z = w[0] + X @ w[1:]
    return np.mean(np.log1p(np.exp(z)) - y * z) + 1e-4 * np.sum(w * w)


def robertson(t, u, k1, k2, k3):
    """Robertson's three-species reaction, the classic stiff system (rates 0.04, 3e7, 1e4)."""
    du = np.empty(3)
    du[0] = -k1 * u[0] + k3 * u[1] * u[2]
    du[1] = k1 * u[0] - k3 * u[1] * u[2] - k2 * u[1] * u[1]
    du[2] = k2 * u[1] * u[1]
    return du


def banner(title):
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)))


def timed(run, repeat=3):
    """run()'s result and its best time of `repeat` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return result, best


def main():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 10))
    w_true = rng.standard_normal(11)
    y = (rng.random(2000) < 1.0 / (1.0 + np.exp(-(w_true[0] + X @ w_true[1:])))).astype(float)
    w0 = np.zeros(11)
    objective = ct.scipy_objective(nll)
    objective.fun(w0, X, y), objective.hess(w0, X, y), objective.hessp(w0, w0, X, y)   # compile first

    banner("logistic regression, 2000 samples, 11 weights: scipy.optimize.minimize")
    runs = {
        "L-BFGS-B, finite differences": lambda: minimize(nll, w0, args=(X, y), method="L-BFGS-B"),
        "L-BFGS-B, jac=True (ct.value_and_grad)": lambda: minimize(
            ct.value_and_grad(nll), w0, args=(X, y), jac=True, method="L-BFGS-B"),
        "Newton-CG, hess=ct.hessian": lambda: minimize(
            objective.fun, w0, args=(X, y), jac=True, hess=ct.hessian(nll), method="Newton-CG"),
        "Newton-CG, hessp (Hessian-vector products)": lambda: minimize(
            objective.fun, w0, args=(X, y), jac=True, hessp=objective.hessp, method="Newton-CG"),
    }
    for name, run in runs.items():
        result, seconds = timed(run)
        gnorm = np.linalg.norm(ct.grad(nll)(result.x, X, y))
        print(f"{name:44s} loss {result.fun:.10f}  |grad| {gnorm:.1e}  "
              f"{result.nfev:4d} evaluations  {seconds * 1e3:6.1f} ms")
    print(f"fitted weights {np.round(result.x[:4], 3)} ...  (true: {np.round(w_true[:4], 3)} ...)")

    banner("Robertson's stiff reaction to t = 1e5: scipy.integrate.solve_ivp (Radau)")
    rates, u0 = (0.04, 3e7, 1e4), np.array([1.0, 0.0, 0.0])
    jac = ct.jacfwd(robertson, argnums=1)             # d(du)/du, a (3, 3) array, by forward mode
    print("Jacobian of the right-hand side at u0:", jac(0.0, u0, *rates).tolist())
    for name, extra in [("finite-difference Jacobian", {}), ("jac=ct.jacfwd(robertson, argnums=1)", {"jac": jac})]:
        sol, seconds = timed(lambda: solve_ivp(robertson, (0.0, 1e5), u0, method="Radau", args=rates,
                                               rtol=1e-6, atol=1e-10, **extra))
        print(f"solve_ivp, {name:37s} u(1e5) = {sol.y[:, -1]}  {sol.njev} Jacobians, "
              f"{sol.nfev} evaluations  {seconds * 1e3:6.1f} ms")


if __name__ == "__main__":
    main()
