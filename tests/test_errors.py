"""Every unsupported construct or bad input is a CompileError naming the line, never a Numba
traceback and never a wrong gradient."""
import numpy as np
import pytest

import cotangent as ct

GLOBAL_ARRAY = np.ones(3)


def uses_try(x):
    try:
        y = np.exp(x)
    except ValueError:
        y = x
    return y


def loop_over_array(x):
    s = 0.0
    for v in x:
        s = s + v
    return s


def return_in_loop(x):
    for i in range(3):
        if x[i] > 0.0:
            return x[i]
    return 0.0


def defined_in_one_branch(x):
    if x > 0.0:
        y = x
    return y


def write_into_argument(x):
    x[0] = 1.0
    return np.sum(x)


def write_through_view(x):
    y = x.copy()
    z = y[0:2]
    z[0] = 1.0
    return np.sum(y)


def rank_changes_in_loop(x):
    s = 0.0
    for i in range(3):
        s = s + x
    return np.sum(s)


def array_condition(x):
    if x > 0.0:
        return np.sum(x)
    return 0.0


def loop_else(x):
    for i in range(3):
        x = x * 2.0
    else:
        x = x + 1.0
    return x


def float_into_int_array(x):
    k = np.zeros(3, dtype=np.int64)
    k[0] = x
    return x


def uses_list_comprehension(x):
    return np.sum(np.array([x * i for i in range(3)]))


def unknown_function(x):
    return np.sum(np.fft.fft(x))


def unknown_numpy_function(x):
    return np.sum(np.unwrap(x))


def factorial_like(x, n):
    if n <= 1:
        return x
    return x * factorial_like(x, n - 1)


def uses_generator(x):
    yield x


def shape_mismatch(W, X):
    return np.sum(X @ W)


def broadcast_mismatch(a, b):
    return np.sum(a + b)


def vector_output(x):
    return np.sin(x)


def uses_global_array(x):
    return np.sum(x * GLOBAL_ARRAY)


def math_on_array(x):
    return np.sum(np.exp(x)) + np.sum(x) * 0.0 + __import__("math").exp(x)


def squeeze_without_axis(x):
    return np.sum(np.squeeze(x))


def returns_nothing(x):
    y = x * 2.0


def test_error_names_file_line_caret_and_hint():
    with pytest.raises(ct.CompileError) as info:
        ct.grad(uses_try)(1.0)
    e = info.value
    text = str(e)
    assert e.loc.filename.endswith("test_errors.py")
    assert e.loc.line == uses_try.__code__.co_firstlineno + 1
    assert "try/except" in text and "^" in text and "hint:" in text


@pytest.mark.parametrize("fn, arg, pattern", [
    (loop_over_array, np.ones(3), "only `for ... in range"),
    (return_in_loop, np.ones(3), "return inside a loop"),
    (defined_in_one_branch, 1.0, "assigned in only one branch"),
    (write_into_argument, np.ones(3), "argument or a view"),
    (write_through_view, np.ones(3), "argument or a view"),
    (rank_changes_in_loop, np.ones(3), "number before the loop and a rank-1 array"),
    (array_condition, np.ones(3), "truth value of an array"),
    (loop_else, 1.0, "else` is not supported"),
    (float_into_int_array, 1.0, "would truncate"),
    (uses_generator, 1.0, "yield"),
    (uses_list_comprehension, 1.0, "list comprehension"),
    (unknown_function, np.ones(3), "np.fft|fft"),
    (unknown_numpy_function, np.ones(3), "np.unwrap is not supported"),
    (uses_global_array, np.ones(3), "global array 'GLOBAL_ARRAY'"),
    (squeeze_without_axis, np.ones((3, 1)), "squeeze needs axis="),
    (returns_nothing, 1.0, "must end with a return"),
    (vector_output, np.ones(3), "grad needs a scalar float output"),
])
def test_unsupported_constructs_are_compile_errors(fn, arg, pattern):
    with pytest.raises(ct.CompileError, match=pattern):
        ct.grad(fn)(arg)


def test_shape_mismatch_is_reported_at_the_source_line():
    with pytest.raises(ct.CompileError) as info:
        ct.grad(shape_mismatch)(np.ones((3, 2)), np.ones((4, 5)))
    assert info.value.loc.line == shape_mismatch.__code__.co_firstlineno + 1
    assert "mismatch" in str(info.value) or "shape" in str(info.value)
    with pytest.raises(ct.CompileError) as info:
        ct.grad(broadcast_mismatch)(np.ones(3), np.ones(4))
    assert info.value.loc.line == broadcast_mismatch.__code__.co_firstlineno + 1


def test_rank_errors_are_found_when_specializing():
    with pytest.raises(ct.CompileError, match="both operands must be arrays"):
        ct.grad(shape_mismatch)(2.0, np.ones((4, 5)))


def test_non_float_target_and_bad_arguments():
    with pytest.raises(ct.CompileError, match="only float arguments"):
        ct.grad(vector_output)(np.arange(3))
    with pytest.raises(ct.CompileError, match="is a list"):
        ct.grad(uses_global_array)([1.0, 2.0, 3.0])


def endless(x, n):
    return endless(x * 2.0, n - 1) + 1.0


def test_recursion_without_a_base_case_is_a_compile_error_naming_the_cycle():
    with pytest.raises(ct.CompileError, match=r"the recursion endless -> endless never returns without calling itself"):
        ct.grad(ct.differentiable(endless, target="python"))(2.0, 3)


def test_first_call_check_is_bounded_in_time_but_complete_after_a_failure():
    """Before a first compiled call the Python twin runs for at most the configured budget: a slow
    one is abandoned (the compiled call goes ahead), a failing one is reported at its line."""
    import time
    from types import SimpleNamespace
    from cotangent import specialize as sp

    def slow(*args):
        time.sleep(5)

    def failing(*args):
        raise IndexError("index 7 is out of bounds")

    started = time.perf_counter()
    assert sp._locate(SimpleNamespace(python_run=slow), [], budget=0.05) is None
    assert time.perf_counter() - started < 2.0
    with pytest.raises(ct.BoundsError, match="out of bounds"):
        sp._locate(SimpleNamespace(python_run=failing, details=lambda: SimpleNamespace(python_locmap={})),
                   [], budget=0.05)
    assert ct.config.first_call_check_seconds > 0


def test_first_call_check_leaves_a_programs_own_alarm_alone():
    import signal
    from types import SimpleNamespace
    from cotangent import specialize as sp

    def failing(*args):
        raise IndexError("index 7 is out of bounds")

    fired = []
    old = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        assert sp._locate(SimpleNamespace(python_run=failing), [], budget=0.05) is None   # check left out
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0                                # timer kept
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
