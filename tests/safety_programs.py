"""Functions for test_safety.py: indexing, every elementwise primitive at the edges of its domain,
powers at a zero base, and views reshaped. They live in a module of their own so that cotangent can
read their source (and Numba cache their code) like any user's."""
import numpy as np


def idx(x, i):
    return x[i] * 2.0


def gather(x, idx):
    return np.sum(x[idx] ** 2)


def write_at(x, i):
    y = np.zeros(x.shape[0])
    y[i] = x[0]
    return np.sum(y * x)


def pick(x, i):                         # per sample, for ct.vmap
    return x[i] * 2.0


# every elementwise primitive of one number (one argument each, so that each gradient is its
# partial alone), and the same as a vector (so that the tangents stay apart too)
UNARY = ("exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "square", "sin", "cos", "tan",
         "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "abs", "x ** 0.5", "x ** 2", "x ** -1.5",
         "-x", "sign", "floor", "ceil", "clip", "maximum 0", "norm")


def unary(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w, y, z, aa, bb, cc):
    return (np.exp(a) + np.expm1(b) + np.log(c) + np.log1p(d) + np.log2(e) + np.log10(f) + np.sqrt(g)
            + np.square(h) + np.sin(i) + np.cos(j) + np.tan(k) + np.arcsin(l) + np.arccos(m)
            + np.arctan(n) + np.sinh(o) + np.cosh(p) + np.tanh(q) + np.abs(r) + s ** 0.5 + t ** 2
            + u ** -1.5 - v + np.sign(w) + np.floor(y) + np.ceil(z) + np.clip(aa, -1.0, 1.0)
            + np.maximum(bb, 0.0) + np.linalg.norm(np.array([cc, 0.0])))


def unary_vector(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w, y, z, aa, bb, cc):
    return np.array([np.exp(a), np.expm1(b), np.log(c), np.log1p(d), np.log2(e), np.log10(f), np.sqrt(g),
                     np.square(h), np.sin(i), np.cos(j), np.tan(k), np.arcsin(l), np.arccos(m),
                     np.arctan(n), np.sinh(o), np.cosh(p), np.tanh(q), np.abs(r), s ** 0.5, t ** 2,
                     u ** -1.5, -v, np.sign(w), np.floor(y), np.ceil(z), np.clip(aa, -1.0, 1.0),
                     np.maximum(bb, 0.0), np.linalg.norm(np.array([cc, 0.0]))])


BINARY = ("/", "**", "np.power", "arctan2", "hypot", "%", "fmod", "maximum", "minimum", "+", "-", "*")


def binary(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w, z):
    return (a / b + c ** d + np.power(e, f) + np.arctan2(g, h) + np.hypot(i, j) + k % l
            + np.fmod(m, n) + np.maximum(o, p) + np.minimum(q, r) + (s + t) + (u - v) + w * z)


def binary_vector(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w, z):
    return np.array([a / b, c ** d, np.power(e, f), np.arctan2(g, h), np.hypot(i, j), k % l,
                     np.fmod(m, n), np.maximum(o, p), np.minimum(q, r), s + t, u - v, w * z])


def norm(x):
    return np.linalg.norm(x)


def power(b, y):
    return np.power(b, y) + b ** y


def zero_base(y):
    return 0.0 ** y


def views(x):
    """Every way to reshape a view of x (3 x 4), which may itself be a view (non-contiguous): a
    transpose, a slice, a stepped slice, a Fortran-ordered result (exp of x.T, in Numba) and
    expand_dims, then reshape, ravel or flatten; and the argument itself reshaped."""
    w = np.arange(1.0, 13.0)
    a = x.T.reshape(-1)
    b = x[:, 1:3].reshape(-1)
    c = x[:, 1:3].ravel()
    d = x.T.flatten()
    e = x[:, ::2].reshape((2, 3))
    f = np.reshape(np.exp(x.T), (12,))
    g = np.expand_dims(x[1:, 1:], 0).reshape((2, 3))
    h = np.ravel(x.T[::2])
    k = x.reshape((4, 3))
    return np.concatenate((a * w, b * w[:6], c, d, e.ravel(), f, g.ravel() ** 2, h, k.ravel() * w))


def views_loss(x):
    return np.sum(views(x) * (np.arange(78.0) - 39.0))
