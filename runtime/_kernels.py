"""Numba kernels of the optimizers' update rules: each step is one compiled loop over the flat
parameter buffer, updating it (and the optimizer's state buffers) in place.

These are updates, not derivatives: the gradients they consume come from cotangent. Every kernel
reads each gradient element as clip(g, -clip_value, clip_value) * scale (`clip_value` inf when off;
`scale` the norm-clipping factor the optimizer computes just before the call), plus the L2 term weight_decay * p after
clipping, so clipping bounds the data's gradient and never writes the caller's `g` (NaN stays NaN).
Each kernel is a leaf function: Numba cannot cache a function that calls another jitted function
when LLVM's optimizer is off (NUMBA_OPT=0, as in the tests). They compute with NumPy's numeric
model, as the generated code does (error_model="numpy": a division by zero is inf or nan).
"""
from __future__ import annotations

import math

import numba


@numba.njit(cache=True, error_model="numpy")
def sgd(p, g, lr, weight_decay, clip_value, scale):
    """p <- p - lr * (g + weight_decay * p)."""
    for i in range(p.size):
        gi = min(max(g[i], -clip_value), clip_value) * scale + weight_decay * p[i]
        p[i] -= lr * gi


@numba.njit(cache=True, error_model="numpy")
def momentum(p, g, v, lr, mu, weight_decay, nesterov, clip_value, scale):
    """Heavy ball (Polyak; Sutskever et al. 2013's form): v <- mu v - lr g, p <- p + v.
    Nesterov, with the gradient taken at p (Bengio et al. 2013): p <- p + mu v_new - lr g."""
    for i in range(p.size):
        gi = min(max(g[i], -clip_value), clip_value) * scale + weight_decay * p[i]
        v[i] = mu * v[i] - lr * gi
        if nesterov:
            p[i] += mu * v[i] - lr * gi
        else:
            p[i] += v[i]


@numba.njit(cache=True, error_model="numpy")
def adagrad(p, g, s, lr, eps, weight_decay, clip_value, scale):
    """AdaGrad (Duchi et al. 2011): s <- s + g^2, p <- p - lr g / (sqrt(s) + eps)."""
    for i in range(p.size):
        gi = min(max(g[i], -clip_value), clip_value) * scale + weight_decay * p[i]
        s[i] += gi * gi
        p[i] -= lr * gi / (math.sqrt(s[i]) + eps)


@numba.njit(cache=True, error_model="numpy")
def rmsprop(p, g, s, lr, rho, eps, weight_decay, clip_value, scale):
    """RMSprop (Hinton's lecture 6e): s <- rho s + (1 - rho) g^2, p <- p - lr g / (sqrt(s) + eps)."""
    for i in range(p.size):
        gi = min(max(g[i], -clip_value), clip_value) * scale + weight_decay * p[i]
        s[i] = rho * s[i] + (1.0 - rho) * gi * gi
        p[i] -= lr * gi / (math.sqrt(s[i]) + eps)


@numba.njit(cache=True, error_model="numpy")
def adam(p, g, m, v, lr, beta1, beta2, eps, bias1, bias2, l2, decoupled, clip_value, scale):
    """Adam (Kingma & Ba 2015, Algorithm 1) with bias1 = 1 - beta1^t and bias2 = 1 - beta2^t:
    m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2, p <- p - lr * m_hat / (sqrt(v_hat) + eps).
    `l2` adds l2 * p to the gradient (Adam's weight decay); `decoupled` subtracts
    lr * decoupled * p from the parameters (AdamW, Loshchilov & Hutter 2019)."""
    for i in range(p.size):
        gi = min(max(g[i], -clip_value), clip_value) * scale + l2 * p[i]
        m[i] = beta1 * m[i] + (1.0 - beta1) * gi
        v[i] = beta2 * v[i] + (1.0 - beta2) * (gi * gi)
        m_hat = m[i] / bias1
        v_hat = v[i] / bias2
        p[i] -= lr * m_hat / (math.sqrt(v_hat) + eps) + lr * decoupled * p[i]
