"""A message-passing graph network (cotangent.models.graph) tells ring-like small-world graphs from
random graphs with the same numbers of nodes and edges. Prints the test accuracy, checks that
relabeling every graph's nodes leaves the outputs unchanged, prints the generated model source and
the adjoint of the message-passing loop; draws test graphs with the network's verdict, and the
learning curves.

    python examples/graph_network.py [--epochs 15] [--out out/graph_network] [--target cpu|python]
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from cotangent.models import graph

from _common import pyplot, reversed_loop, save, setup, training_source

N_TRAIN = 3000
KINDS = {graph.RING: "ring-like", graph.RANDOM: "random"}


def draw(ax, adjacency: np.ndarray, node_mask: np.ndarray, title: str) -> None:
    """A graph with its nodes on a circle in index order (the ring generator's order)."""
    n = int(node_mask.sum())
    angle = 2 * np.pi * np.arange(n) / n
    xy = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    for i, j in zip(*np.nonzero(np.triu(adjacency[:n, :n]))):
        ax.plot(*xy[[i, j]].T, "-", color="0.6", lw=0.8, zorder=1)
    ax.scatter(*xy.T, s=28, color="C0", zorder=2)
    ax.set_title(title, fontsize=9)
    ax.set_aspect("equal")
    ax.axis("off")


def plot(run: graph.GraphRun, path: Path) -> None:
    plt = pyplot()
    fig = plt.figure(figsize=(13, 5.2))
    grid = fig.add_gridspec(2, 5)
    nodes, adjacency, node_mask, y = run.test_set
    logits = run.model.predict((nodes[:8], adjacency[:8], node_mask[:8]))
    p_random = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
    picks = [g for label in (graph.RING, graph.RANDOM) for g in np.flatnonzero(y[:8] == label)[:3]]
    for k, g in enumerate(picks):
        draw(fig.add_subplot(grid[k // 3, k % 3]), adjacency[g], node_mask[g],
             f"{KINDS[y[g]]}: P(random) = {p_random[g]:.2f}")
    h = run.history
    ax = fig.add_subplot(grid[:, 3:])
    ax.plot(h["epoch"], h["loss"], "-", label="training loss")
    ax.plot(h["epoch"], h["val_loss"], "--", label="test loss")
    ax.plot(h["epoch"], h["val_accuracy"], "-o", ms=3, label=f"test accuracy ({run.test_accuracy:.1%})")
    ax.axhline(0.9, color="gray", lw=0.8, ls=":")
    ax.set(xlabel="epoch", title="Learning curves", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle("Message passing on graphs with 8-16 nodes: ring-like (Watts-Strogatz) or random (same edge count)")
    save(fig, path)


def main() -> None:
    args = setup("graph_network", "A message-passing graph network on generated graphs", epochs=15)
    start = time.perf_counter()
    run = graph.train(n_train=N_TRAIN, epochs=args.epochs, target=args.target)
    print(f"test accuracy {run.test_accuracy:.4f}; trained in {run.seconds:.1f} s "
          f"({time.perf_counter() - start:.1f} s with data)")

    nodes, adjacency, node_mask, y = run.test_set
    outputs = run.model.predict((nodes, adjacency, node_mask))
    relabeled = run.model.predict(graph.permute_nodes(nodes, adjacency, node_mask, np.random.default_rng(1)))
    print(f"relabeling the nodes of all {len(y)} test graphs changes the logits by at most "
          f"{np.max(np.abs(relabeled - outputs)):.1e}")

    print(f"\n{run.model.describe()}")
    print("\nThe generated model source (training function):\n")
    print(training_source(run.model))
    print("\nIn the generated gradient, the adjoint of one round of message passing, graph by graph:\n")
    print(reversed_loop(run.model.source("grad"), "g"))
    plot(run, args.out / "graph_network.png")


if __name__ == "__main__":
    main()
