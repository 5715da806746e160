"""Checkpointed reverse mode: @ct.checkpoint on a called function, binomial checkpointing of a
`for` loop (ct.checkpointed and memory_limit), the revolve schedule itself, and the errors.

Gradients are compared with the same function's gradient without checkpointing (to 1e-12) and
with central differences. The (n, snapshots) sweeps pass n and snapshots as arguments, so one
compiled function covers every case."""
from __future__ import annotations

import inspect
import re
import textwrap
import tracemalloc
from math import comb

import numpy as np
import pytest

import cotangent as ct
from cotangent.backends.support_checkpoint import (_schedule, revolve_forward, revolve_reverse, checkpoint_snapshots,
                                                   RESTORE, ADVANCE, SNAPSHOT, DROP, REVERSE)
from cotangent.transforms.checkpoint import parse_budget
from rule_check import load_module

RNG = np.random.default_rng(7)
U0 = RNG.random(12)
KAPPA = 0.5 + RNG.random(12)


def close(a, b, tol=1e-12):
    for x, y in zip(a, b):
        assert np.max(np.abs(np.asarray(x) - np.asarray(y))) <= tol * (1 + np.max(np.abs(y))), (x, y)


# --- the schedule ------------------------------------------------------------------------------
def run_schedule(n, s):
    """Play the forward and reverse schedules on positions; the trips reversed, the trips run
    without recording, and the most snapshots held at once."""
    stack, reversed_trips, peak = [], [], 0
    forward = revolve_forward(n, s)
    k = 0
    for j in range(n):
        if forward[k] == j:
            stack.append(j)
            k += 1
        peak = max(peak, len(stack))
    assert forward[k] == n
    at, advanced = n, n
    for action, a, b in revolve_reverse(n, s):
        if action == RESTORE:
            at = stack[-1]
            assert at == a
        elif action == ADVANCE:
            assert at == a and b > a
            advanced += b - a
            at = b
        elif action == SNAPSHOT:
            assert at == a
            stack.append(at)
        elif action == DROP:
            stack.pop()
        else:
            assert action == REVERSE and at == a
            reversed_trips.append(a)
            at = -1
        peak = max(peak, len(stack))
    assert not stack
    return reversed_trips, advanced, peak


@pytest.mark.parametrize("s", [1, 2, 3, 5, 40])
def test_schedule_reverses_every_trip_within_the_snapshots(s):
    for n in range(1, 45):
        trips, _, peak = run_schedule(n, s)
        assert trips == list(range(n - 1, -1, -1))
        assert peak <= min(s, n)


def test_schedule_runs_the_fewest_trips():
    """Revolve's count: with c snapshots and r the least with C(c + r, c) >= n, reversing n trips
    from a snapshot of the first runs r * n - C(c + r, c + 1) trips without recording. The sweeps
    run the schedule's first descent as the forward sweep (n trips) and go back from its last
    snapshot to trip n - 1, so they run at most n more than that."""
    for n in (10, 57, 300, 1000):
        for s in (2, 3, 4, 10):
            r = 0
            while comb(s + r, s) < n:
                r += 1
            optimal = r * n - comb(s + r, s + 1)
            table = _schedule(n, s)
            advances = table[table[:, 0] == ADVANCE]
            assert np.sum(advances[:, 2] - advances[:, 1]) == optimal, (n, s)
            _, advanced, _ = run_schedule(n, s)
            assert advanced <= optimal + 2 * n, (n, s, advanced, optimal)
    _, advanced, _ = run_schedule(50, 50)
    assert advanced == 50          # a snapshot per trip: nothing runs twice
    _, advanced, _ = run_schedule(10, 1)
    assert advanced == 10 + 9 * 10 // 2     # one snapshot: trip j runs j more times


def test_budget_choice():
    assert checkpoint_snapshots(1000.0, 80, 160, 5) == 0          # 5 trips of tape fit
    assert checkpoint_snapshots(1000.0, 80, 160, 100) == (1000 - 160) // 80
    assert checkpoint_snapshots(100.0, 80, 160, 100) == 1          # at least one
    assert parse_budget("1GiB") == 2 ** 30
    assert parse_budget("500 MB") == 500 * 10 ** 6
    assert parse_budget(4096) == 4096
    with pytest.raises(ValueError):
        parse_budget("lots")


