"""Convolution, pooling, normalization, dropout and embedding layers: each function's gradient in
reverse and forward mode against central differences (Python target, on two or more
configurations), its values against a plain NumPy reference, the layers' training and test modes,
their errors, and one small CNN compiled with Numba whose whole gradient is checked."""
import numpy as np
import pytest

import cotangent as ct
from cotangent import runtime as rt
from cotangent.runtime.layers.conv import conv1d, conv2d
from cotangent.runtime.layers.pool import max_pool1d, max_pool2d, avg_pool1d, avg_pool2d
from cotangent.runtime.layers.norm import batch_norm, batch_norm_inference, layer_norm
from cotangent.runtime.layers.dropout import dropout
from cotangent.runtime.layers.embedding import embedding


def py(f):
    return ct.differentiable(f, target="python")


# --- probes: a weighted sum of each function's output, so one gradient checks every output ----

def probe_conv1d(x, W, b, r, stride, left, right):
    return np.sum(r * conv1d(x, W, b, stride, left, right))


def probe_conv2d(x, W, b, r, sh, sw, top, bottom, left, right):
    return np.sum(r * conv2d(x, W, b, sh, sw, top, bottom, left, right))


def probe_max_pool1d(x, r, size, stride):
    return np.sum(r * max_pool1d(x, size, stride))


def probe_max_pool2d(x, r, size_h, size_w, stride_h, stride_w):
    return np.sum(r * max_pool2d(x, size_h, size_w, stride_h, stride_w))


def probe_avg_pool1d(x, r, size, stride):
    return np.sum(r * avg_pool1d(x, size, stride))


def probe_avg_pool2d(x, r, size_h, size_w, stride_h, stride_w):
    return np.sum(r * avg_pool2d(x, size_h, size_w, stride_h, stride_w))


def probe_batch_norm(x, gamma, beta, r, s, t):
    y, mu, var = batch_norm(x, gamma, beta, eps=1e-3)
    return np.sum(r * y) + np.sum(s * mu) + np.sum(t * var)


def probe_batch_norm_inference(x, gamma, beta, mean, var, r):
    return np.sum(r * batch_norm_inference(x, gamma, beta, mean, var, eps=1e-3))


def probe_layer_norm(x, gamma, beta, r):
    return np.sum(r * layer_norm(x, gamma, beta, eps=1e-3))


def probe_dropout(x, mask, r):
    return np.sum(r * dropout(x, mask))


def probe_embedding(table, ids, r):
    return np.sum(r * embedding(ids, table))


# --- NumPy references ---

