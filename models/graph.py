"""A message-passing graph network (Gilmer et al., 2017) that tells which of two generators made
a graph: a ring-like small world (Watts & Strogatz, 1998) or a random graph with as many edges
(Erdos & Renyi). Both have the same mean degree, so the network must look at how edges are laid
out around each node, not at how many there are.

A batch of graphs with up to 16 nodes is padded to 16: node features (batch, 16, features), the
adjacency matrices (batch, 16, 16), and a node mask (batch, 16) that is 1.0 at real nodes. One
round of message passing sums the neighbours' states (A h, one matrix product per graph) and
updates every node with shared weights,

    h_v <- relu(sum over neighbours u of h_u W + h_v U + b)         (padded nodes reset to 0)

so after k rounds a node's state depends on its k-hop neighbourhood. The graph's vector is the
mean of its nodes' states (Deep Sets' masked pooling over the node set), and a small MLP
classifies it. The sum (not the mean) of messages keeps degrees visible: every node starts from
the same feature, 1.0, and its first message is its degree."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cotangent import runtime as rt
from cotangent.runtime import initializers
from cotangent.runtime.layers.base import Emitter, Layer
from cotangent.runtime.params import ParamSpec

from .deepsets import SetPool
from .fitting import fit_cosine

MAX_NODES = 16
RING, RANDOM = 0, 1


def graph_conv(h, adjacency, node_mask, W, U, b):
    """One round of message passing: h (batch, nodes, F) -> (batch, nodes, units). Row v of
    adjacency[g] @ h[g] is the sum of the states of v's neighbours in graph g."""
    n, v, f = h.shape
    messages = np.zeros((n, v, f))
    for g in range(n):
        messages[g] = adjacency[g] @ h[g]
    rows = messages.reshape((n * v, f)) @ W + h.reshape((n * v, f)) @ U + b
    return np.maximum(rows, 0.0).reshape((n, v, W.shape[1])) * node_mask[:, :, None]


class GraphConv(Layer):
    """Message passing over the model inputs `adjacency` (batch, nodes, nodes) and `node_mask`
    (batch, nodes); samples are node states (nodes, features)."""

    kind = "graph_conv"

    def __init__(self, units: int, adjacency: str = "adjacency", node_mask: str = "node_mask",
                 init: str = "glorot_uniform"):
        super().__init__()
        self.units = int(units)
        self.adjacency, self.node_mask = adjacency, node_mask
        self.init = initializers.get(init)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{self.name}: GraphConv takes node states (nodes, features), got {input_shape}")
        return (input_shape[0], self.units)

    def param_specs(self):
        f = self.input_shape[1]
        return [ParamSpec("W", (f, self.units), self.init), ParamSpec("U", (f, self.units), self.init),
                ParamSpec("b", (self.units,), initializers.get("zeros"), regularize=False)]

    def emit(self, e: Emitter, x: str) -> str:
        args = [x, e.input(self.adjacency), e.input(self.node_mask)] + [e.param(self, p) for p in "WUb"]
        return e.call(graph_conv, args, self.name, f"{self.input_shape[1]} -> {self.units}, messages A h")

    def describe(self):
        return f"GraphConv({self.units})"


def ring_graph(n: int, rng: np.random.Generator, rewire: float = 0.1) -> np.ndarray:
    """Watts-Strogatz: a ring where each node links to the two nearest nodes on either side, each
    link's far end moved to a random node with probability `rewire`. Adjacency (n, n)."""
    a = np.zeros((n, n))
    for i in range(n):
        for step in (1, 2):
            j = (i + step) % n
            if rng.random() < rewire:
                free = np.flatnonzero((a[i] == 0) & (np.arange(n) != i))
                j = rng.choice(free)
            a[i, j] = a[j, i] = 1.0
    return a