# --- a checkpointed loop -------------------------------------------------------------------------
def heat(u0, kappa, n, s):
    """Explicit heat equation, written in place: the state is the array u."""
    u = u0.copy()
    for t in ct.checkpointed(range(n), snapshots=s):
        lap = u[:-2] - 2.0 * u[1:-1] + u[2:]
        u[1:-1] = u[1:-1] + 0.2 * kappa[1:-1] * lap
    return np.sum(np.sin(u) ** 2)


def mixed(x, a, n, s):
    """Scalar and array state, an int counter, a branch and an inner loop in the body."""
    u = x * 1.0
    total = 0.0
    count = 0
    for t in ct.checkpointed(range(2, 2 + 2 * n, 2), snapshots=s):
        v = np.tanh(u) * a + 0.01 * t
        for k in range(2):
            v = v * 0.9 + 0.1 * np.cos(v)
        if total > 1.0:
            u = u - 0.1 * v
        else:
            u = u + 0.3 * v
        total = total + np.sum(v ** 2) * a
        count = count + 1
    return total + np.sum(u) * count


def taped_twin(*fns):
    """The last function with the loop markers taken away (the gradient to compare with), in a
    module of its own (with the functions it calls, given first) so that cotangent can read its
    source."""
    sources = [re.sub(r"ct\.checkpointed\((range\([^()]*\)), snapshots=\w+\)", r"\1",
                      textwrap.dedent(inspect.getsource(fn))) for fn in fns]
    module = load_module("import numpy as np\n\n\n" + "\n\n".join(sources), "taped_twin")
    return getattr(module, fns[-1].__name__)


heat_taped = taped_twin(heat)
mixed_taped = taped_twin(mixed)


CASES = [(0, 3), (1, 1), (2, 1), (5, 1), (7, 2), (12, 3), (13, 4), (6, 6), (4, 10)]


@pytest.fixture(scope="module")
def python_grads():
    return {name: ct.grad(ct.differentiable(f, target="python"), argnums=(0, 1))
            for name, f in [("heat", heat), ("heat_taped", heat_taped), ("mixed", mixed),
                            ("mixed_taped", mixed_taped)]}


@pytest.mark.parametrize("n,s", CASES)
def test_loop_python_target_equals_taped(python_grads, n, s):
    close(python_grads["heat"](U0, KAPPA, n, s), python_grads["heat_taped"](U0, KAPPA, n, s))
    x = RNG.random(5)
    close(python_grads["mixed"](x, 0.7, n, s), python_grads["mixed_taped"](x, 0.7, n, s))


def central_differences(f, *args, target="python"):
    """ct.check_grad: the (checkpointed) reverse-mode gradient against central differences of
    the compiled primal; raises when they differ."""
    ct.check_grad(ct.differentiable(f, target=target), *args, argnums=(0, 1), modes=("reverse",))


def test_loop_against_central_differences():
    central_differences(heat, U0, KAPPA, 9, 2)
    central_differences(mixed, RNG.random(4), 0.4, 9, 2)


@pytest.mark.slow
def test_loop_cpu_target_equals_taped():
    """One Numba compile of each: n and snapshots are arguments."""
    checkpointed = ct.grad(heat, argnums=(0, 1))
    taped = ct.grad(heat_taped, argnums=(0, 1))
    for n, s in [(1, 1), (6, 1), (13, 3), (5, 9)]:
        close(checkpointed(U0, KAPPA, n, s), taped(U0, KAPPA, n, s))


def relax(u, a, n):
    """A called function (a unit of its own) with a checkpointed loop."""
    v = u * 1.0
    for t in ct.checkpointed(range(n), snapshots=2):
        v = v + a * np.sin(v) * 0.1
    return v


def calls_relax(x, a, n):
    y = relax(x, a, n)
    return np.sum(y ** 2) + np.sum(relax(y, a, 3))


calls_relax_taped = taped_twin(relax, calls_relax)


