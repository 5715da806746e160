"""Every reference model compiles with Numba (its default target) and computes there what the Python
target computes: one training step's loss and gradient on a small batch, both targets. The models'
training tests run on the Python target to keep the suite short; the CNN trains with Numba
(test_models_cnn.py), and the LSTM and transformer blocks are checked against central differences
with Numba in test_layers_sequence.py."""
import numpy as np
import pytest

from cotangent.models import autoencoder, deepsets, gan, graph, mlp, sequence, transformer


def _batch(name):
    rng = np.random.default_rng(0)
    if name == "mlp":
        return mlp.iris_mlp, (rng.normal(size=(8, 4)),), np.eye(3)[rng.integers(0, 3, 8)]
    if name == "rnn":
        x, m, y = sequence.palindrome_data(8)
        return (lambda target: sequence.build_model("rnn", target=target)), (x, m), np.eye(2)[y]
    if name == "graph":
        nodes, adj, mask, y = graph.graph_data(8)
        return graph.build_model, (nodes, adj, mask), np.eye(2)[y]
    if name == "deepsets":
        x, m, y = deepsets.max_data(8)
        return deepsets.build_model, (x, m), y
    if name == "autoencoder":
        x = rng.uniform(size=(8, 64))
        return autoencoder.autoencoder, (x,), x
    if name == "vae":
        x = rng.uniform(size=(8, 64))
        return (lambda target: autoencoder.vae(target=target).model), (x, rng.normal(size=(8, 8))), x
    if name == "gan":
        return (lambda target: gan.gan(target=target).discriminator), (rng.normal(size=(8, 2)),), \
            (np.arange(8) % 2)[:, None] * 1.0
    if name == "transformer":
        x, y = transformer.sort_data(4)
        return (lambda target: transformer.build_model(blocks=1, target=target)), (x,), y
    raise KeyError(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlp", "rnn", "graph", "deepsets", "autoencoder", "vae", "gan", "transformer"])
def test_numba_build_computes_what_the_python_target_computes(name):
    build, inputs, target = _batch(name)
    results = {}
    for t in ("cpu", "python"):
        model = build(target=t)
        step = model.loss_and_grad(inputs if len(inputs) > 1 else inputs[0], target,
                                   np.random.default_rng(1), update_state=False)
        results[t] = (step.loss, step.grad.copy())
    assert np.isfinite(results["cpu"][0])
    np.testing.assert_allclose(results["cpu"][0], results["python"][0], rtol=1e-10)
    np.testing.assert_allclose(results["cpu"][1], results["python"][1], rtol=1e-9, atol=1e-12)
