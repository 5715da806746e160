"""Lists used as stacks: append, pop, indexing, len and np.array of a list, differentiated in both
modes on both targets, with Python's IndexError and clear CompileErrors for what lists cannot do."""
from __future__ import annotations

import numpy as np
import pytest

import cotangent as ct

TARGETS = ["python", "cpu"]


# --- functions written with lists ---------------------------------------------------------------

def push_then_pop(x, n):
    """Tangent's stack example: values pushed in a for loop, popped in a while loop."""
    stack = []
    h = 0.5
    for i in range(n):
        h = np.tanh(x * h + 0.1 * i)
        stack.append(h)
    total = 0.0
    while len(stack) > 0:
        total = total * 0.9 + stack.pop()
    return total


def rows_of(x):
    """Arrays as items: a trajectory collected row by row, then read back."""
    rows = []
    for i in range(x.shape[0]):
        rows.append(np.sin(x[i]) * (i + 1))
    a = np.array(rows)
    return np.sum(a ** 2) + rows[-1][0] + rows[1][1] * len(rows)


def literal_then_append(x, y):
    """A list made with items, appended to, stacked and indexed from both ends."""
    items = [x, 2.0 * y * x]
    for k in range(3):
        items.append(items[-1] * y + x)
    s = np.stack(items)
    return np.sum(s * s) + items[0][1] * items[-2][0]


def first_append_in_branch(x, c):
    """The first append is inside an if: the list's array is made before the if."""
    out = []
    if c > 0.0:
        out.append(x * c)
    else:
        out.append(np.exp(x))
    out.append(x * x)
    return np.sum(np.array(out))


def first_append_in_inner_loop(x):
    """The first append is two loops deep: the array is made before the outer loop."""
    acc = []
    for i in range(x.shape[0]):
        for j in range(i + 1):
            acc.append(x[i] * x[j])
    total = 0.0
    for k in range(len(acc)):
        total = total + np.sin(acc[k]) * (k + 1)
    return total


def new_list_each_trip(x):
    """A list made again on every trip of a loop holds only that trip's items."""
    total = 0.0
    for i in range(3):
        parts = []
        for j in range(x.shape[0]):
            parts.append(x[j] ** (i + 1))
        total = total + np.sum(np.array(parts)) * len(parts)
    return total


def pop_and_push_again(x):
    """Slots are reused after a pop: the adjoint of the first value must not see the second."""
    s = []
    s.append(x * 2.0)
    s.append(x * 3.0)
    a = s.pop()
    s.append(np.sin(x))
    b = s.pop()
    c = s.pop()
    return a * b + c * c


def pop_in_the_loop(x, n):
    """A stack that grows and shrinks in one loop: an even trip pushes, an odd one pops."""
    stack = [x]
    total = 0.0
    for i in range(n):
        if i % 3 == 2:
            total = total + stack.pop() * i
        else:
            stack.append(np.cos(stack[-1]) + x)
    return total + np.sum(np.array(stack))


def int_list(x, n):
    """A list of integers: indices collected, then used to read x."""
    idx = []
    for i in range(n):
        if i % 2 == 0:
            idx.append(i)
    total = 0.0
    for k in range(len(idx)):
        total = total + x[idx[k]] ** 2
    return total


def stack_total(x):
    stack = []
    for i in range(x.shape[0]):
        stack.append(x[i] * (i + 1))
    total = 0.0
    while len(stack) > 0:
        total = total * 0.5 + stack.pop()
    return total


def stack_in_a_called_function(x):
    """The list lives in a function compiled as a unit of its own: its forward sweep records more
    per trip than its adjoint sweep reads (the popped tuples keep every slot)."""
    return stack_total(x) * 2.0 + np.sum(x * x)


