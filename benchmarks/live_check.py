"""What following live definitions costs per call: the identity check that every compiled call
makes (that no function, global, closure or default it was generated from has changed), alone and
inside an XOR training step, and what a redefinition costs on the next call.

    python benchmarks/live_check.py

The XOR step is `model.loss_and_grad` of cotangent.models.mlp.xor_mlp on the four XOR corners:
the compiled gradient of a 2-8-2 tanh MLP with softmax cross-entropy, the smallest model of the
runtime, so the fixed per-call cost matters most there."""
from __future__ import annotations

import linecache
import statistics
import time

import numpy as np

import cotangent as ct
from cotangent.models import mlp, points


def per_call(fn, calls: int, repeats: int = 7) -> float:
    """Median over `repeats` of the mean seconds per call."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def xor_step() -> None:
    x, labels = points.xor()
    y = np.eye(2)[labels]
    model = mlp.xor_mlp()
    model.loss_and_grad(x, y)
    transform = model._value_and_grad._cotangent
    watch = transform.last.watch
    check = per_call(watch.holds, 200_000)
    step = per_call(lambda: model.loss_and_grad(x, y), 20_000)
    print(f"XOR step: {watch.names} names watched, check {check * 1e9:.0f} ns per call, "
          f"step {step * 1e6:.2f} us per call ({check / step:.1%} of it)")


def redefinition() -> None:
    """A helper redefined between calls: the first call after recompiles (or loads from the disk
    cache), an unchanged re-run of the cell only refreshes the identities."""
    ns: dict = {"np": np}

    def cell(src: str, name: str) -> None:
        linecache.cache[name] = (len(src), None, src.splitlines(True), name)
        exec(compile(src, name, "exec"), ns)

    helper = "def helper(x):\n    return {k} * x * x\n"
    cell(helper.format(k=1.0) + "\ndef f(x):\n    return np.sum(helper(x))\n", "<cell-1>")
    g = ct.grad(ns["f"])
    x = np.ones(3)
    g(x)
    cell(helper.format(k=1.0), "<cell-2>")            # re-run unchanged
    start = time.perf_counter()
    g(x)
    rerun = time.perf_counter() - start
    cell(helper.format(k=2.0), "<cell-3>")            # edited: new code
    start = time.perf_counter()
    g(x)
    edited = time.perf_counter() - start
    print(f"helper re-run unchanged: next call {rerun * 1e3:.2f} ms (source fingerprint only); "
          f"edited: next call {edited * 1e3:.0f} ms (generates, or loads from the disk cache)")


if __name__ == "__main__":
    xor_step()
    redefinition()
