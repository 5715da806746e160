"""Reverse and forward mode through branches, loops, early returns and element writes, checked
against central differences (ct.check_grad also checks forward mode against reverse mode), on the
Python target for every case and on the Numba target for each program once."""
import numpy as np
import pytest

import cotangent as ct
import cf_programs as P

rng = np.random.default_rng(7)
RNN = (rng.normal(size=(3, 2)) * 0.5, rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3), rng.normal(size=(5, 2)))

CASES = [
    (P.branch_elif, (0.7, 0.3)), (P.branch_elif, (-0.7, 0.3)), (P.branch_elif, (0.2, 0.9)),
    (P.early_return, (1.5,)), (P.early_return, (0.5,)),
    (P.conditional_expression, (0.3, np.array([1.0, 2.0]))),
    (P.conditional_expression, (-0.3, np.array([-1.0, 2.0, 0.5]))),
    (P.sum_with_break, (np.arange(5.0), 5)), (P.sum_with_break, (np.array([0.1, 0.2, 0.3]), 3)),
    (P.halve_until_small, (3.0,)), (P.halve_until_small, (0.01,)),
    (P.newton_sqrt, (2.0,)), (P.newton_sqrt, (30.0,)),
    (P.rnn, RNN),
    (P.recurrence_writes, (rng.normal(size=5),)), (P.recurrence_writes, (rng.normal(size=2),)),
    (P.overwrite_then_read, (rng.normal(size=4),)),
    (P.slice_writes, (rng.normal(size=3),)), (P.slice_writes, (rng.normal(size=5),)),
    (P.matrix_writes, (rng.normal(size=(3, 4)),)), (P.matrix_writes, (rng.normal(size=(2, 2)),)),
    (P.negative_step_continue, (np.array([1.0, -2.0, 3.0, 4.0, 5.0, -1.0]),)),
    (P.nested_break, (rng.uniform(size=(3, 4)),)), (P.nested_break, (rng.uniform(size=(2, 9)) * 3,)),
    (P.loop_with_branches, (rng.uniform(-1, 1, size=6), rng.normal(size=3))),
    (P.calls_in_loop, (rng.normal(size=5), 5)),
    (P.trip_from_argument, (rng.normal(size=8), 7, 0, -2)), (P.trip_from_argument, (rng.normal(size=8), 1, 8, 3)),
    (P.trip_from_argument, (rng.normal(size=8), 5, 5, 1)),
    (P.table_then_points, (rng.normal(size=3), rng.normal(size=(4, 2)))),
    (P.table_then_points, (rng.normal(size=2), rng.normal(size=(3, 5)))),
    (P.table_written_again, (rng.normal(size=3), rng.normal(size=4))),
    (P.table_written_again, (rng.normal(size=5), rng.normal(size=2))),
    (P.nest_with_break, (rng.uniform(size=5), 1.5)), (P.nest_with_break, (rng.uniform(size=3), 100.0)),
    (P.element_updates, (rng.normal(size=4), rng.normal(size=4))),
    (P.element_updates, (rng.normal(size=2), rng.normal(size=2))),
]
IDS = [f"{f.__name__}-{i}" for i, (f, _) in enumerate(CASES)]
PY = {}


def python_version(f):
    if f not in PY:
        PY[f] = ct.differentiable(f, target="python")
    return PY[f]


@pytest.mark.parametrize("f, args", CASES, ids=IDS)
def test_python_target(f, args):
    errors = ct.check_grad(python_version(f), *args)
    assert max(errors.values()) < 1e-6
    assert np.allclose(python_version(f)(*args), f(*args), rtol=1e-12, atol=1e-12)


FIRST = {}
for f, args in CASES:
    FIRST.setdefault(f, args)


@pytest.mark.parametrize("f", list(FIRST), ids=[f.__name__ for f in FIRST])
def test_numba_target(f):
    args = FIRST[f]
    errors = ct.check_grad(f, *args)
    assert max(errors.values()) < 1e-6
    g_numba = ct.grad(f, argnums=0)(*args)
    g_python = ct.grad(python_version(f), argnums=0)(*args)
    assert np.allclose(g_numba, g_python, rtol=1e-12, atol=1e-14)


def test_while_gradient_source_shows_the_trip_count():
    src = ct.source(ct.grad(python_version(P.newton_sqrt)), 2.0)
    assert "trips += 1" in src and "for trip in range(trips):" in src


