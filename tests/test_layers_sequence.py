"""Sequence layers: SimpleRNN, LSTM and GRU over padded sequences with a mask, scaled dot-product and
multi-head attention, Residual blocks, and Dense at every position of a sequence.

Each function's gradient is checked in both modes against central differences (on the Python
target: Numba compiles take seconds), and its values against a plain NumPy reference written
differently (a per-sequence loop that stops at the sequence's length, attention over the allowed
keys only). Two small models are compiled with Numba and their gradients checked as a whole."""
import numpy as np
import pytest

import cotangent as ct
from cotangent import runtime as rt
from cotangent.runtime.layers.attention import attention_bias, multi_head_attention, scaled_dot_product_attention
from cotangent.runtime.layers.dense import dense_positions
from cotangent.runtime.layers.recurrent import (gru, gru_sequence, lstm, lstm_sequence, simple_rnn,
                                                simple_rnn_sequence)


def py(f):
    return ct.differentiable(f, target="python")


def mask_of(lengths, T):
    return (np.arange(T)[None, :] < np.asarray(lengths)[:, None]).astype(np.float64)


# --- recurrent layers ---------------------------------------------------------------------------

def rnn_loss(x, mask, Wx, Wh, b, R, r):
    return np.sum(simple_rnn_sequence(x, mask, Wx, Wh, b) * R) + np.sum(simple_rnn(x, mask, Wx, Wh, b) * r)


def lstm_loss(x, mask, Wx, Wh, b, R, r):
    return np.sum(lstm_sequence(x, mask, Wx, Wh, b) * R) + np.sum(lstm(x, mask, Wx, Wh, b) * r)


def gru_loss(x, mask, Wx, Wh, b, R, r):
    return np.sum(gru_sequence(x, mask, Wx, Wh, b) * R) + np.sum(gru(x, mask, Wx, Wh, b) * r)


def rnn_final(x, mask, Wx, Wh, b, r):
    return np.sum(simple_rnn(x, mask, Wx, Wh, b) * r)


def lstm_final(x, mask, Wx, Wh, b, r):
    return np.sum(lstm(x, mask, Wx, Wh, b) * r)


def gru_final(x, mask, Wx, Wh, b, r):
    return np.sum(gru(x, mask, Wx, Wh, b) * r)


CELLS = {  # name: (gates, sequence function, final-state function, loss of both, loss of the final state)
    "rnn": (1, simple_rnn_sequence, simple_rnn, rnn_loss, rnn_final),
    "lstm": (4, lstm_sequence, lstm, lstm_loss, lstm_final),
    "gru": (3, gru_sequence, gru, gru_loss, gru_final),
}


def logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


def reference_step(kind, x_t, h, c, Wx, Wh, b):
    """One step on one sequence's vectors, each gate's weights split out by hand."""
    if kind == "rnn":
        return np.tanh(x_t @ Wx + h @ Wh + b), c
    if kind == "lstm":
        (Wi, Wf, Wo, Wg), (Ui, Uf, Uo, Ug) = np.split(Wx, 4, axis=1), np.split(Wh, 4, axis=1)
        bi, bf, bo, bg = np.split(b, 4)
        i, f = logistic(x_t @ Wi + h @ Ui + bi), logistic(x_t @ Wf + h @ Uf + bf)
        o, g = logistic(x_t @ Wo + h @ Uo + bo), np.tanh(x_t @ Wg + h @ Ug + bg)
        c = f * c + i * g
        return o * np.tanh(c), c
    (Wz, Wr, Wn), (Uz, Ur, Un), (bz, br, bn) = np.split(Wx, 3, axis=1), np.split(Wh, 3, axis=1), np.split(b, 3)
    z, r = logistic(x_t @ Wz + h @ Uz + bz), logistic(x_t @ Wr + h @ Ur + br)
    n = np.tanh(x_t @ Wn + (r * h) @ Un + bn)
    return z * h + (1.0 - z) * n, c


def reference_states(kind, x, lengths, Wx, Wh, b):
    """Each sequence run alone for its own length; after it, its last state repeats."""
    N, T, _ = x.shape
    H = Wh.shape[0]
    out = np.zeros((N, T, H))
    for s in range(N):
        h = c = np.zeros(H)
        for t in range(lengths[s]):
            h, c = reference_step(kind, x[s, t], h, c, Wx, Wh, b)
            out[s, t] = h
        out[s, lengths[s]:] = h
    return out


