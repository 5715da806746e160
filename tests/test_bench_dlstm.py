"""The D-LSTM benchmark workload at its tiny size: every tool whose package is installed computes
the same loss and gradient as cotangent (1e-8 relative), and cotangent's gradient matches central
differences of the plain NumPy loss.

JAX, PyTorch and autograd come with the bench extra only; a missing one is a skipped test, while
cotangent's formulations always run."""
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.harness import Result, max_relative_difference  # noqa: E402
from benchmarks.workloads import dlstm  # noqa: E402

pytestmark = pytest.mark.slow

CASES = {case.size: case for case in dlstm.cases("tiny")}
TOOLS = ["cotangent loops", "jax", "torch", "autograd"]
PACKAGE = {"jax": "jax", "torch": "torch", "autograd": "autograd"}
STENCIL = ((-2, 1.0 / 12), (-1, -8.0 / 12), (1, 8.0 / 12), (2, -1.0 / 12))   # fourth-order central


@cache
def result(size: str, tool: str) -> Result:
    """The implementation's (value, grads), computed once per session."""
    impl = next(i for i in CASES[size].impls if i.tool == tool)
    value, grads = impl.prepare()()
    if impl.objective is not None:                 # the compiled primal gives the same loss
        assert impl.objective()() == pytest.approx(value, rel=1e-12, abs=0.0), tool
    return value, grads


@pytest.mark.parametrize("size", CASES)
@pytest.mark.parametrize("tool", TOOLS)
def test_tools_agree_with_cotangent(size, tool):
    if tool in PACKAGE:
        pytest.importorskip(PACKAGE[tool])
    assert max_relative_difference(result(size, tool), result(size, "cotangent")) <= 1e-8


@pytest.mark.parametrize("size", CASES)
def test_gradient_matches_central_differences(size):
    _, layers, chars = next(s for s in dlstm.SIZES["tiny"] if s[0] == size)
    args = dlstm.problem("tiny", layers, chars)
    value, grads = result(size, "cotangent")
    assert dlstm.objective(*args) == pytest.approx(value, rel=1e-14)
    b = dlstm.BITS
    picks = {0: [(0, 0), (1, b + 3), (2 * layers - 2, 2 * b + 5), (2 * layers - 1, 4 * b - 1)],
             1: [(0, 0), (1, b // 2), (2, b - 1)]}
    h = 1e-4
    for which, indices in picks.items():
        scale = np.max(np.abs(grads[which]))
        for index in indices:
            fd = 0.0
            for steps, weight in STENCIL:
                moved = list(args)
                moved[which] = args[which].copy()
                moved[which][index] += steps * h
                fd += weight * dlstm.objective(*moved) / h
            assert abs(fd - grads[which][index]) <= 1e-8 * scale, (dlstm.PARAMS[which], index)


def test_first_call_snippets_run():
    """The snippets the runner times in a fresh process compute a gradient when run here."""
    for case in CASES.values():
        for impl in case.impls:
            if impl.is_cotangent:
                exec(compile(impl.first_call, f"<first_call {impl.tool}>", "exec"), {})
