"""Functions with their authors' derivative rules, for tests/test_custom.py."""
import numpy as np
import cotangent as ct

@ct.custom_derivative
def softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)

@softplus.defvjp
def softplus_vjp(x, out, g):
    return g / (1.0 + np.exp(-x))

@softplus.defjvp
def softplus_jvp(x, out, x_dot):
    return x_dot / (1.0 + np.exp(-x))

def loss(w, x):
    return np.sum(softplus(w * x) ** 2)

@ct.custom_derivative(example=(0.3, 0.7))
def mulxy(x, y):
    return x * y

@mulxy.defvjp
def mulxy_vjp(x, y, out, g):
    return g * y, g * x

@mulxy.defjvp
def mulxy_jvp(x, y, out, xd, yd):
    return xd * y + x * yd

def uses2(a, b):
    return np.sin(mulxy(a, b))


def in_a_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            s = s + softplus(x[i] * s + 1.0)
        else:
            s = s - mulxy(x[i], s)
    return s