@pytest.mark.parametrize("target", ["python", pytest.param("cpu", marks=pytest.mark.slow)])
def test_loop_in_a_called_function(target):
    """The unit's forward sweep returns the snapshots as residuals; its tapes live in the
    reverse sweep only."""
    x = np.linspace(0.0, 1.0, 5)
    g = ct.grad(ct.differentiable(calls_relax, target=target), argnums=(0, 1))
    close(g(x, 0.6, 7), ct.grad(ct.differentiable(calls_relax_taped, target=target), argnums=(0, 1))(x, 0.6, 7))
    assert "relax_fwd(" in ct.source(g, x, 0.6, 7)


def test_generated_code_keeps_snapshots_not_a_tape():
    grad = ct.grad(ct.differentiable(heat, target="python"), argnums=(0, 1))
    src = ct.source(grad, U0, KAPPA, 5, 2)
    assert "revolve_forward" in src and "revolve_reverse" in src and "u_snapshots = []" in src
    assert "ct.checkpointed" in src          # comments name the loop's source line
    taped = ct.source(ct.grad(ct.differentiable(heat_taped, target="python"), argnums=(0, 1)), U0, KAPPA, 5, 2)
    assert "revolve" not in taped and "_snapshots" not in taped


# --- memory_limit ----------------------------------------------------------------------------------
def long_sum(x, n):
    u = x.copy()
    for t in range(n):
        u = u + 0.01 * np.sin(u)
    return np.sum(u ** 2)


def test_memory_limit_same_gradient_and_less_memory():
    x = RNG.random(2000)            # 16 kB per state; 300 trips taped hold several MB
    plain = ct.grad(ct.differentiable(long_sum, target="python"))
    limited = ct.grad(ct.differentiable(long_sum, target="python"), memory_limit="400kB")
    peaks = []
    for g in (plain, limited):
        g(x, 3)                     # compile outside the measurement
        tracemalloc.start()
        result = g(x, 300)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        peaks.append(result)
    close([peaks[3]], [peaks[1]])
    assert peaks[2] < 0.25 * peaks[0], peaks[::2]
    # the budget bounds what the loop keeps for the reverse sweep (snapshots and one trip's tape);
    # the function's other arrays (arguments, adjoints, temporaries) come on top
    assert peaks[2] < 400_000 + 25 * x.nbytes, peaks[::2]
    close([limited(x, 4)], [plain(x, 4)])           # a tape that fits: recorded as usual
    assert "checkpoint_snapshots(400000.0" in ct.source(limited, x, 4)


def halvings(x, rate):
    """A while loop: its trip count is known only at its end."""
    total = 0.0
    while x > 0.1:
        total = total + np.sin(x) * rate
        x = x * 0.5
    return total


def test_memory_limit_warns_about_a_while_loop(tmp_path, monkeypatch):
    monkeypatch.setattr(ct.config, "cache_dir", tmp_path)     # warned when compiled, not when loaded
    with pytest.warns(UserWarning, match="recorded in full"):
        g = ct.grad(ct.differentiable(halvings, target="python"), argnums=(0, 1), memory_limit="1MB")(2.0, 0.5)
    close(g, ct.grad(ct.differentiable(halvings, target="python"), argnums=(0, 1))(2.0, 0.5))


def test_memory_limit_cpu_target():
    x = RNG.random(50)
    plain = ct.grad(long_sum)
    limited = ct.grad(long_sum, memory_limit=4000)
    for n in (3, 40):
        close([limited(x, n)], [plain(x, n)])


# --- @ct.checkpoint on a called function ------------------------------------------------------------
@ct.checkpoint
def diffuse(u, kappa):
    v = u.copy()
    laplacian = u[:-2] - 2.0 * u[1:-1] + u[2:]
    v[1:-1] = u[1:-1] + 0.2 * kappa[1:-1] * laplacian
    return np.sin(v) + v


def diffuse_stored(u, kappa):
    v = u.copy()
    laplacian = u[:-2] - 2.0 * u[1:-1] + u[2:]
    v[1:-1] = u[1:-1] + 0.2 * kappa[1:-1] * laplacian
    return np.sin(v) + v


@ct.checkpoint
def damped(y, c):
    return y * c - 0.1 * np.sin(y)


def damped_stored(y, c):
    return y * c - 0.1 * np.sin(y)


def array_model(u0, kappa):
    u = u0
    for t in range(4):
        u = diffuse(u, kappa)
    return np.sum(u ** 2)


