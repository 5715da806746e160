"""Initializers: the scales match the published formulas, seeds reproduce, fans follow Keras."""
import math

import numpy as np
import pytest

from cotangent.runtime import initializers as init

SHAPE = (400, 600)  # 240,000 draws: the sample std is within about 0.3% of the true one
FAN_IN, FAN_OUT = SHAPE
SCALED = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal"]
SEEDED = SCALED + ["normal", "uniform", "orthogonal"]


def _std_ok(w: np.ndarray, std: float) -> None:
    assert abs(w.mean()) < 5 * std / math.sqrt(w.size)
    assert w.std() == pytest.approx(std, rel=0.02)


# ---------------------------------------------------------------- fans


@pytest.mark.parametrize("shape, fans", [
    ((), (1, 1)),
    ((7,), (7, 7)),
    ((3, 5), (3, 5)),                 # dense (in, out)
    ((3, 4, 8), (12, 24)),            # 1-D conv (K, C_in, C_out)
    ((3, 5, 4, 8), (60, 120)),        # 2-D conv (KH, KW, C_in, C_out)
    ((2, 3, 5, 4, 8), (120, 240)),    # 3-D conv
])
def test_compute_fans(shape, fans):
    assert init.compute_fans(shape) == fans


def test_conv_kernel_scale_uses_receptive_field():
    w = init.he_normal((3, 3, 64, 32), rng=0)
    _std_ok(w, math.sqrt(2 / (3 * 3 * 64)))


# ---------------------------------------------------------------- formulas


def test_glorot_uniform_limit_and_std():
    limit = math.sqrt(6 / (FAN_IN + FAN_OUT))
    w = init.glorot_uniform(SHAPE, rng=0)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    _std_ok(w, limit / math.sqrt(3))


def test_glorot_normal_std():
    _std_ok(init.glorot_normal(SHAPE, rng=0), math.sqrt(2 / (FAN_IN + FAN_OUT)))


def test_he_uniform_limit_and_std():
    limit = math.sqrt(6 / FAN_IN)
    w = init.he_uniform(SHAPE, rng=0)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    _std_ok(w, limit / math.sqrt(3))


def test_he_normal_std():
    _std_ok(init.he_normal(SHAPE, rng=0), math.sqrt(2 / FAN_IN))


def test_lecun_normal_std():
    _std_ok(init.lecun_normal(SHAPE, rng=0), 1 / math.sqrt(FAN_IN))


def test_normal_and_uniform_take_their_scale():
    _std_ok(init.normal(SHAPE, rng=0, std=0.3), 0.3)
    w = init.uniform(SHAPE, rng=0, limit=0.2)
    assert np.abs(w).max() <= 0.2
    _std_ok(w, 0.2 / math.sqrt(3))


def test_zeros_and_ones():
    assert np.array_equal(init.zeros((2, 3)), np.zeros((2, 3)))
    assert np.array_equal(init.ones((4,), rng=5), np.ones(4))


def test_aliases():
    assert init.xavier_uniform is init.glorot_uniform and init.xavier_normal is init.glorot_normal
    assert init.kaiming_uniform is init.he_uniform and init.kaiming_normal is init.he_normal


@pytest.mark.parametrize("name", SEEDED + ["zeros", "ones"])
def test_float64_with_requested_shape(name):
    w = init.get(name)((3, 2, 4, 5), rng=0)
    assert w.shape == (3, 2, 4, 5) and w.dtype == np.float64


def test_empty_shapes_give_empty_arrays():
    for name in SEEDED:
        assert init.get(name)((0, 5), rng=0).shape == (0, 5)


# ---------------------------------------------------------------- orthogonal


@pytest.mark.parametrize("shape", [(64, 64), (100, 30), (30, 100)])
def test_orthogonal_is_orthogonal(shape):
    q = init.orthogonal(shape, rng=0)
    small = min(shape)
    gram = q.T @ q if shape[0] >= shape[1] else q @ q.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)


def test_orthogonal_gain_and_flattening():
    q = init.orthogonal((2, 3, 4), rng=1, gain=2.0).reshape(6, 4)
    np.testing.assert_allclose(q.T @ q, 4.0 * np.eye(4), atol=1e-12)


# ---------------------------------------------------------------- seeds


@pytest.mark.parametrize("name", SEEDED)
def test_same_seed_same_weights_different_seed_different_weights(name):
    fn = init.get(name)
    assert np.array_equal(fn((20, 30), rng=42), fn((20, 30), rng=42))
    assert np.array_equal(fn((20, 30), rng=np.random.default_rng(42)), fn((20, 30), rng=42))
    assert not np.array_equal(fn((20, 30), rng=42), fn((20, 30), rng=43))


def test_a_generator_advances_between_calls():
    gen = np.random.default_rng(0)
    assert not np.array_equal(init.he_normal((5, 5), gen), init.he_normal((5, 5), gen))


# ---------------------------------------------------------------- get and errors


def test_get_by_name_and_callable():
    assert init.get("he_normal") is init.he_normal
    assert init.get("kaiming_normal") is init.he_normal
    assert init.get(init.zeros) is init.zeros
    _std_ok(init.get("normal", std=0.5)(SHAPE, 0), 0.5)


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown initializer 'glorot'.*glorot_normal.*he_uniform.*zeros"):
        init.get("glorot")


def test_get_rejects_options_the_initializer_does_not_take():
    with pytest.raises(ValueError, match="'zeros' does not take options"):
        init.get("zeros", std=1.0)


@pytest.mark.parametrize("shape", [(3, -1), (2.5, 3), "ab"])
def test_bad_shapes(shape):
    with pytest.raises(ValueError, match="non-negative ints"):
        init.glorot_uniform(shape, rng=0)


def test_bad_scales_and_orthogonal_rank():
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal((2,), std=-1.0)
    with pytest.raises(ValueError, match="limit must be >= 0"):
        init.uniform((2,), limit=float("nan"))
    with pytest.raises(ValueError, match="at least 2 dims"):
        init.orthogonal((5,))