def cell_args(kind, N, T, F, H, seed):
    rng = np.random.default_rng(seed)
    G = CELLS[kind][0] * H
    x = rng.normal(size=(N, T, F))
    Wx, Wh, b = rng.normal(scale=0.6, size=(F, G)), rng.normal(scale=0.6, size=(H, G)), rng.normal(scale=0.3, size=G)
    return x, Wx, Wh, b, rng.normal(size=(N, T, H)), rng.normal(size=(N, H))


SHAPES = [  # (N, T, F, H, lengths)
    (3, 4, 2, 3, [4, 2, 1]),
    (4, 5, 3, 2, [5, 3, 0, 1]),
]


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("N, T, F, H, lengths", SHAPES)
def test_recurrent_values_and_gradients(kind, N, T, F, H, lengths):
    _, seq_fn, final_fn, loss, _ = CELLS[kind]
    x, Wx, Wh, b, R, r = cell_args(kind, N, T, F, H, seed=N * 10 + T)
    mask = mask_of(lengths, T)
    expected = reference_states(kind, x, lengths, Wx, Wh, b)
    np.testing.assert_allclose(seq_fn(x, mask, Wx, Wh, b), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(final_fn(x, mask, Wx, Wh, b), expected[:, -1], rtol=1e-12, atol=1e-14)
    errors = ct.check_grad(py(loss), x, mask, Wx, Wh, b, R, r, argnums=(0, 2, 3, 4))
    assert max(errors.values()) < 1e-6
    dx = ct.grad(py(loss))(x, mask, Wx, Wh, b, R, r)
    assert np.all(dx[mask == 0.0] == 0.0)             # padded steps do not reach the output


@pytest.mark.parametrize("kind", CELLS)
def test_padding_changes_neither_the_final_state_nor_the_gradient(kind):
    """The same sequence (length 3) alone and unpadded, and in a batch padded to 7 steps with
    garbage after its end: the same final state, the same gradient with respect to the weights."""
    _, _, final_fn, _, final_loss = CELLS[kind]
    x, Wx, Wh, b, _, r = cell_args(kind, 3, 7, 2, 3, seed=5)
    short = x[1:2, :3].copy()
    alone = (short, np.ones((1, 3)), Wx, Wh, b, r[1:2])
    padded = (x, mask_of([7, 3, 5], 7), Wx, Wh, b, r * np.array([[0.0], [1.0], [0.0]]))
    np.testing.assert_allclose(final_fn(*padded[:5])[1], final_fn(*alone[:5])[0], rtol=1e-13)
    grad = ct.grad(py(final_loss), argnums=(2, 3, 4))
    for g_alone, g_padded in zip(grad(*alone), grad(*padded)):
        np.testing.assert_allclose(g_padded, g_alone, rtol=1e-11, atol=1e-14)
    x2 = x.copy()
    x2[1, 3:] = 1e3                                   # other (finite) padding, another batch length
    other = (x2[:, :5], mask_of([5, 3, 5], 5), Wx, Wh, b, padded[5])
    for g_other, g_alone in zip(grad(*other), grad(*alone)):
        np.testing.assert_allclose(g_other, g_alone, rtol=1e-11, atol=1e-14)


def test_recurrent_layers_allocate_their_weights_and_read_the_mask():
    lstm_layer = rt.LSTM(4, return_sequences=True)
    model = rt.Sequential([lstm_layer, rt.GRU(3, mask=None), rt.Dense(2)], loss="squared_error",
                          input_shape=(5, 2), inputs=("x", "mask"), target="python", seed=1)
    p = model.params
    assert p["lstm_0_Wx"].shape == (2, 16) and p["lstm_0_Wh"].shape == (4, 16) and p["gru_0_Wh"].shape == (3, 9)
    np.testing.assert_array_equal(p["lstm_0_b"], [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    for j in range(4):                                # orthogonal gate by gate
        block = p["lstm_0_Wh"][:, 4 * j:4 * j + 4]
        np.testing.assert_allclose(block.T @ block, np.eye(4), atol=1e-12)
    src = model.source()
    assert "lstm_0 = lstm_sequence(x, mask, lstm_0_Wx, lstm_0_Wh, lstm_0_b)" in src
    assert "gru_0_mask = full_mask(lstm_0)" in src and "gru(lstm_0, gru_0_mask," in src
    assert [layer.output_shape for layer in model.layers] == [(5, 4), (3,), (2,)]
    with pytest.raises(ValueError, match=r"rnn_0: the model has no input 'mask'.*mask=None"):
        rt.Sequential([rt.SimpleRNN(3)], loss="squared_error", input_shape=(4, 2))
    with pytest.raises(ValueError, match=r"rnn_0: SimpleRNN takes sequences"):
        rt.Sequential([rt.SimpleRNN(3, mask=None)], loss="squared_error", input_shape=(4,))


# --- attention ----------------------------------------------------------------------------------

def attention_loss(q, k, v, bias, R):
    return np.sum(scaled_dot_product_attention(q, k, v, bias) * R)


def attention_loss_unmasked(q, k, v, R):
    return np.sum(scaled_dot_product_attention(q, k, v) * R)


def mha_loss(x, bias, Wq, bq, Wk, bk, Wv, bv, Wo, bo, R):
    return np.sum(multi_head_attention(x, bias, Wq, bq, Wk, bk, Wv, bv, Wo, bo) * R)


def reference_attention(q, k, v, allowed):
    """Each query's softmax over the keys it may see, by explicit loops."""
    out = np.zeros((q.shape[0], v.shape[1]))
    for t in range(q.shape[0]):
        keys = [s for s in range(k.shape[0]) if allowed[t, s]]
        scores = np.array([q[t] @ k[s] for s in keys]) / np.sqrt(q.shape[1])
        weights = np.exp(scores - scores.max())
        weights /= weights.sum()
        out[t] = sum(w * v[s] for w, s in zip(weights, keys))
    return out


@pytest.mark.parametrize("Tq, Tk, d, dv", [(3, 4, 2, 3), (5, 2, 4, 1)])
def test_scaled_dot_product_attention(Tq, Tk, d, dv):
    rng = np.random.default_rng(Tq)
    q, k = rng.normal(size=(Tq, d)), rng.normal(size=(Tk, d))
    v, R = rng.normal(size=(Tk, dv)), rng.normal(size=(Tq, dv))
    allowed = rng.random((Tq, Tk)) < 0.7
    allowed[:, 0] = True
    bias = np.where(allowed, 0.0, -1e9)
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v, bias), reference_attention(q, k, v, allowed),
                               rtol=1e-12)
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v),
                               reference_attention(q, k, v, np.ones((Tq, Tk), bool)), rtol=1e-12)
    assert max(ct.check_grad(py(attention_loss), q, k, v, bias, R, argnums=(0, 1, 2)).values()) < 1e-6
    assert max(ct.check_grad(py(attention_loss_unmasked), q, k, v, R, argnums=(0, 1, 2)).values()) < 1e-6