def ref_conv2d(x, W, b, stride, pads):
    (sh, sw), ((top, bottom), (left, right)) = stride, pads
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw, _, c_out = W.shape
    oh, ow = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
    out = np.zeros((x.shape[0], oh, ow, c_out))
    for n in range(x.shape[0]):
        for i in range(oh):
            for j in range(ow):
                window = xp[n, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
                for o in range(c_out):
                    out[n, i, j, o] = np.sum(window * W[..., o]) + b[o]
    return out


def ref_pool2d(x, size, stride, reduce):
    oh, ow = (x.shape[1] - size[0]) // stride[0] + 1, (x.shape[2] - size[1]) // stride[1] + 1
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            window = x[:, i * stride[0]:i * stride[0] + size[0], j * stride[1]:j * stride[1] + size[1], :]
            out[:, i, j, :] = reduce(window, axis=(1, 2))
    return out


RNG = np.random.default_rng(0)


# --- convolutions ---

@pytest.mark.parametrize("n, length, c_in, c_out, k, stride, padding", [
    (2, 7, 3, 2, 3, 1, "valid"),
    (3, 8, 1, 4, 2, 3, 1),
    (2, 5, 2, 3, 4, 2, "same"),
])
def test_conv1d_gradient_and_values(n, length, c_in, c_out, k, stride, padding):
    layer = rt.Conv1D(c_out, k, stride=stride, padding=padding)
    layer.name = "conv1d_0"
    out_shape = layer.build((length, c_in))
    (left, right), = layer.pads
    x, W, b = RNG.normal(size=(n, length, c_in)), RNG.normal(size=(k, c_in, c_out)), RNG.normal(size=c_out)
    y = conv1d(x, W, b, stride, left, right)
    assert y.shape == (n, *out_shape)
    # a 1-D convolution is a 2-D one over an axis of length 1
    expected = ref_conv2d(x[:, :, None, :], W[:, None], b, (stride, 1), ((left, right), (0, 0)))[:, :, 0, :]
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    r = RNG.normal(size=y.shape)
    errors = ct.check_grad(py(probe_conv1d), x, W, b, r, stride, left, right, argnums=(0, 1, 2))
    assert max(errors.values()) < 1e-6


@pytest.mark.parametrize("n, hw, c_in, c_out, k, stride, padding", [
    (2, (5, 4), 3, 2, (3, 2), (2, 1), 1),
    (2, (6, 6), 2, 3, (3, 3), (1, 1), "same"),
    (1, (7, 5), 1, 2, (2, 3), (3, 2), "valid"),
    (2, (5, 5), 2, 2, (3, 3), (2, 2), "same"),          # stride 2 "same": uneven padding
])
def test_conv2d_gradient_and_values(n, hw, c_in, c_out, k, stride, padding):
    layer = rt.Conv2D(c_out, k, stride=stride, padding=padding)
    layer.name = "conv2d_0"
    out_shape = layer.build((*hw, c_in))
    x, W, b = RNG.normal(size=(n, *hw, c_in)), RNG.normal(size=(*k, c_in, c_out)), RNG.normal(size=c_out)
    pads = [p for pair in layer.pads for p in pair]
    y = conv2d(x, W, b, *stride, *pads)
    assert y.shape == (n, *out_shape)
    np.testing.assert_allclose(y, ref_conv2d(x, W, b, stride, layer.pads), rtol=1e-12, atol=1e-12)
    r = RNG.normal(size=y.shape)
    errors = ct.check_grad(py(probe_conv2d), x, W, b, r, *stride, *pads, argnums=(0, 1, 2))
    assert max(errors.values()) < 1e-6


def test_same_padding_follows_tensorflow():
    for size, stride, k, expected_out, expected_pads in [(6, 1, 3, 6, (1, 1)), (5, 2, 3, 3, (1, 1)),
                                                         (6, 2, 3, 3, (0, 1)), (7, 3, 4, 3, (1, 2))]:
        layer = rt.Conv1D(2, k, stride=stride, padding="same")
        assert layer.build((size, 1)) == (expected_out, 2)
        assert layer.pads == (expected_pads,)


# --- pooling ---

@pytest.mark.parametrize("shape, size, stride", [
    ((2, 6, 4, 3), (2, 2), None),
    ((2, 7, 5, 2), (3, 2), (2, 1)),                     # overlapping windows, leftover rows dropped
])
def test_pool2d_gradients_and_values(shape, size, stride):
    x = RNG.normal(size=shape)                          # distinct values: no ties at a maximum
    s = size if stride is None else stride
    for fn, probe, reduce, cls in ((max_pool2d, probe_max_pool2d, np.max, rt.MaxPool2D),
                                   (avg_pool2d, probe_avg_pool2d, np.mean, rt.AvgPool2D)):
        layer = cls(size, stride)
        y = fn(x, *size, *s)
        assert y.shape == (shape[0], *layer.build(shape[1:]))
        np.testing.assert_allclose(y, ref_pool2d(x, size, s, reduce), rtol=1e-12)
        r = RNG.normal(size=y.shape)
        assert ct.check_grad(py(probe), x, r, *size, *s, argnums=0)["x"] < 1e-6


@pytest.mark.parametrize("shape, size, stride", [((2, 8, 3), 2, None), ((3, 9, 2), 3, 2)])
def test_pool1d_gradients_and_values(shape, size, stride):
    x = RNG.normal(size=shape)
    s = size if stride is None else stride
    for fn, probe, reduce, cls in ((max_pool1d, probe_max_pool1d, np.max, rt.MaxPool1D),
                                   (avg_pool1d, probe_avg_pool1d, np.mean, rt.AvgPool1D)):
        y = fn(x, size, s)
        assert y.shape == (shape[0], *cls(size, stride).build(shape[1:]))
        expected = ref_pool2d(x[:, :, None, :], (size, 1), (s, 1), reduce)[:, :, 0, :]
        np.testing.assert_allclose(y, expected, rtol=1e-12)
        r = RNG.normal(size=y.shape)
        assert ct.check_grad(py(probe), x, r, size, s, argnums=0)["x"] < 1e-6


def test_max_pool_shares_the_gradient_of_a_tie():
    x = np.array([[[1.0], [3.0], [3.0], [0.0]]])        # one window holds two equal maxima
    g = ct.grad(py(probe_max_pool1d))(x, np.ones((1, 1, 1)), 4, 4)
    np.testing.assert_allclose(g[0, :, 0], [0.0, 0.5, 0.5, 0.0])


# --- normalization ---

@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 3, 2)])
def test_batch_norm_training_gradient_and_values(shape):
    x = RNG.normal(loc=2.0, scale=3.0, size=shape)
    c = shape[-1]
    gamma, beta = RNG.normal(size=c), RNG.normal(size=c)
    y, mu, var = batch_norm(x, gamma, beta, eps=1e-3)
    axes = tuple(range(len(shape) - 1))
    np.testing.assert_allclose(mu, x.mean(axis=axes), rtol=1e-12)
    np.testing.assert_allclose(var, x.var(axis=axes), rtol=1e-12)
    np.testing.assert_allclose(y, (x - x.mean(axis=axes)) / np.sqrt(x.var(axis=axes) + 1e-3) * gamma + beta,
                               rtol=1e-10, atol=1e-12)
    r, s, t = RNG.normal(size=shape), RNG.normal(size=c), RNG.normal(size=c)
    errors = ct.check_grad(py(probe_batch_norm), x, gamma, beta, r, s, t, argnums=(0, 1, 2))
    assert max(errors.values()) < 1e-6


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4, 3)])
def test_batch_norm_test_mode_gradient_and_values(shape):
    c = shape[-1]
    x, gamma, beta = RNG.normal(size=shape), RNG.normal(size=c), RNG.normal(size=c)
    mean, var = RNG.normal(size=c), RNG.uniform(0.5, 2.0, size=c)
    y = batch_norm_inference(x, gamma, beta, mean, var, eps=1e-3)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3) * gamma + beta, rtol=1e-12)
    r = RNG.normal(size=shape)
    errors = ct.check_grad(py(probe_batch_norm_inference), x, gamma, beta, mean, var, r, argnums=(0, 1, 2))
    assert max(errors.values()) < 1e-6


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 6)])
def test_layer_norm_gradient_and_values(shape):
    x = RNG.normal(loc=1.0, scale=2.0, size=shape)
    gamma, beta = RNG.normal(size=shape[-1]), RNG.normal(size=shape[-1])
    mu, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    np.testing.assert_allclose(layer_norm(x, gamma, beta, eps=1e-3),
                               (x - mu) / np.sqrt(var + 1e-3) * gamma + beta, rtol=1e-10, atol=1e-12)
    r = RNG.normal(size=shape)
    errors = ct.check_grad(py(probe_layer_norm), x, gamma, beta, r, argnums=(0, 1, 2))
    assert max(errors.values()) < 1e-6


