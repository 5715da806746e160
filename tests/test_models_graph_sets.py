"""Models over graphs, sets and sequences of tokens: the message-passing network tells ring-like
graphs from random ones (>= 90% test accuracy) whatever the node order; Deep Sets learn the
maximum of a set and give the same output for any order of its elements (to 1e-12); the
transformer encoder sorts digits (>= 95% of positions right). Trained on the Python target, to keep
the suite short (the models default to Numba, whose builds test_models_numba.py and
test_layers_sequence.py check); the slow tests run the examples end to end."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cotangent as ct
from cotangent.models import deepsets, graph, transformer

PY = "python"


@pytest.fixture(scope="module")
def graph_run():
    return graph.train(target=PY, progress=False)               # 1500 graphs, 10 epochs


@pytest.fixture(scope="module")
def sets_run():
    return deepsets.train(target=PY, progress=False)            # 3000 sets, 15 epochs


@pytest.fixture(scope="module")
def sort_run():
    return transformer.train(target=PY, progress=False)         # 2000 sequences, 5 epochs


# --- graphs --------------------------------------------------------------------------------------

def test_generated_graphs_are_simple_and_the_two_kinds_have_the_same_edge_counts():
    nodes, adjacency, node_mask, y = graph.graph_data(400, seed=5)
    assert adjacency.shape == (400, 16, 16) and np.mean(y) == 0.5
    np.testing.assert_array_equal(adjacency, adjacency.transpose(0, 2, 1))
    assert np.all(np.diagonal(adjacency, axis1=1, axis2=2) == 0) and set(np.unique(adjacency)) == {0.0, 1.0}
    assert np.all(adjacency * (1.0 - node_mask[:, :, None]) == 0) and np.all(nodes[:, :, 0] == node_mask)
    sizes = node_mask.sum(axis=1)
    assert sizes.min() >= 8 and sizes.max() <= 16
    edges_per_node = adjacency.sum(axis=(1, 2)) / 2 / sizes
    assert abs(edges_per_node[y == graph.RING].mean() - edges_per_node[y == graph.RANDOM].mean()) < 0.05
    rng = np.random.default_rng(0)
    ring = graph.ring_graph(12, rng, rewire=0.0)
    np.testing.assert_array_equal(ring.sum(axis=1), 4)                          # a ring lattice: degree 4
    assert graph.random_graph(12, 24, rng).sum() == 48


def test_graph_network_reaches_90_percent_test_accuracy(graph_run):
    h = graph_run.history
    assert graph_run.test_accuracy >= 0.90
    assert np.all(np.isfinite(h["loss"])) and h["loss"][-1] < 0.5 * h["loss"][0]


def test_graph_network_output_does_not_depend_on_the_node_order(graph_run):
    nodes, adjacency, node_mask, _ = graph_run.test_set
    rng = np.random.default_rng(2)
    relabeled = graph.permute_nodes(nodes, adjacency, node_mask, rng)
    assert not np.array_equal(relabeled[1], adjacency)
    out = graph_run.model.predict((nodes, adjacency, node_mask))
    np.testing.assert_allclose(graph_run.model.predict(relabeled), out, rtol=0, atol=1e-12)
    assert "graph_conv(nodes,adjacency,node_mask,graph_conv_0_W" in "".join(graph_run.model.source().split())
    assert "adjacency[g" in graph_run.model.source("grad")


# --- Deep Sets -----------------------------------------------------------------------------------

def test_deep_sets_learn_the_maximum_of_a_set(sets_run):
    h = sets_run.history
    assert np.all(np.isfinite(h["loss"])) and h["val_loss"][-1] < 0.2 * h["val_loss"][0]
    assert sets_run.test_mae < 0.5 * sets_run.baseline_mae            # measured: 0.05 against 0.13
    x, mask, y = sets_run.test_set
    assert np.all(y[:, 0] == np.max(np.where(mask > 0, x[:, :, 0], -1.0), axis=1))


@pytest.mark.parametrize("trained", [True, False], ids=["trained", "initial"])
def test_deep_sets_output_is_invariant_to_the_order_of_a_set(sets_run, trained):
    model = sets_run.model if trained else deepsets.build_model(seed=7, target=PY)
    x, mask, _ = sets_run.test_set
    out = model.predict((x, mask))
    rng = np.random.default_rng(3)
    for _ in range(3):
        shuffled = deepsets.permute_sets(x, mask, rng)
        assert not np.array_equal(shuffled[1], mask)
        np.testing.assert_allclose(model.predict(shuffled), out, rtol=0, atol=1e-12)
    assert np.std(out) > 1e-3             # the outputs differ between sets: invariance is not constancy


def pooled_sines(x, mask):
    return np.sum(np.sin(deepsets.masked_mean(x, mask)))


def test_set_pool_sums_or_averages_only_the_elements():
    x = np.arange(12.0).reshape((2, 3, 2))
    mask = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(deepsets.masked_sum(x, mask), [[2.0, 4.0], [6.0, 7.0]])
    np.testing.assert_array_equal(deepsets.masked_mean(x, mask), [[1.0, 2.0], [6.0, 7.0]])
    ct.check_grad(ct.differentiable(pooled_sines, target=PY), x, mask, argnums=0)
    with pytest.raises(ValueError, match="mode"):
        deepsets.SetPool("max")


# --- transformer ---------------------------------------------------------------------------------

def test_transformer_sorts_digits_at_95_percent_of_positions(sort_run):
    assert sort_run.position_accuracy >= 0.95              # measured: 0.97 (per sequence: 0.86)
    assert sort_run.sequence_accuracy >= 0.7
    h = sort_run.history
    assert np.all(np.isfinite(h["loss"])) and h["val_loss"][-1] < 0.3 * h["val_loss"][0]
    x, y = transformer.sort_data(50, seed=9)
    digits = np.argmax(x[:, :, :10], axis=2)
    np.testing.assert_array_equal(np.argmax(y, axis=2), np.sort(digits, axis=1))
    np.testing.assert_array_equal(x[:, :, 10:], np.broadcast_to(np.eye(6), (50, 6, 6)))


def test_transformer_attention_weights_and_gradient_source(sort_run):
    x, _ = sort_run.test_set
    weights = transformer.first_attention_weights(sort_run.model, x[0])
    assert weights.shape == (2, 6, 6) and np.allclose(weights.sum(axis=2), 1.0) and np.all(weights >= 0)
    grad = sort_run.model.source("grad")
    assert "def transformer_sort_train_grad(theta, x, target):" in grad
    assert "# adjoint of attention.py" in grad and "# adjoint of norm.py" in grad


def test_position_cross_entropy_is_the_mean_of_per_position_losses():
    rng = np.random.default_rng(0)
    logits, target = rng.normal(size=(3, 4, 5)), np.eye(5)[rng.integers(0, 5, size=(3, 4))]
    shifted = logits - logits.max(axis=2, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    assert transformer.position_cross_entropy(logits, target) == pytest.approx(-np.mean(np.sum(target * log_p, axis=2)))
    ct.check_grad(ct.differentiable(transformer.position_cross_entropy, target=PY), logits, target, argnums=0)


# --- the examples --------------------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SMALL_RUNS = [   # script, arguments of a short run, the plot it writes, a line it prints
    ("graph_network.py", ["--epochs", "1"], "graph_network.png", "relabeling the nodes"),
    ("deep_sets.py", ["--epochs", "1"], "deep_sets.png", "shuffling the elements"),
    ("transformer_sort.py", ["--epochs", "2"], "transformer_sort.png", "adjoint of attention"),
]


@pytest.mark.slow
@pytest.mark.parametrize("script,args,plot,line", SMALL_RUNS, ids=[s for s, *_ in SMALL_RUNS])
def test_example_runs_end_to_end_and_writes_its_plot(script, args, plot, line, tmp_path):
    pytest.importorskip("matplotlib")
    env = dict(os.environ, MPLBACKEND="Agg",
               COTANGENT_CACHE_DIR=os.environ.get("COTANGENT_CACHE_DIR", str(ct.config.cache_dir)))
    run = subprocess.run([sys.executable, str(EXAMPLES / script), "--out", str(tmp_path), "--target", PY, *args],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"writing plots to {tmp_path}" in run.stdout and line in run.stdout
    assert (tmp_path / plot).stat().st_size > 10_000
