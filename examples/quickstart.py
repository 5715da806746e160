"""The worked examples of automatic differentiation, computed by cotangent and shown as the
gradient code it generates.

    python examples/quickstart.py
"""
import math

import numpy as np

import cotangent as ct


def f(a, b):
    c = a * b
    d = np.log(c)
    return d


def z(x1, x2):
    return np.sin(x1) + x1 * x2


def tanh_via_exp(x):
    e = np.exp(2.0 * x)
    return (e - 1.0) / (e + 1.0)


def mlp_loss(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    z = logits - np.max(logits, axis=1, keepdims=True)
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(y * log_p, axis=1))


def function_source(source, name):
    """One function (with its decorator) out of a generated module's source."""
    start = source.rfind("\n\n", 0, source.index(f"def {name}(")) + 2
    end = source.find("\n\n\n", start)
    return source[start:end if end >= 0 else len(source)].rstrip()


def banner(title):
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)))


def main():
    banner("f(a, b) = log(a b) at (2, 3): reverse mode")
    value, (da, db) = ct.value_and_grad(f, argnums=(0, 1))(2.0, 3.0)
    print(f"f = {value:.4f}, gradient = [{da:.4f}, {db:.4f}]   (expected 1.7918, [0.5, 0.3333])")
    print(function_source(ct.source(ct.grad(f, argnums=(0, 1))), "f_grad"))

    banner("z = sin(x1) + x1 x2 at (2, 3): forward and reverse mode")
    _, dz_dx1 = ct.jvp(z, (2.0, 3.0), (1.0, None))
    _, dz_dx2 = ct.jvp(z, (2.0, 3.0), (None, 1.0))
    g = ct.grad(z, argnums=(0, 1))(2.0, 3.0)
    print(f"forward: [{dz_dx1:.4f}, {dz_dx2:.4f}]  reverse: [{g[0]:.4f}, {g[1]:.4f}]  "
          f"expected: [cos 2 + 3, 2] = [{math.cos(2) + 3:.4f}, 2.0000]")
    print("\nForward mode carries a tangent x_dot beside each value (one pass per input direction):\n")
    print(function_source(ct.source(ct.jacfwd(z, argnums=(0, 1)), 2.0, 3.0), "z_jvp"))
    print("\nReverse mode runs the program, then its adjoint x_bar backwards (one pass for all inputs):\n")
    print(function_source(ct.source(ct.grad(z, argnums=(0, 1))), "z_grad"))

    banner("tanh written with exp, checked against a finite difference")
    x, h = 0.7, 1e-6
    exact = ct.grad(tanh_via_exp)(x)
    numeric = (tanh_via_exp(x + h) - tanh_via_exp(x - h)) / (2 * h)
    print(f"at x = {x}: cotangent {exact:.10f}, central difference {numeric:.10f} (step {h:g}), "
          f"1 - tanh(x)^2 = {1 - math.tanh(x) ** 2:.10f}")
    print(function_source(ct.source(ct.grad(tanh_via_exp)), "tanh_via_exp_grad"))

    banner("a two-layer MLP with softmax cross-entropy")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3)), np.eye(4)[rng.integers(0, 4, 8)]
    params = (rng.standard_normal((3, 5)), np.zeros(5), rng.standard_normal((5, 4)), np.zeros(4))
    errors = ct.check_grad(mlp_loss, *params, X, y, argnums=(0, 1, 2, 3))
    print("check_grad, worst relative error per parameter:",
          {k: f"{v:.1e}" for k, v in errors.items()})
    print(function_source(ct.source(ct.grad(mlp_loss, argnums=(0, 1, 2, 3))), "mlp_loss_grad"))


if __name__ == "__main__":
    main()