def test_batch_norm_running_averages_move_to_the_data_and_test_mode_reads_them():
    model = rt.Sequential([rt.BatchNorm(momentum=0.5), rt.Dense(2)], loss="squared_error", input_shape=(3,),
                          target="python", name="bn_state")
    assert [s.regularize for s in model.params.specs] == [False, False, True, False]   # gamma, beta, W, b
    rng = np.random.default_rng(1)
    x = rng.normal(loc=[1.0, -2.0, 5.0], scale=[1.0, 0.5, 3.0], size=(400, 3))
    y = rng.normal(size=(400, 2))
    mean, var = model.state["batch_norm_0_mean"], model.state["batch_norm_0_var"]
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_array_equal(var, 1.0)
    far = np.abs(x.mean(axis=0) - mean).sum()
    step = model.loss_and_grad(x, y)
    np.testing.assert_allclose(mean, 0.5 * x.mean(axis=0), rtol=1e-12)                 # one step, momentum 0.5
    np.testing.assert_allclose(var, 0.5 + 0.5 * x.var(axis=0), rtol=1e-12)
    for _ in range(30):
        model.loss_and_grad(x, y)
    assert np.abs(x.mean(axis=0) - mean).sum() < 1e-6 * far
    np.testing.assert_allclose(var, x.var(axis=0), rtol=1e-6)
    # test mode normalizes with the running statistics, which now equal this batch's: same outputs
    np.testing.assert_allclose(model.predict(x), step.outputs, rtol=1e-6, atol=1e-8)
    model.state["batch_norm_0_mean"][...] = 0.0                      # and it does read them
    assert np.abs(model.predict(x) - step.outputs).max() > 0.1
    assert model.loss_and_grad(x, y, update_state=False).loss == pytest.approx(step.loss)


# --- dropout ---

def test_dropout_gradient_with_a_fixed_mask():
    layer = rt.Dropout(0.25)
    rng = np.random.default_rng(2)
    for shape in [(4, 5), (2, 3, 3, 2)]:
        x, r = rng.normal(size=shape), rng.normal(size=shape)
        mask = layer.draw_mask(rng, shape)
        np.testing.assert_array_equal(dropout(x, mask), x * mask)
        errors = ct.check_grad(py(probe_dropout), x, mask, r, argnums=0)
        assert errors["x"] < 1e-6
        np.testing.assert_array_equal(ct.grad(py(probe_dropout))(x, mask, r), r * mask)


