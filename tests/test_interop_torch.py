"""ct.to_torch: cotangent's compiled gradients as a torch.autograd.Function, checked by PyTorch's
own gradcheck and gradgradcheck (central differences in float64)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cotangent as ct  # noqa: E402
from cotangent.interop_torch import _as_numpy  # noqa: E402
from interop_programs import nll, settle, energy, data, SETTLE_X, SETTLE_P  # noqa: E402

NLL, SETTLE, ENERGY = ct.to_torch(nll), ct.to_torch(settle), ct.to_torch(energy)
W0, X0, Y0 = (torch.tensor(a) for a in data())


def test_gradcheck_scalar_function_every_float_input():
    w, X = W0.clone().requires_grad_(), X0.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda w, X: NLL(w, X, Y0), (w, X))
    w.grad = None
    NLL(w, X, Y0).backward()
    np.testing.assert_allclose(w.grad.numpy(), ct.grad(nll)(W0.numpy(), X0.numpy(), Y0.numpy()), rtol=1e-12)



def test_double_backward_is_cotangents_hessian():
    w, X = W0.clone().requires_grad_(), X0.clone().requires_grad_()
    assert torch.autograd.gradgradcheck(lambda w, X: NLL(w, X, Y0), (w, X))
    g, = torch.autograd.grad(NLL(w, X0, Y0), w, create_graph=True)
    H = torch.stack([torch.autograd.grad(g[i], w, retain_graph=True)[0] for i in range(4)])
    expected = torch.autograd.functional.hessian(lambda w: torch_nll(w, X0, Y0), W0)
    np.testing.assert_allclose(H.numpy(), expected.numpy(), rtol=1e-10)


def torch_nll(w, X, y):
    """nll in PyTorch, for a reference Hessian."""
    z = w[0] + X @ w[1:]
    return torch.mean(torch.log1p(torch.exp(z)) - y * z) + 1e-3 * torch.sum(w * w)


def test_gradcheck_array_result_through_a_while_loop():
    x = torch.tensor(SETTLE_X, requires_grad=True)
    p = torch.tensor(SETTLE_P, requires_grad=True)
    assert torch.autograd.gradcheck(SETTLE, (x, p))
    out = SETTLE(x, p)
    assert out.grad_fn is not None and out.shape == (6,)


def test_second_derivative_of_an_array_result_is_an_error_not_a_zero():
    p = torch.tensor(SETTLE_P, requires_grad=True)
    g, = torch.autograd.grad(SETTLE(torch.tensor(SETTLE_X), p).sum(), p, create_graph=True)
    with pytest.raises(RuntimeError, match="second derivatives of settle"):
        (g.sum() + (p ** 2).sum()).backward()


def test_float32_tensors_give_float32_results_and_gradients():
    w = W0.float().requires_grad_()
    value = NLL(w, X0.float(), Y0.float())
    value.backward()
    assert value.dtype == torch.float32 and w.grad.dtype == torch.float32
    expected = ct.grad(nll)(W0.float().double().numpy(), X0.float().double().numpy(), Y0.float().double().numpy())
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-6)


def test_float64_tensors_reach_the_compiled_code_as_views():
    t = torch.linspace(0.0, 1.0, 5, dtype=torch.float64, requires_grad=True)
    assert np.shares_memory(_as_numpy(t), t.detach().numpy())
    assert _as_numpy(t.float()).dtype == np.float64       # float32: converted once, on the way in


def test_without_grad_it_is_the_compiled_primal():
    with torch.no_grad():
        value = NLL(W0.clone().requires_grad_(), X0, Y0)
    assert value.grad_fn is None and value.item() == pytest.approx(nll(W0.numpy(), X0.numpy(), Y0.numpy()), rel=1e-12)
    out = SETTLE(torch.tensor(SETTLE_X), torch.tensor(SETTLE_P))
    assert out.grad_fn is None
    np.testing.assert_allclose(out.numpy(), settle(SETTLE_X, SETTLE_P), rtol=1e-12)


def test_dict_argument_and_int_argument():
    params = {"W": torch.tensor([[0.3, -0.2], [0.1, 0.4]], dtype=torch.float64, requires_grad=True),
              "b": torch.tensor([0.05, -0.1], dtype=torch.float64, requires_grad=True)}
    ENERGY(params, 3).backward()
    expected = ct.grad(energy)({k: v.detach().numpy() for k, v in params.items()}, 3)
    for k in params:
        np.testing.assert_allclose(params[k].grad.numpy(), expected[k], rtol=1e-12)


def test_inside_a_torch_expression_and_optimizer():
    w = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=100, tolerance_grad=1e-10, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = NLL(w, X0, Y0) + 0.0 * (w ** 2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    assert np.linalg.norm(ct.grad(nll)(w.detach().numpy(), X0.numpy(), Y0.numpy())) < 1e-8