def random_graph(n: int, edges: int, rng: np.random.Generator) -> np.ndarray:
    """Erdos-Renyi G(n, m): `edges` links between distinct pairs drawn uniformly. Adjacency (n, n)."""
    rows, cols = np.triu_indices(n, k=1)
    pick = rng.choice(len(rows), size=edges, replace=False)
    a = np.zeros((n, n))
    a[rows[pick], cols[pick]] = 1.0
    return a + a.T


def graph_data(n_graphs: int, max_nodes: int = MAX_NODES, min_nodes: int = 8, rewire: float = 0.1,
               seed: int = 0):
    """Half ring-like graphs (label 0), half random graphs with the same number of nodes and edges
    (label 1), with 8..16 nodes: node features (n, max_nodes, 1) (1.0 at real nodes), adjacency
    (n, max_nodes, max_nodes), node mask (n, max_nodes), labels (n,)."""
    rng = np.random.default_rng(seed)
    adjacency = np.zeros((n_graphs, max_nodes, max_nodes))
    node_mask = np.zeros((n_graphs, max_nodes))
    y = np.arange(n_graphs) % 2
    for g in range(n_graphs):
        n = rng.integers(min_nodes, max_nodes + 1)
        a = ring_graph(n, rng, rewire)
        if y[g] == RANDOM:
            a = random_graph(n, int(a.sum()) // 2, rng)
        adjacency[g, :n, :n] = a
        node_mask[g, :n] = 1.0
    return node_mask[:, :, None].copy(), adjacency, node_mask, y


def permute_nodes(nodes: np.ndarray, adjacency: np.ndarray, node_mask: np.ndarray, rng: np.random.Generator):
    """The same graphs with their node slots (padding included) in a fresh random order: a
    relabeling that must not change what the network says about a graph."""
    order = np.argsort(rng.random(node_mask.shape), axis=1)
    rows = np.take_along_axis(adjacency, order[:, :, None], axis=1)
    return (np.take_along_axis(nodes, order[:, :, None], axis=1),
            np.take_along_axis(rows, order[:, None, :], axis=2), np.take_along_axis(node_mask, order, axis=1))


def build_model(units: int = 32, rounds: int = 3, max_nodes: int = MAX_NODES, seed: int = 0,
                target: str = "cpu") -> rt.Sequential:
    """`rounds` of message passing, a mean over each graph's nodes, and an MLP with two logits."""
    layers = [GraphConv(units) for _ in range(rounds)]
    layers += [SetPool("mean", mask="node_mask"), rt.Dense(units, "relu"), rt.Dense(2)]
    return rt.Sequential(layers, loss="softmax_cross_entropy", input_shape=(max_nodes, 1),
                         inputs=("nodes", "adjacency", "node_mask"), name="graph_network", seed=seed,
                         target=target)


@dataclass
class GraphRun:
    """A trained model, its history (with validation on the test graphs), and its test accuracy."""
    model: rt.Sequential
    history: rt.History
    test_accuracy: float
    seconds: float              # rt.fit's time, compiling (or loading compiled code) included
    test_set: tuple             # (nodes, adjacency, node_mask, y) of the test graphs


def train(n_train: int = 1500, n_test: int = 1000, epochs: int = 10, units: int = 32, rounds: int = 3,
          lr: float = 3e-3, batch_size: int = 64, seed: int = 0, target: str = "cpu",
          progress: bool = True) -> GraphRun:
    """Train on generated graphs (Adam, cosine-decayed learning rate); the defaults are the small
    configuration the tests use."""
    train_set = graph_data(n_train, seed=seed)
    *test_inputs, y_test = graph_data(n_test, seed=seed + 1000)
    *inputs, y = train_set
    model = build_model(units, rounds, seed=seed, target=target)
    history, seconds = fit_cosine(model, tuple(inputs), y, (tuple(test_inputs), y_test), epochs, lr, batch_size,
                                  seed, progress)
    accuracy = rt.evaluate(model, tuple(test_inputs), y_test)["accuracy"]
    return GraphRun(model, history, accuracy, seconds, (*test_inputs, y_test))
