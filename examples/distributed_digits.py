"""An MLP on the 8x8 digits trained on Ray workers, `rt.fit(..., workers=N)`, for N from 1 to the
number of cores (at most 4): each worker computes the gradient of its shard of every batch of 256,
the workers sum their gradients and take the same Adam step. Prints, for each N, the throughput
once the workers have started, the test accuracy, and how far the weights are from training in
this process (rounding: about 1e-15); plots throughput against workers.

Starts a local Ray on this machine (or joins the cluster at $RAY_ADDRESS); needs
`pip install "cotangent[distributed,examples]"`.

    python examples/distributed_digits.py [--epochs 20] [--out out/distributed_digits]
"""
from __future__ import annotations

import os
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")       # one core per worker, and one for training in this process

import numpy as np  # noqa: E402

from cotangent import runtime as rt  # noqa: E402
from cotangent.distributed import cluster_cpus, connect  # noqa: E402
from cotangent.models import digits  # noqa: E402

from _common import pyplot, save, setup  # noqa: E402


def mlp(target: str) -> rt.Sequential:
    return rt.Sequential([rt.Dense(256, "relu", init="he_uniform"), rt.Dense(256, "relu", init="he_uniform"),
                          rt.Dense(10)], loss="softmax_cross_entropy", input_shape=(64,), name="digits_mlp",
                         seed=0, target=target)


def main() -> None:
    args = setup("distributed_digits", "The digits MLP trained on Ray workers", epochs=20)
    x, y, x_test, y_test = digits.split(*digits.load_digits())
    ray = connect(what="this example")
    counts = list(range(1, min(cluster_cpus(ray), 4) + 1))
    settings = dict(epochs=args.epochs, batch_size=256, seed=0)

    model = mlp(args.target)
    model.compile(x[:1], np.eye(10)[y[:1]], verbose=True)
    start = time.perf_counter()
    rt.fit(model, x, y, rt.Adam(lr=1e-3), progress=False, **settings)
    local_rate = len(y) * args.epochs / (time.perf_counter() - start)
    reference = model.params.data.copy()
    print(f"one process: {local_rate:,.0f} samples/s, test accuracy {rt.evaluate(model, x_test, y_test)['accuracy']:.4f}")

    rates = []
    for n in counts:
        model = mlp(args.target)
        history = rt.fit(model, x, y, rt.Adam(lr=1e-3), workers=n, **settings)
        rates.append(len(y) * args.epochs / history.distributed["train_seconds"])
        print(f"{n} worker{'s' * (n > 1)}: {rates[-1]:,.0f} samples/s "
              f"(x{rates[-1] / rates[0]:.2f} of one worker), all-reduce "
              f"{history.distributed['allreduce']}, test accuracy {rt.evaluate(model, x_test, y_test)['accuracy']:.4f}, "
              f"weights within {np.max(np.abs(model.params.data - reference)):.1e} of one process")

    fig, ax = pyplot().subplots(figsize=(5, 3.6))
    ax.plot(counts, rates, "o-", label="rt.fit(..., workers=N)")
    ax.plot(counts, [rates[0] * n for n in counts], ":", color="gray", label="N x one worker")
    ax.axhline(local_rate, color="black", linestyle="--", linewidth=1, label="one process")
    ax.set_xticks(counts)
    ax.set_xlabel("workers")
    ax.set_ylabel("samples per second")
    ax.set_title(f"MLP on the digits, batch 256, {os.cpu_count()} cores", fontsize=10)
    ax.legend(fontsize=8)
    save(fig, args.out / "distributed_digits_throughput.png")


if __name__ == "__main__":
    main()