def array_model_stored(u0, kappa):
    u = u0
    for t in range(4):
        u = diffuse_stored(u, kappa)
    return np.sum(u ** 2)


def scalar_model(y, c):
    for t in range(5):
        y = damped(y, c) + damped(c, y)
    return y


def scalar_model_stored(y, c):
    for t in range(5):
        y = damped_stored(y, c) + damped_stored(c, y)
    return y


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_checkpoint_function_array_state(target):
    g = ct.grad(ct.differentiable(array_model, target=target), argnums=(0, 1))
    ref = ct.grad(ct.differentiable(array_model_stored, target=target), argnums=(0, 1))
    close(g(U0, KAPPA), ref(U0, KAPPA))
    central_differences(array_model, U0, KAPPA, target=target)


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_checkpoint_function_scalar_state(target):
    g = ct.grad(ct.differentiable(scalar_model, target=target), argnums=(0, 1))
    ref = ct.grad(ct.differentiable(scalar_model_stored, target=target), argnums=(0, 1))
    close(g(0.3, 0.9), ref(0.3, 0.9))
    central_differences(scalar_model, 0.3, 0.9, target=target)


def test_checkpoint_function_recomputes_instead_of_storing():
    g = ct.grad(ct.differentiable(array_model, target="python"), argnums=(0, 1))
    src = ct.source(g, U0, KAPPA)
    assert "diffuse_vjp(" in src and "diffuse_fwd" not in src    # the adjoint runs it again
    stored = ct.source(ct.grad(ct.differentiable(array_model_stored, target="python"), argnums=(0, 1)), U0, KAPPA)
    assert "diffuse_stored_fwd(" in stored                        # residuals kept otherwise


# --- errors -------------------------------------------------------------------------------------------
def breaks(x, n):
    u = x
    for t in ct.checkpointed(range(n), snapshots=2):
        u = u * 1.1
        if u > 3.0:
            break
    return u


def nested(x, n):
    u = x
    for i in range(3):
        for t in ct.checkpointed(range(n), snapshots=2):
            u = u * 1.1
    return u


def marker_elsewhere(x, n):
    r = ct.checkpointed(range(n))
    return x * r


def no_snapshots(x, n):
    u = x
    for t in ct.checkpointed(range(n), snapshots=0):
        u = u * 1.1
    return u


@ct.checkpoint
def returns_pair(x):
    return x, x * 2.0


def calls_pair(x, n):
    a, b = returns_pair(x)
    return a * b * n


@pytest.mark.parametrize("f,words", [
    (breaks, ["may break", "break"]),
    (nested, ["inside another loop", "ct.checkpoint"]),
    (marker_elsewhere, ["marks the range of a for loop"]),
    (no_snapshots, ["positive integer"]),
    (calls_pair, ["@ct.checkpoint", "returns_pair"]),
])
def test_errors_name_the_line_and_what_to_do(f, words):
    with pytest.raises(ct.CompileError) as e:
        ct.grad(ct.differentiable(f, target="python"))(1.0, 3)
    text = str(e.value)
    assert "test_checkpointing.py:" in text
    for w in words:
        assert w in text, text


def test_plain_python_runs_the_marked_code():
    """The markers do nothing outside the compiler."""
    assert heat(U0, KAPPA, 5, 2) == heat_taped(U0, KAPPA, 5, 2)
    assert array_model(U0, KAPPA) == array_model_stored(U0, KAPPA)


def test_checkpointed_ir_is_valid():
    from cotangent.ir import verify, FLOAT
    from cotangent.rules import PRIMITIVES
    from cotangent.frontend.lower import lower
    from cotangent.specialize import spec_of
    from cotangent.transforms.reverse import reverse
    for f, args in [(heat, (U0, KAPPA, 5, 2)), (mixed, (np.ones(3), 0.5, 4, 2))]:
        fn, result = lower(f, [spec_of(a, "x") for a in args])
        wrt = [p for p in fn.params if fn.types[p].kind == FLOAT]
        verify(reverse(fn, (result.value,), wrt), PRIMITIVES)
        verify(reverse(fn, (result.value,), wrt, memory_limit=1000), PRIMITIVES)
