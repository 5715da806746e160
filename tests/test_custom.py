"""@ct.custom_derivative: rules are used in both modes, inside loops and branches, under the
Hessian, and a wrong rule is caught before use, naming the argument."""
import numpy as np
import pytest

import cotangent as ct
import custom_programs as C

W = np.array([0.5, -1.0, 2.0])
X = np.array([1.0, 2.0, -0.5])


@pytest.mark.parametrize("target", ["python", "cpu"])
def test_rules_in_both_modes(target):
    f = ct.differentiable(C.loss, target=target)
    assert max(ct.check_grad(f, W, X).values()) < 1e-6
    g = ct.differentiable(C.uses2, target=target)
    assert max(ct.check_grad(g, 0.4, 0.9).values()) < 1e-6


def test_rules_in_loops_and_branches():
    f = ct.differentiable(C.in_a_loop, target="python")
    assert max(ct.check_grad(f, np.array([0.3, -0.2, 0.5, -0.7])).values()) < 1e-6


def test_the_adjoint_is_the_authors_rule():
    src = ct.source(ct.grad(ct.differentiable(C.loss, target="python")), W, X)
    assert "np.exp(" in src and "np.sign" not in src      # the rule, not the derivative of abs/maximum
    assert "adjoint of custom_programs.py:11" in src        # the rule's own line


def test_grad_of_the_custom_function_itself():
    assert np.isclose(ct.grad(C.softplus)(0.3), 1.0 / (1.0 + np.exp(-0.3)))


def test_hessian_through_a_custom_rule():
    f = ct.differentiable(C.loss, target="python")
    H = ct.hessian(f)(W, X)
    h = 1e-5
    g = ct.grad(f)
    fd = np.array([(g(W + h * e, X) - g(W - h * e, X)) / (2 * h) for e in np.eye(3)])
    assert np.allclose(H, fd, rtol=1e-6, atol=1e-8)


def test_wrong_rules_fail_when_registered():
    @ct.custom_derivative(example=(0.3, 0.8))
    def product(x, y):
        return x * y

    with pytest.raises(ct.CompileError, match="VJP rule of product is wrong for argument 'y'"):
        @product.defvjp
        def product_vjp(x, y, out, g):
            return g * y, g * y

    with pytest.raises(ct.CompileError, match="JVP rule of product is wrong for argument 'x'"):
        @product.defjvp
        def product_jvp(x, y, out, x_dot, y_dot):
            return 2.0 * x_dot * y + x * y_dot


def test_wrong_rule_without_example_fails_at_first_compile():
    @ct.custom_derivative
    def cube(x):
        return x * x * x

    @cube.defvjp
    def cube_vjp(x, out, g):
        return 2.0 * g * x * x

    def uses(x):
        return np.sum(cube(x))

    with pytest.raises(ct.CompileError, match="VJP rule of cube is wrong for argument 'x'"):
        ct.grad(ct.differentiable(uses, target="python"))(np.ones(3))


def test_missing_rule_is_named():
    @ct.custom_derivative
    def square(x):
        return x * x

    def uses(x):
        return square(x)

    with pytest.raises(ct.CompileError, match="square has no VJP rule"):
        ct.grad(ct.differentiable(uses, target="python"))(1.0)
