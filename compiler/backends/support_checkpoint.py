"""Binomial checkpointing schedules (Griewank and Walther's revolve) for a loop of n trips whose
adjoint keeps at most `snapshots` copies of the loop-carried state instead of a tape of every trip.

With c snapshots and r repetitions (each trip run again at most r times before its adjoint),
beta(c, r) = C(c + r, c) trips can be reversed, and beta(c, r) = beta(c, r - 1) + beta(c - 1, r):
advance from the snapshot at `start` to a point m trips on, take a snapshot there, reverse the
trips after it with one snapshot fewer, drop that snapshot, and reverse the first m trips with all
c again (those trips were run once already). Taking m so that the part after it needs exactly r
repetitions and the part before it r - 1 runs the fewest trips: r * n - beta(c + 1, r - 1) in all.

The schedule is a table of actions, one row (action, a, b) each, that generated code interprets:

    RESTORE  a      the state becomes a copy of the snapshot on top of the stack (trip a's start)
    ADVANCE  a b    run trips a .. b - 1 without recording anything
    SNAPSHOT a      push a copy of the state (the start of trip a)
    DROP            pop the snapshot on top of the stack
    REVERSE  a      run trip a recording its tape, then its adjoint

The sweep forward through the loop runs every trip once and takes the snapshots the schedule's
first descent takes (`revolve_forward`); the sweep back (`revolve_reverse`) goes on from there.
Both are plain Python that Numba compiles as it is (numba_checkpoint.py)."""
from __future__ import annotations

import numpy as np

__all__ = ["revolve_forward", "revolve_reverse", "checkpoint_snapshots"]

RESTORE, ADVANCE, SNAPSHOT, DROP, REVERSE = 0, 1, 2, 3, 4
_TREAT, _DROP = 0, 1            # work items: reverse trips [a, b) with c snapshots; drop a snapshot


def _beta(c: int, r: int, cap: int) -> int:
    """C(c + r, c), or a number above `cap` when it is larger (so it never overflows)."""
    b = 1
    for i in range(1, r + 1):
        b = b * (c + i) // i
        if b > cap:
            return cap + 1
    return b


def _split(length: int, c: int) -> int:
    """How many trips to advance before the next snapshot, for `length` trips and c snapshots."""
    r = 0
    while _beta(c, r, length) < length:
        r += 1
    low = max(1, length - _beta(c - 1, r, length))
    high = min(length - 1, _beta(c, r - 1, length))
    return max(low, min(high, length - _beta(c - 1, r - 1, length)))


def _schedule(n: int, snapshots: int) -> np.ndarray:
    """Every action of the reversal of n trips, starting from a snapshot of trip 0's start."""
    rows = []
    work = [(_TREAT, 0, n, max(1, min(snapshots, n)))]
    at = 0                      # the trip whose start the state holds now (-1: unknown)
    while len(work) > 0:
        kind, start, end, c = work.pop()
        if kind == _DROP:
            rows.append((DROP, start, 0))
            continue
        length = end - start
        if length == 1 or c == 1:
            for j in range(end - 1, start - 1, -1):
                if at != start:
                    rows.append((RESTORE, start, 0))
                if j > start:
                    rows.append((ADVANCE, start, j))
                rows.append((REVERSE, j, 0))
                at = -1
            continue
        m = start + _split(length, c)
        if at != start:
            rows.append((RESTORE, start, 0))
        rows.append((ADVANCE, start, m))
        rows.append((SNAPSHOT, m, 0))
        at = m
        work.append((_TREAT, start, m, c))
        work.append((_DROP, m, 0, 0))
        work.append((_TREAT, m, end, c - 1))
    rows.append((DROP, 0, 0))
    out = np.zeros((len(rows), 3), dtype=np.int64)
    for i in range(len(rows)):
        out[i, 0], out[i, 1], out[i, 2] = rows[i]
    return out


def _first_reverse(table: np.ndarray) -> int:
    for i in range(table.shape[0]):
        if table[i, 0] == REVERSE:
            return i
    return table.shape[0]


def revolve_forward(n: int, snapshots: int) -> np.ndarray:
    """The trips before which the forward sweep takes a snapshot (trip 0 first), in order, then n:
    those of the schedule's actions before its first REVERSE (they only advance)."""
    if n <= 0:
        return np.zeros(1, dtype=np.int64)
    table = _schedule(n, snapshots)
    first = _first_reverse(table)
    count = 1
    for i in range(first):
        if table[i, 0] == SNAPSHOT:
            count += 1
    out = np.zeros(count + 1, dtype=np.int64)
    k = 1
    for i in range(first):
        if table[i, 0] == SNAPSHOT:
            out[k] = table[i, 1]
            k += 1
    out[count] = n
    return out


def revolve_reverse(n: int, snapshots: int) -> np.ndarray:
    """The actions of the reverse sweep, after the forward sweep ran all n trips and took the
    snapshots revolve_forward lists: back to the last of them, on to trip n - 1, and the rest of
    the schedule from its first REVERSE."""
    if n <= 0:
        return np.zeros((0, 3), dtype=np.int64)
    table = _schedule(n, snapshots)
    first = _first_reverse(table)
    last = 0
    for i in range(first):
        if table[i, 0] == SNAPSHOT:
            last = table[i, 1]
    head = 2 if last < n - 1 else 1
    out = np.zeros((head + table.shape[0] - first, 3), dtype=np.int64)
    out[0, 0], out[0, 1] = RESTORE, last
    if head == 2:
        out[1, 0], out[1, 1], out[1, 2] = ADVANCE, last, n - 1
    out[head:] = table[first:]
    return out


def checkpoint_snapshots(budget: float, state_bytes: float, tape_bytes: float, n: int) -> int:
    """How many snapshots a loop of n trips gets under a memory budget in bytes: 0 (record every
    trip as usual) when n trips of tape fit, else as many states as fit beside one trip's tape
    (at least 1)."""
    if n * tape_bytes <= budget:
        return 0
    room = budget - tape_bytes
    if state_bytes <= 0:
        return n
    return int(max(1.0, min(float(n), room // state_bytes)))