def test_dropout_mask_keep_rate_scaling_and_seed():
    layer = rt.Dropout(0.3)
    mask = layer.draw_mask(np.random.default_rng(5), (200, 500))
    assert set(np.unique(mask)) == {0.0, 1.0 / 0.7}
    keep = np.mean(mask > 0)
    assert abs(keep - 0.7) < 4 * np.sqrt(0.7 * 0.3 / mask.size)
    assert mask.mean() == pytest.approx(1.0, abs=0.01)               # inverted: E[mask] = 1
    np.testing.assert_array_equal(mask, layer.draw_mask(np.random.default_rng(5), (200, 500)))
    assert not np.array_equal(mask, layer.draw_mask(np.random.default_rng(6), (200, 500)))


def test_dropout_is_the_identity_at_test_time_and_seeded_in_training():
    model = rt.Sequential([rt.Dropout(0.5), rt.Dense(3)], loss="squared_error", input_shape=(4,),
                          target="python", name="drop_mode")
    src = model.source()
    train_src, test_src = src.split("def drop_mode_loss")
    assert "dropout(x, dropout_0_mask)" in train_src and "dropout(" not in test_src
    x, y = np.random.default_rng(0).normal(size=(6, 4)), np.zeros((6, 3))
    W, b = model.params["dense_0_W"], model.params["dense_0_b"]
    np.testing.assert_allclose(model.predict(x), x @ W + b, rtol=1e-12)
    a = model.loss_and_grad(x, y, rng=np.random.default_rng(7))
    again = model.loss_and_grad(x, y, rng=np.random.default_rng(7))
    other = model.loss_and_grad(x, y, rng=np.random.default_rng(8))
    assert a.loss == again.loss and a.loss != other.loss
    np.testing.assert_array_equal(a.grad, again.grad)
    assert a.loss != pytest.approx(model.loss(x, y))


# --- embedding ---

@pytest.mark.parametrize("batch, steps, vocab, dim", [(2, 5, 4, 3), (3, 1, 6, 2)])
def test_embedding_gradient_and_values(batch, steps, vocab, dim):
    rng = np.random.default_rng(batch)
    table = rng.normal(size=(vocab, dim))
    ids = rng.integers(0, vocab, size=(batch, steps))
    ids[0, 0] = ids[-1, -1] = 1                        # a repeated id: its gradients add up
    y = embedding(ids, table)
    np.testing.assert_array_equal(y, table[ids])
    r = rng.normal(size=y.shape)
    assert ct.check_grad(py(probe_embedding), table, ids, r)["table"] < 1e-6
    expected = np.zeros_like(table)
    np.add.at(expected, ids, r)
    np.testing.assert_allclose(ct.grad(py(probe_embedding))(table, ids, r), expected, rtol=1e-12)


def test_embedding_model_takes_integer_ids():
    model = rt.Sequential([rt.Embedding(7, 3), rt.LayerNorm(), rt.Conv1D(2, 2, padding="same"),
                           rt.AvgPool1D(2), rt.Flatten(), rt.Dense(2)],
                          loss="softmax_cross_entropy", input_shape=(4,), target="python", name="emb")
    ids = np.array([[1, 2, 3, 1], [0, 6, 6, 5], [4, 4, 4, 4]])
    target = np.eye(2)[[0, 1, 1]]
    step = model.loss_and_grad(ids, target)
    assert step.outputs.shape == (3, 2) and step.grad.shape == model.params.data.shape
    assert ct.check_grad(py(model.train_fn), model.params.data, ids, target, argnums=0,
                         has_aux=True)["theta"] < 1e-6


# --- configuration errors name the layer ---

