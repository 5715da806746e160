"""The MLP-step and while-loop benchmark workloads at their tiny size: every tool whose package is
installed computes the same value and gradient as cotangent (1e-8 relative), cotangent's gradient
matches central differences, and the while loop's trip count really depends on the data.

JAX, PyTorch and autograd come with the bench extra only; a missing one is skipped, cotangent's
implementations always run."""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.harness import max_relative_difference  # noqa: E402
from benchmarks.workloads import mlp, while_loop  # noqa: E402

pytestmark = pytest.mark.slow

COMPETITORS = ("jax", "torch", "autograd")


def imports(package: str) -> bool:
    try:
        importlib.import_module(package)
    except ImportError:
        return False
    return True


def run_case(case):
    """Runs every implementation whose package imports; returns {tool: (value, grads)}."""
    results = {}
    for impl in case.impls:
        if impl.tool in COMPETITORS and not imports(impl.tool):
            continue
        results[impl.tool] = impl.prepare()()
        if impl.objective is not None:
            value = impl.objective()()
            assert value == pytest.approx(results[impl.tool][0], rel=1e-12, abs=0.0), impl.tool
    assert "cotangent" in results
    for tool, result in results.items():
        assert max_relative_difference(result, results["cotangent"]) <= 1e-8, (case.size, tool)
    return results


def central_difference(f, args: list, which: int, index: tuple, h: float = 1e-5) -> float:
    """Five-point central difference of f(*args) along one element of args[which]."""
    def at(step):
        moved = [a.copy() if k == which else a for k, a in enumerate(args)]
        moved[which][index] += step
        return f(*moved)
    return (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h)


@pytest.mark.parametrize("case", mlp.cases("tiny"), ids=lambda c: c.size)
def test_mlp_step_agrees(case):
    results = run_case(case)
    assert "cotangent runtime" in results
    args = list(mlp.arguments(mlp.problem(*mlp.SIZES["tiny"][0][1:])))
    grads = results["cotangent"][1]
    for k, g in enumerate(grads):
        for index in (tuple(0 for _ in g.shape), tuple(n - 1 for n in g.shape)):
            fd = central_difference(mlp.loss, args, k, index)
            assert abs(fd - g[index]) <= 1e-8 * np.max(np.abs(g)), (mlp.PARAMS[k], index, fd, g[index])


@pytest.mark.parametrize("case", while_loop.cases("tiny"), ids=lambda c: c.size)
def test_while_loop_agrees(case):
    results = run_case(case)
    dt, p = while_loop.SIZES["tiny"][0], while_loop.PARAMS
    grad = results["cotangent"][1][0]
    trips = while_loop.trip_count(p, dt, while_loop.TOL)
    for i in range(p.size):
        h = 1e-5 * max(1.0, abs(p[i]))
        for step in (-2 * h, 2 * h):            # no switch of the trip count inside the stencil
            assert while_loop.trip_count(p + step * np.eye(p.size)[i], dt, while_loop.TOL) == trips
        fd = central_difference(while_loop.settle, [p, dt, while_loop.TOL], 0, (i,), h)
        assert abs(fd - grad[i]) <= 1e-8 * np.max(np.abs(grad)), (i, fd, grad[i])


def test_while_loop_trip_count_depends_on_data():
    dt, p, tol = while_loop.SIZES["tiny"][0], while_loop.PARAMS, while_loop.TOL
    trips = while_loop.trip_count(p, dt, tol)
    assert trips > 300
    assert len({while_loop.trip_count(p * scale, dt, tol) for scale in (0.9, 1.0, 1.1, 1.3)}) == 4
    assert while_loop.trip_count(p, dt, tol * 100) < trips
    assert all(while_loop.trip_count(p, full, tol) > 1000 for full in while_loop.SIZES["full"])


def test_first_call_snippets_run():
    """The snippets the runner times in a fresh process are valid: run here, they compute a gradient."""
    for case in [*mlp.cases("tiny"), *while_loop.cases("tiny")]:
        for impl in case.impls:
            if impl.is_cotangent:
                assert impl.first_call is not None
                exec(compile(impl.first_call, f"<first_call {impl.tool}>", "exec"), {})
