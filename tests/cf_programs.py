"""Programs with control flow and mutation, differentiated by tests/test_control_flow.py."""
import numpy as np


def branch_elif(x, y):
    if x > y and y > 0.0:
        z = x * y
    elif x < 0.0 or not y < 2.0:
        z = -x
    else:
        z = np.sin(x)
    return z * 2.0


def early_return(x):
    if x > 1.0:
        return x * x
    y = np.exp(x)
    return y + 1.0


def conditional_expression(x, a):
    y = x * 2.0 if x > 0.0 else x * x
    return y + (np.sum(a) if a[0] > 0.0 else np.sum(a * a))


def sum_with_break(x, n):
    s = 0
    for i in range(n):
        s += x[i] * x[i]
        if s > 10.0:
            break
    return s


def halve_until_small(x):
    k = 0
    while x > 1e-3 and k < 100:
        x = x * 0.5
        k += 1
    return x * x


def newton_sqrt(a):
    """sqrt(a) by Newton's method: the trip count depends on a."""
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def rnn(W, U, b, X):
    h = np.zeros(W.shape[0])
    for t in range(X.shape[0]):
        h = np.tanh(W @ X[t] + U @ h + b)
    return np.sum(h * h)


def recurrence_writes(x):
    y = np.zeros(x.shape[0])
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1] * 0.5 + x[i]
        y[i - 1] += x[i] * x[i - 1]
    return np.sum(y * y)


def overwrite_then_read(x):
    """The adjoint of y * y reads y as it was before later writes: writes are undone in reverse."""
    y = x.copy()
    s = 0.0
    for i in range(x.shape[0]):
        s = s + np.sum(y * y)
        y[i] = np.sin(y[i]) * 2.0
    return s + np.sum(y)


def slice_writes(x):
    y = np.ones(2 * x.shape[0])
    n = x.shape[0]
    y[0:n] = x * x
    y[n:] += np.exp(x)
    y[1:3] = y[1:3] * 3.0
    return np.sum(y * y)


def matrix_writes(A):
    B = np.zeros((A.shape[0], A.shape[1]))
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            B[i, j] = A[i, j] * A[j % A.shape[0], i % A.shape[1]]
            B[i, j] += 1.0
    return np.sum(np.tanh(B))


def negative_step_continue(x):
    s = 0.0
    for i in range(x.shape[0] - 1, -1, -2):
        if x[i] < 0.0:
            continue
        s = s + np.sqrt(x[i])
    return s


def nested_break(A):
    s = 0.0
    for i in range(A.shape[0]):
        r = 0.0
        for j in range(A.shape[1]):
            r = r + A[i, j] * s
            if r > 5.0:
                break
        s = s + r + 1.0
    return s


def loop_with_branches(x, w):
    acc = np.zeros(w.shape[0])
    for i in range(x.shape[0]):
        if x[i] > 0.5:
            acc = acc + w * x[i]
        elif x[i] > 0.0:
            acc = acc * 0.5
        else:
            acc = np.tanh(acc - w)
    return np.sum(acc * acc)


def helper(x, k):
    y = x
    for _ in range(k):
        y = np.sin(y) + x
    return y


def calls_in_loop(x, n):
    s = 0.0
    for i in range(n):
        if i % 2 == 0:
            s = s + helper(x[i], 2)
        else:
            s = s * helper(x[i], 1)
    return s


def trip_from_argument(x, start, stop, step):
    s = 1.0
    for i in range(start, stop, step):
        s = s * (1.0 + x[i] * x[i])
    return np.log(s)


def table_then_points(w, x):
    """A table built from w once, then read in a loop over points (never written again)."""
    T = np.zeros((w.shape[0], x.shape[1]))
    for j in range(w.shape[0]):
        for c in range(x.shape[1]):
            T[j, c] = np.exp(w[j] * (c + 1) * 0.3)
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            acc = 0.0
            for c in range(x.shape[1]):
                acc += T[j, c] * x[i, c]
            total += acc * acc
    return total


def table_written_again(w, x):
    """The same table, read, then overwritten and read again: the first reads must be recorded."""
    T = np.zeros(w.shape[0])
    for j in range(w.shape[0]):
        T[j] = np.sin(w[j])
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            total += T[j] * T[j] * x[i]
    for j in range(w.shape[0]):
        T[j] = T[j] * w[j]
    for j in range(w.shape[0]):
        total += T[j] * T[j]
    return total


def nest_with_break(x, limit):
    """A nest whose inner loop may stop early: recorded values fill only part of their array tape."""
    s = 0.0
    for i in range(x.shape[0]):
        r = 0.0
        for j in range(x.shape[0]):
            r = r + np.tanh(x[j] * s + x[i])
            if r > limit:
                break
        s = s + r * r * 0.1
    return s


def element_updates(x, v):
    """Updates of elements by values that do not read them (a position stepped by its velocity)."""
    y = x.copy()
    for t in range(3):
        for i in range(y.shape[0]):
            y[i] += 0.1 * np.sin(v[i] * y[0])
    return np.sum(y * y)