def test_bad_configurations_are_clear_errors():
    cases = [
        (lambda: rt.Sequential([rt.Conv2D(2, 5)], loss="squared_error", input_shape=(4, 6, 1)),
         r"conv2d_0: the kernel \(5\) is larger than the padded input \(4 \+ 0 padding\)"),
        (lambda: rt.Sequential([rt.Flatten(), rt.Conv2D(2, 3, padding=1)], loss="squared_error",
                               input_shape=(3, 3, 1)), r"conv2d_0: Conv2D takes samples of shape .*got shape \(9,\)"),
        (lambda: rt.Sequential([rt.Conv2D(2, 3)], loss="squared_error", input_shape=(8, 8)),
         r"conv2d_0: Conv2D takes samples of shape \(height, width, channels\), got shape \(8, 8\)"),
        (lambda: rt.Sequential([rt.Conv1D(2, 3), rt.Conv1D(2, 3, padding="full")], loss="squared_error",
                               input_shape=(8, 1)), r"conv1d_1: padding must be 'valid', 'same'"),
        (lambda: rt.Sequential([rt.MaxPool2D(3)], loss="squared_error", input_shape=(2, 5, 1)),
         r"max_pool2d_0: the pooling window \(3\) is larger than the input \(2\)"),
        (lambda: rt.Sequential([rt.AvgPool1D(2)], loss="squared_error", input_shape=(4, 4, 1)),
         r"avg_pool1d_0: AvgPool1D takes samples of shape \(length, channels\)"),
        (lambda: rt.Sequential([rt.Embedding(5, 2)], loss="squared_error", input_shape=(3, 2)),
         r"embedding_0: Embedding takes samples of token ids"),
        (lambda: rt.Conv2D(2, 0), r"Conv2D: kernel_size must be a positive int"),
        (lambda: rt.Conv1D(2, 3, stride=(1, 2)), r"Conv1D: stride must be a positive int"),
        (lambda: rt.MaxPool1D(2, stride=0), r"MaxPool1D: stride must be a positive int"),
        (lambda: rt.Dropout(1.0), r"Dropout: rate must be a number in \[0, 1\)"),
        (lambda: rt.BatchNorm(momentum=1.5), r"BatchNorm: momentum must be in \[0, 1\)"),
        (lambda: rt.LayerNorm(eps=0.0), r"LayerNorm: eps must be a positive number"),
        (lambda: rt.Embedding(0, 3), r"Embedding: vocab must be a positive int"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message):
            make()


# --- one CNN compiled with Numba ---

@pytest.fixture(scope="module")
def cnn():
    return rt.Sequential([rt.Conv2D(3, 3, stride=1, padding="same"), rt.ReLU(), rt.MaxPool2D(2),
                          rt.BatchNorm(momentum=0.8), rt.Flatten(), rt.Dropout(0.25), rt.Dense(3)],
                         loss="softmax_cross_entropy", input_shape=(6, 6, 2), name="cnn_test", l2=1e-3)


def test_cnn_compiled_with_numba_gradient_matches_central_differences(cnn):
    rng = np.random.default_rng(4)
    x, target = rng.normal(size=(5, 6, 6, 2)), np.eye(3)[[0, 1, 2, 1, 0]]
    before = {k: v.copy() for k, v in cnn.state.items()}
    step = cnn.loss_and_grad(x, target, rng=np.random.default_rng(11))
    assert "@numba.njit" in cnn.source("grad") and "theta_bar" in cnn.source("grad")
    # the same arguments the training step used: the state before it, and its dropout mask
    states = [before[a] for a in cnn._sig["train_state"]]
    noise = [spec.draw(np.random.default_rng(11), (5, *layer.input_shape)) for layer, spec, _ in cnn._sig["noise"]]
    train = py(cnn.train_fn)
    errors = ct.check_grad(train, cnn.params.data, x, target, *states, *noise, argnums=0, has_aux=True)
    assert errors["theta"] < 1e-6
    _, g = ct.value_and_grad(train, has_aux=True)(cnn.params.data, x, target, *states, *noise)
    np.testing.assert_allclose(step.grad, g, rtol=1e-9, atol=1e-12)
    value, *_ = cnn.train_fn(cnn.params.data, x, target, *states, *noise)
    assert step.loss == pytest.approx(value, rel=1e-12)
    # the training step moved the running statistics towards the batch's (momentum 0.8)
    pooled = max_pool2d(np.maximum(conv2d(x, cnn.params["conv2d_0_W"], cnn.params["conv2d_0_b"],
                                          1, 1, 1, 1, 1, 1), 0.0))
    np.testing.assert_allclose(cnn.state["batch_norm_0_mean"], 0.2 * pooled.mean(axis=(0, 1, 2)), rtol=1e-10)
    np.testing.assert_allclose(cnn.state["batch_norm_0_var"], 0.8 + 0.2 * pooled.var(axis=(0, 1, 2)),
                               rtol=1e-10)
    # test mode: running statistics and no dropout, compiled and as plain Python
    test_state = [cnn.state[a] for a in cnn._sig["test_state"]]
    assert cnn.loss(x, target) == pytest.approx(cnn.loss_fn(cnn.params.data, x, target, *test_state), rel=1e-12)
    np.testing.assert_allclose(cnn.predict(x), cnn.predict_fn(cnn.params.data, x, *test_state), rtol=1e-12)