def test_attention_bias_masks_padding_and_the_future():
    mask = mask_of([3, 2], 3)
    bias = attention_bias(mask, causal=True)
    allowed = np.array([[[1, 0, 0], [1, 1, 0], [1, 1, 1]], [[1, 0, 0], [1, 1, 0], [1, 1, 0]]], bool)
    np.testing.assert_array_equal(bias, np.where(allowed, 0.0, -1e9))
    np.testing.assert_array_equal(attention_bias(mask), np.where(mask[:, None, :] > 0, 0.0, -1e9).repeat(3, 1))


def mha_params(heads, d, dk, out, rng):
    shapes = [(heads, d, dk), (heads, dk)] * 3 + [(heads, dk, out), (out,)]
    return [rng.normal(scale=0.5, size=s) for s in shapes]


def reference_mha(x, allowed, params):
    """Each sequence alone: the heads side by side, then one output matrix."""
    Wq, bq, Wk, bk, Wv, bv, Wo, bo = params
    heads = []
    for i in range(x.shape[0]):
        one = [reference_attention(x[i] @ Wq[j] + bq[j], x[i] @ Wk[j] + bk[j], x[i] @ Wv[j] + bv[j], allowed[i])
               for j in range(Wq.shape[0])]
        heads.append(np.hstack(one))
    return np.stack(heads) @ Wo.reshape((-1, Wo.shape[2])) + bo