CASES = [
    (push_then_pop, lambda rng: (0.7, 5)),
    (push_then_pop, lambda rng: (-0.4, 21)),         # grows twice (8, 16, 32 rows)
    (rows_of, lambda rng: (rng.standard_normal((11, 3)),)),
    (literal_then_append, lambda rng: (rng.standard_normal(2), 0.8)),
    (first_append_in_branch, lambda rng: (rng.standard_normal(3), 0.5)),
    (first_append_in_branch, lambda rng: (rng.standard_normal(3), -0.5)),
    (first_append_in_inner_loop, lambda rng: (rng.standard_normal(4),)),
    (new_list_each_trip, lambda rng: (rng.uniform(0.5, 1.5, 3),)),
    (pop_and_push_again, lambda rng: (0.3,)),
    (pop_in_the_loop, lambda rng: (0.6, 10)),
    (int_list, lambda rng: (rng.standard_normal(7), 7)),
    (stack_in_a_called_function, lambda rng: (rng.standard_normal(5),)),
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("fn, make", CASES, ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(CASES)])
def test_gradient(fn, make, target):
    """Values equal Python running the function; the gradient matches central differences and
    forward mode matches reverse mode."""
    args = make(np.random.default_rng(0))
    f = ct.differentiable(fn, target=target)
    np.testing.assert_allclose(f(*args), fn(*args), rtol=1e-12)
    argnums = tuple(i for i, a in enumerate(args) if isinstance(a, (float, np.ndarray)))
    report = ct.check_grad(f, *args, argnums=argnums)
    assert len(report) == len(argnums)


def test_hessian_through_a_stack():
    f = ct.differentiable(push_then_pop, target="python")
    h = ct.hessian(f)(0.7, 6)
    eps = 1e-5
    g = ct.grad(f)
    assert h == pytest.approx((g(0.7 + eps, 6) - g(0.7 - eps, 6)) / (2 * eps), rel=1e-6)


def test_source_names_the_list():
    src = ct.source(ct.grad(ct.differentiable(push_then_pop, target="python")), 0.7, 5)
    assert "stack.append(h)" in src                       # the source-line comment
    assert "stack_1 = list_room(" in src or "stack_2 = list_room(" in src
    assert "stack_len" in src
    # the adjoint of the items array is updated in place, not copied on every reversed trip
    loop = src[src.index("for i in range("):]
    assert "stack_2_bar.copy()" not in loop and "stack_1_bar.copy()" not in loop
    assert src == ct.source(ct.grad(ct.differentiable(push_then_pop, target="python")), 0.7, 5)


# --- Python's errors at run time -------------------------------------------------------------

def pop_too_many(x, n):
    s = [x]
    total = 0.0
    for i in range(n):
        total = total + s.pop()
    return total


def index_past_end(x, k):
    s = []
    s.append(x)
    s.append(x * 2.0)
    return s[k]


@pytest.mark.parametrize("target", TARGETS)
def test_runtime_errors_are_pythons(target):
    f = ct.differentiable(pop_too_many, target=target)
    assert f(1.5, 1) == 1.5
    with pytest.raises(IndexError, match="pop from empty list"):
        f(1.5, 2)
    g = ct.differentiable(index_past_end, target=target)
    assert g(1.5, -1) == 3.0 and g(1.5, -2) == 1.5
    for k in (2, -3):
        with pytest.raises(IndexError, match="list index out of range"):
            g(1.5, k)


# --- what lists cannot do: CompileErrors naming the line ------------------------------------

def mixed_ranks(x):
    s = []
    s.append(x)
    s.append(x[0])
    return np.sum(np.array(s))


def float_into_int_list(x):
    s = []
    s.append(1)
    s.append(x)
    return s.pop()


def helper(v):
    return v


def passed_on(x):
    s = []
    s.append(x)
    return helper(s)


def returned_list(x):
    s = []
    s.append(x)
    return s


def pop_front(x):
    s = []
    s.append(x)
    return s.pop(0)


def append_to_array(x):
    y = np.zeros(3)
    y.append(x)
    return np.sum(y)


def list_as_number(x):
    s = []
    s.append(x)
    return s * 2.0


def slice_of_list(x):
    s = []
    s.append(x)
    s.append(x)
    return np.sum(s[0:1])


ERRORS = [
    (mixed_ranks, "must all have the same rank"),
    (float_into_int_list, "holds integers"),
    (passed_on, "cannot be passed to helper"),
    (returned_list, "cannot be returned"),
    (pop_front, r"only stack.pop\(\) of the last item"),
    (append_to_array, r"needs a list made in this function"),
    (list_as_number, "is used where a number or an array is needed"),
    (slice_of_list, "with one integer"),
]


@pytest.mark.parametrize("fn, message", ERRORS, ids=[f.__name__ for f, _ in ERRORS])
def test_compile_errors(fn, message):
    x = np.ones(3) if fn in (mixed_ranks, append_to_array) else 1.0
    with pytest.raises(ct.CompileError, match=message) as info:
        ct.grad(ct.differentiable(fn, target="python"))(x)
    assert "test_lists.py" in str(info.value)