def test_tapes_say_what_they_hold():
    src = ct.source(ct.grad(python_version(P.rnn)), *RNN)
    # h_1 (the state as a trip starts) and the shapes of the trip's products share one tape
    assert "tape_1 = []" in src and "# tape: h_1, t7_shape" in src
    assert "tape_1.append((h_1, t7_shape" in src
    assert "h_1, t7_shape, t8_shape, t9_shape, h_2 = tape_1.pop()" in src


def test_a_lone_tape_keeps_its_value_name():
    src = ct.source(ct.grad(python_version(P.newton_sqrt)), 2.0)
    assert "_tape = []" in src and ".pop()" in src and "tape_1" not in src


def test_values_are_recomputed_not_recorded():
    src = ct.source(ct.grad(python_version(P.sum_with_break)), np.arange(5.0), 5)
    assert src.count("_tape = ") == 1            # only s, the value carried from trip to trip
    assert "# recomputed:" in src


def test_a_table_written_only_before_its_reads_is_read_again_not_recorded():
    w, x = np.ones(3), np.ones((4, 2))
    src = ct.source(ct.grad(python_version(P.table_then_points), argnums=(0, 1)), w, x)
    adjoint = src[src.index("# adjoint of"):]
    assert "t22_tape" not in src and "t22 = T[j_1, c_1]" in adjoint       # T's read, done again
    # written again after the reads: what they read is recorded (or the rewrite undone)
    src = ct.source(ct.grad(python_version(P.table_written_again)), np.ones(3), np.ones(4))
    assert "_tape" in src or "T_old" in src


def test_numbers_recorded_in_a_known_nest_go_on_array_tapes():
    src = ct.source(ct.grad(python_version(P.table_then_points)), np.ones(3), np.ones((4, 2)))
    assert "acc_2_tape = np.empty(j_1_trips_all, np.float64)" in src      # n * K numbers
    assert "acc_2_tape[acc_2_top] = acc_2" in src and "acc_2 = acc_2_tape[acc_2_top]" in src
    assert ".append(" not in src
    # an inner loop that may break: its values fill part of the tape, the count says how much
    src = ct.source(ct.grad(python_version(P.nest_with_break)), np.ones(5), 1.5)
    assert "np.empty(" in src and "_top -= 1" in src


def test_an_element_update_leaves_its_adjoint_in_place():
    src = ct.source(ct.grad(python_version(P.element_updates), argnums=(0, 1)), np.ones(3), np.ones(3))
    # the adjoint of y[i] += ... neither zeroes y_bar[i] nor adds it back
    assert "y_bar[i] = 0.0" not in src and "y_bar[i] += t10_bar" not in src


def test_writes_that_destroy_needed_values_are_undone():
    src = ct.source(ct.grad(python_version(P.overwrite_then_read)), np.ones(3))
    assert "y_old" in src
    src = ct.source(ct.grad(python_version(P.recurrence_writes)), np.ones(3))
    assert "y_old" not in src        # the adjoint never reads y's old values


def test_generated_source_is_deterministic():
    a = ct.source(ct.grad(python_version(P.loop_with_branches)), np.ones(3), np.ones(2))
    b = ct.source(ct.grad(ct.differentiable(P.loop_with_branches, target="python")), np.ones(3), np.ones(2))
    assert a == b


@pytest.mark.parametrize("f, args", [
    (P.rnn, RNN), (P.recurrence_writes, (rng.normal(size=4),)), (P.overwrite_then_read, (rng.normal(size=4),)),
    (P.newton_sqrt, (2.0,)), (P.sum_with_break, (np.arange(5.0) * 0.3, 5)),
], ids=["rnn", "recurrence_writes", "overwrite_then_read", "newton_sqrt", "sum_with_break"])
def test_hessian_through_loops_tapes_and_writes(f, args):
    """Forward over reverse runs through tapes (a tape of tangents beside each tape of values)."""
    fp = python_version(f)
    H = ct.hessian(fp)(*args)
    g, a0, h = ct.grad(fp), np.asarray(args[0], dtype=float), 1e-5
    columns = []
    for e in np.eye(a0.size):
        step = h * e.reshape(a0.shape) if a0.ndim else h * float(e[0])
        columns.append((g(a0 + step, *args[1:]) - g(a0 - step, *args[1:])) / (2 * h))
    fd = np.array(columns).reshape(a0.shape + a0.shape) if a0.ndim else np.array(columns[0])   # H is symmetric
    assert np.allclose(H, fd.reshape(np.shape(H)), rtol=1e-6, atol=1e-7)