@pytest.mark.parametrize("N, T, d, dk, heads, causal, lengths", [
    (2, 3, 4, 2, 2, True, [3, 2]),
    (3, 4, 3, 2, 1, False, [4, 1, 2]),
])
def test_multi_head_attention(N, T, d, dk, heads, causal, lengths):
    rng = np.random.default_rng(T)
    x = rng.normal(size=(N, T, d))
    params = mha_params(heads, d, dk, 3, rng)
    mask = mask_of(lengths, T)
    bias = attention_bias(mask, causal=causal)
    allowed = bias == 0.0
    out = multi_head_attention(x, bias, *params)
    np.testing.assert_allclose(out, reference_mha(x, allowed, params), rtol=1e-12, atol=1e-14)
    R = rng.normal(size=out.shape)
    errors = ct.check_grad(py(mha_loss), x, bias, *params, R, argnums=(0, 2, 3, 4, 5, 6, 7, 8, 9))
    assert max(errors.values()) < 1e-6
    # a padded position's values do not reach the valid positions
    x2 = x.copy()
    x2[mask == 0.0] = 7.0
    out2 = multi_head_attention(x2, bias, *params)
    np.testing.assert_allclose(out2[mask > 0], out[mask > 0], rtol=1e-12)


def test_attention_layer_shapes_scale_and_outputs():
    layer = rt.MultiHeadAttention(3, key_dim=2, output_dim=5, mask="mask")
    model = rt.Sequential([layer], loss="squared_error", input_shape=(4, 6), inputs=("x", "mask"),
                          target="python", seed=3)
    p = model.params
    assert [p[f"attention_0_{n}"].shape for n in ("Wq", "bq", "Wv", "Wo", "bo")] == \
        [(3, 6, 2), (3, 2), (3, 6, 2), (3, 2, 5), (5,)]
    assert np.abs(p["attention_0_Wq"]).max() <= np.sqrt(6.0 / (6 + 3 * 2))     # Glorot of (6, 3 * 2)
    assert np.abs(p["attention_0_Wo"]).max() <= np.sqrt(6.0 / (3 * 2 + 5))
    assert layer.output_shape == (4, 5) and "attention_0_bias = attention_bias(mask, causal=False)" in model.source()
    rng = np.random.default_rng(4)
    x, mask = rng.normal(size=(2, 4, 6)), mask_of([4, 2], 4)
    params = [p[f"attention_0_{w}{n}"] for n in "qkvo" for w in "Wb"]
    allowed = np.broadcast_to(mask[:, None, :] > 0, (2, 4, 4))
    np.testing.assert_allclose(model.predict((x, mask)), reference_mha(x, allowed, params), rtol=1e-12)
    with pytest.raises(ValueError, match="attention_0: d_model 6 is not a multiple of num_heads 4"):
        rt.Sequential([rt.MultiHeadAttention(4)], loss="squared_error", input_shape=(4, 6))


# --- Dense on sequences, Residual ---------------------------------------------------------------

def dense_positions_loss(x, W, b, R):
    return np.sum(dense_positions(x, W, b) * R)


@pytest.mark.parametrize("N, T, F, U", [(2, 3, 4, 2), (3, 1, 2, 5)])
def test_dense_at_every_position(N, T, F, U):
    rng = np.random.default_rng(F)
    x, W, b, R = rng.normal(size=(N, T, F)), rng.normal(size=(F, U)), rng.normal(size=U), rng.normal(size=(N, T, U))
    np.testing.assert_allclose(dense_positions(x, W, b), np.einsum("ntf,fu->ntu", x, W) + b, rtol=1e-12)
    assert max(ct.check_grad(py(dense_positions_loss), x, W, b, R).values()) < 1e-6


