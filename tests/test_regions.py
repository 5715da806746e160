"""Symbolic regions (transforms/regions.py): a function with loops and branches keeps them under
symbolic=True, and the scalar statements between them become formulas whose derivatives SymPy
derives (rules/formula.py).

Gradients, Jacobians (both modes) and Hessians must equal the ordinary mode's to 1e-12 and central
differences; the formula rules are checked in both modes on inputs of several lengths; the source
shows the formulas and names their lines; folding never moves a read past a write."""
from __future__ import annotations

import numpy as np
import pytest

import cotangent as ct
from cotangent.transforms.regions import symbolic_regions
from cotangent.frontend.lower import lower
from cotangent import specialize as sp
from cotangent.ir.nodes import Assign, walk

pytestmark = pytest.mark.filterwarnings("ignore:Cannot cache compiled function:numba.NumbaWarning")


def spiral(x, n):
    s = 0.0
    k = 0
    while k < n:
        s = s + np.sin(x * k) * np.exp(-0.1 * k * x)
        k = k + 1
    return s


def loglik(theta, data, n):
    """A robust likelihood over the first n points: a loop over a run-time count, a branch on the
    data, and scalar arithmetic in each branch."""
    mu, log_sigma = theta[0], theta[1]
    total = 0.0
    for i in range(n):
        z = (data[i] - mu) * np.exp(-log_sigma)
        if z > 3.0:
            total = total - 3.0 * z + 4.5 - log_sigma
        else:
            total = total - 0.5 * z * z - log_sigma - 0.5 * np.log(2.0 * np.pi)
    return total


def orbit(p, steps):
    """A vector function stepped in a loop: two carried numbers, sines and a square root."""
    x, y = p[0], p[1]
    for _ in range(steps):
        r = np.sqrt(x * x + y * y + 1.0)
        x, y = x + 0.1 * np.sin(y) / r, y - 0.1 * np.tanh(x) * r
    return np.array([x, y, x * y])


def close(a, b, tol=1e-12):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) <= tol * max(1.0, np.max(np.abs(b))), np.max(np.abs(a - b))


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_gradients_match_the_ordinary_mode_and_differences(target):
    f = ct.differentiable(loglik, target=target)
    data = np.random.default_rng(0).normal(size=40) * 2.0
    for n in (5, 40):                        # several trip counts; both branches taken at 40
        theta = np.array([0.3, -0.2])
        close(ct.grad(f, symbolic=True)(theta, data, n), ct.grad(f)(theta, data, n))
        close(ct.hessian(f, symbolic=True)(theta, data, n), ct.hessian(f)(theta, data, n), 1e-10)
    g = ct.differentiable(spiral, target=target)
    for x in (0.7, -1.3):
        close(ct.grad(g, symbolic=True)(x, 6), ct.grad(g)(x, 6))
    assert ct.check_grad(f, np.array([0.3, -0.2]), data, 40, argnums=0)["theta"] < 1e-6


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_jacobians_in_both_modes(target):
    f = ct.differentiable(orbit, target=target)
    for p in (np.array([0.4, -0.8]), np.array([1.5, 0.2])):
        want = ct.jacrev(f)(p, 7)
        close(ct.jacrev(f, symbolic=True)(p, 7), want)
        close(ct.jacfwd(f, symbolic=True)(p, 7), want)


def _central(f, theta, *rest, h=1e-6):
    out = np.zeros_like(theta)
    for k in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        out[k] = (f(up, *rest) - f(down, *rest)) / (2 * h)
    return out


def loglik_vector(theta, data, n):
    return np.array([loglik(theta, data, n)])


def test_formula_rules_against_central_differences():
    """The formula's SymPy rules: reverse mode (grad) against central differences, forward mode
    (jacfwd) against reverse mode, on data of several lengths."""
    rng = np.random.default_rng(3)
    f = ct.differentiable(loglik, target="python")
    for n in (3, 11, 25):
        data = rng.normal(size=n) * 3.0
        theta = np.array([0.1, 0.4])
        reverse = ct.grad(f, symbolic=True)(theta, data, n)
        close(reverse, _central(loglik, theta, data, n), 1e-6)
        forward = ct.jacfwd(ct.differentiable(loglik_vector, target="python"), symbolic=True)(theta, data, n)
        close(forward[0], reverse)