def test_residual_blocks_write_their_layers_into_the_model():
    block = rt.Residual([rt.Dense(6, "relu"), rt.Dense(3)])
    model = rt.Sequential([rt.Dense(3), block, rt.Dense(2)], loss="squared_error", input_shape=(4, 2),
                          target="python", seed=2)
    assert set(model.params.offsets) == {f"dense_{i}_{p}" for i in range(4) for p in "Wb"}
    assert model.layers[1].output_shape == (4, 3) and model.output_shape == (4, 2)
    src = model.source()
    assert "dense_1 = dense_positions(dense_0, dense_1_W, dense_1_b)" in src
    assert "residual_0 = dense_0 + dense_2  # residual_0: x + block(x)" in src
    rng = np.random.default_rng(0)
    x, target = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    p = model.params
    h = x @ p["dense_0_W"] + p["dense_0_b"]
    h = h + np.maximum(h @ p["dense_1_W"] + p["dense_1_b"], 0.0) @ p["dense_2_W"] + p["dense_2_b"]
    np.testing.assert_allclose(model.predict(x), h @ p["dense_3_W"] + p["dense_3_b"], rtol=1e-12)
    assert ct.check_grad(py(model.train_fn), p.data, x, target, argnums=0, has_aux=True)["theta"] < 1e-6
    with pytest.raises(ValueError, match=r"residual_0: its block maps samples of shape \(4, 3\) to \(4, 5\)"):
        rt.Sequential([rt.Dense(3), rt.Residual([rt.Dense(5)])], loss="squared_error", input_shape=(4, 2))


# --- whole models compiled with Numba -----------------------------------------------------------

def check_model(model, inputs, target):
    """The compiled (Numba) gradient of a training step equals the Python target's gradient, which
    agrees with central differences and with forward mode."""
    step = model.loss_and_grad(inputs, target)
    theta = model.params.data
    errors = ct.check_grad(py(model.train_fn), theta, *inputs, target, argnums=0, has_aux=True)
    assert errors["theta"] < 1e-6
    _, g = ct.value_and_grad(py(model.train_fn), has_aux=True)(theta, *inputs, target)
    np.testing.assert_allclose(step.grad, g, rtol=1e-10, atol=1e-13)
    return step


def test_lstm_classifier_compiled_with_numba():
    rng = np.random.default_rng(0)
    N, T, F = 4, 5, 3
    lengths = [5, 2, 4, 1]
    x, mask = rng.normal(size=(N, T, F)), mask_of(lengths, T)
    x[mask == 0.0] = 0.0
    target = np.eye(3)[[0, 2, 1, 2]]
    model = rt.Sequential([rt.LSTM(5), rt.Dense(3)], loss="softmax_cross_entropy", input_shape=(T, F),
                          inputs=("x", "mask"), name="lstm_classifier")
    step = check_model(model, (x, mask), target)
    p = model.params
    h = reference_states("lstm", x, lengths, p["lstm_0_Wx"], p["lstm_0_Wh"], p["lstm_0_b"])[:, -1]
    np.testing.assert_allclose(step.outputs, h @ p["dense_0_W"] + p["dense_0_b"], rtol=1e-10)


def test_transformer_block_compiled_with_numba():
    rng = np.random.default_rng(1)
    N, T, d = 2, 4, 4
    x, mask = rng.normal(size=(N, T, d)), mask_of([4, 3], T)
    def norm():
        return [rt.LayerNorm()] if hasattr(rt, "LayerNorm") else []
    model = rt.Sequential([rt.Residual([rt.MultiHeadAttention(2, causal=True, mask="mask")]), *norm(),
                           rt.Residual([rt.Dense(8, "relu"), rt.Dense(d)]), *norm(), rt.Dense(2)],
                          loss="squared_error", input_shape=(T, d), inputs=("x", "mask"), name="transformer_block")
    src = model.source()
    assert "attention_0_bias = attention_bias(mask, causal=True)" in src
    # the call is split over lines as black splits it: compare without the layout
    assert "attention_0=multi_head_attention(x,attention_0_bias,attention_0_Wq,attention_0_bq," in "".join(src.split())
    assert model.params["attention_0_Wq"].shape == (2, 4, 2) and model.params["attention_0_Wo"].shape == (2, 2, 4)
    check_model(model, (x, mask), rng.normal(size=(N, T, 2)))