def test_source_shows_the_formulas_and_their_lines():
    f = ct.differentiable(spiral, target="python")
    src = ct.source(ct.grad(f, symbolic=True), 0.7, 6)
    assert "s = s + np.sin(x * k) * np.exp(-0.1 * k * x)" in src
    assert "Not symbolic as a whole (a while loop at test_regions.py:" in src
    assert "the scalar statements at test_regions.py:" in src
    assert src == ct.source(ct.grad(f, symbolic=True), 0.7, 6)


def _regions(pyfunc, *args):
    fn, _ = lower(pyfunc, tuple(sp.spec_of(a, f"argument {i}") for i, a in enumerate(args)))
    return symbolic_regions(fn)


def shared_and_rebound(x, n):
    s = 0.0
    for _ in range(n):
        a = x * s + 1.0
        b = np.sin(a) + a          # a is read twice: it stays a statement of its own
        s = s * 0.5 + b
        s = s * s                  # s assigned again: a new run starts here
    return s


def test_folding_keeps_shared_values_and_cuts_at_writes():
    fn, made = _regions(shared_and_rebound, 0.3, 4)
    formulas = [s for s in walk(fn.body) if isinstance(s, Assign) and s.op == "formula"]
    assert len(made) == len(formulas) >= 1
    targets = {s.target for s in walk(fn.body) if isinstance(s, Assign)}
    assert "a" in targets                    # read twice: not folded away
    f = ct.differentiable(shared_and_rebound, target="python")
    for x in (0.3, -0.9):
        close(ct.grad(f, symbolic=True)(x, 4), ct.grad(f)(x, 4))


def test_vmap_of_a_gradient_with_regions():
    data = np.random.default_rng(1).normal(size=30)
    thetas = np.random.default_rng(2).normal(size=(9, 2)) * 0.3
    per_sample = ct.vmap(ct.grad(loglik, symbolic=True), (0, None, None))(thetas, data, 30)
    ordinary = ct.vmap(ct.grad(loglik), (0, None, None), target="python")(thetas, data, 30)
    close(per_sample, ordinary)


def nested(A, B, x):
    """A random program's: SymPy's automatic evaluation recursed without end on the nested sinc and
    tanh when it took the whole function; it now says so and the loop keeps its structure."""
    for i in range(A.shape[1] - 1, A.shape[0]):
        v1 = np.zeros_like(x)
        if i < 3:
            v2 = np.outer(B @ x, np.maximum(A[-1], x)) @ np.mean(np.where(B > 1.5, B, B), axis=0)
    v3 = x - x * x
    v3[len(v3) // 2] -= np.logaddexp(-1.2, 0.5) + v3[A.shape[1] - 1] / (2.0 + np.cos(B[B.shape[1] - 1, 1 - len(v3) // 2]))
    v3[1:2] = 1.0 / (1.0 + np.sinc(0.5 * np.tanh(v3[1:2])) * np.sinc(0.5 * np.tanh(v3[1:2])))
    return np.mean(x[:2] + v3) + 0.25 * np.sum(v3 * v3)


def test_an_expression_too_deep_for_sympy_falls_back():
    f = ct.differentiable(nested, target="python")
    A = np.array([[-0.781, -0.364], [-0.069, -0.03], [0.661, -0.848], [0.818, -0.943]])
    B = np.array([[0.122, 0.264], [-0.53, -0.769], [-0.587, -0.689], [-0.006, 0.006]])
    x = np.array([0.337, 0.87])
    for a, b in zip(ct.grad(f, (0, 1, 2), symbolic=True)(A, B, x), ct.grad(f, (0, 1, 2))(A, B, x)):
        close(a, b)
