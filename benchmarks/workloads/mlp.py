"""MLP training step: the mean softmax cross-entropy of a one-hidden-layer ReLU network and its
gradient with respect to every weight and bias.

The sizes span the regimes where the tools differ: XOR (2-8-2, batch 4) and Iris (4-8-3, batch
150) are dominated by per-operation overhead (dispatch, tracing caches, tape bookkeeping), an
MNIST-size layer (784-256-10, batch 128) by its matrix products. Every tool gets the same float64
arrays (seeded) and returns the gradients in the order W1, b1, W2, b2."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

import cotangent as ct

try:                                   # imported as benchmarks.workloads.mlp
    from ..harness import Case, Impl, Result
except ImportError:                    # imported as workloads.mlp, with benchmarks/ on sys.path
    from harness import Case, Impl, Result

if TYPE_CHECKING:
    from cotangent import runtime as rt

ROOT = Path(__file__).resolve().parents[2]

SIZES: dict[str, list[tuple[str, int, int, int, int]]] = {
    "tiny": [("3-4-2 batch 5", 3, 4, 2, 5)],
    "full": [("XOR 2-8-2 batch 4", 2, 8, 2, 4),
             ("Iris 4-8-3 batch 150", 4, 8, 3, 150),
             ("MNIST 784-256-10 batch 128", 784, 256, 10, 128)],
}

PARAMS = ("W1", "b1", "W2", "b2")


def loss(W1, b1, W2, b2, X, Y):
    """Mean cross-entropy of softmax(relu(X W1 + b1) W2 + b2) against one-hot Y, through a
    log-softmax shifted by each row's maximum so no exponential overflows. The shift cannot change
    the result, so its derivative is stopped, as jax.nn.log_softmax does."""
    h = np.maximum(X @ W1 + b1, 0.0)
    z = h @ W2 + b2
    s = z - ct.stop_gradient(np.max(z, axis=1, keepdims=True))
    logp = s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))
    return -np.sum(Y * logp) / X.shape[0]


def problem(n_in: int, n_hidden: int, n_out: int, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs and labels with Glorot-scaled weights and small biases, so that some ReLUs are
    off and the softmax is neither flat nor saturated."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_out, batch)
    return {
        "W1": rng.standard_normal((n_in, n_hidden)) * np.sqrt(2.0 / (n_in + n_hidden)),
        "b1": 0.1 * rng.standard_normal(n_hidden),
        "W2": rng.standard_normal((n_hidden, n_out)) * np.sqrt(2.0 / (n_hidden + n_out)),
        "b2": 0.1 * rng.standard_normal(n_out),
        "X": rng.standard_normal((batch, n_in)),
        "labels": labels,
        "Y": np.eye(n_out)[labels],
    }


def arguments(p: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """The arguments of `loss`, in its order."""
    return tuple(p[k] for k in (*PARAMS, "X", "Y"))


# --- cotangent -----------------------------------------------------------------------------------

def cotangent_step(p: dict[str, np.ndarray]) -> Callable[[], Result]:
    """The NumPy loss differentiated by cotangent (default CPU target: Numba)."""
    import cotangent as ct
    value_and_grad = ct.value_and_grad(loss, argnums=(0, 1, 2, 3))
    args = arguments(p)

    def step() -> Result:
        value, grads = value_and_grad(*args)
        return float(value), list(grads)
    return step


def cotangent_objective(p: dict[str, np.ndarray]) -> Callable[[], float]:
    """The compiled primal alone, the F of J/F."""
    import cotangent as ct
    primal = ct.differentiable(loss)
    args = arguments(p)
    return lambda: float(primal(*args))


def runtime_model(p: dict[str, np.ndarray]) -> rt.Sequential:
    """The same network as a `cotangent.runtime` Sequential model holding p's weights."""
    from cotangent import runtime as rt
    n_in, n_hidden = p["W1"].shape
    n_out = p["W2"].shape[1]
    model = rt.Sequential([rt.Dense(n_hidden, "relu"), rt.Dense(n_out)], loss="softmax_cross_entropy",
                          input_shape=(n_in,), name=f"bench_mlp_{n_in}_{n_hidden}_{n_out}")
    model.params.load({_runtime_name(k): p[k] for k in PARAMS})
    return model


def _runtime_name(param: str) -> str:
    """W1 -> dense_0_W, b2 -> dense_1_b: the runtime names parameters by layer."""
    return f"dense_{int(param[1]) - 1}_{param[0]}"


def runtime_step(p: dict[str, np.ndarray]) -> Callable[[], Result]:
    """A training step as the runtime takes it: loss_and_grad on the flat parameter buffer, the
    flat gradient split back into named views."""
    model = runtime_model(p)
    X, Y = p["X"], p["Y"]
    rng = np.random.default_rng(0)

    def step() -> Result:
        r = model.loss_and_grad(X, Y, rng, update_state=False)
        grads = model.params.grads(r.grad)
        return r.loss, [grads[_runtime_name(k)] for k in PARAMS]
    return step


def runtime_objective(p: dict[str, np.ndarray]) -> Callable[[], float]:
    """The runtime's test-mode loss (the same value: no dropout, no batch statistics)."""
    model = runtime_model(p)
    X, Y = p["X"], p["Y"]
    return lambda: model.loss(X, Y)


def _first_call(dims: tuple[int, int, int, int], runtime: bool) -> str:
    call = ("mlp.runtime_step(p)()" if runtime
            else "ct.value_and_grad(mlp.loss, argnums=(0, 1, 2, 3))(*mlp.arguments(p))")
    return (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport cotangent as ct\n"
            f"from benchmarks.workloads import mlp\np = mlp.problem{dims}\n{call}\n")


# --- competitors ---------------------------------------------------------------------------------

def jax_step(p: dict[str, np.ndarray]) -> Callable[[], Result]:
    """jit(value_and_grad) in float64, with jax.nn's relu and log_softmax, as a JAX user writes it."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def jloss(W1, b1, W2, b2, X, Y):
        h = jax.nn.relu(X @ W1 + b1)
        logp = jax.nn.log_softmax(h @ W2 + b2, axis=1)
        return -jnp.sum(Y * logp) / X.shape[0]

    value_and_grad = jax.jit(jax.value_and_grad(jloss, argnums=(0, 1, 2, 3)))
    args = [jnp.asarray(a) for a in arguments(p)]

    def step() -> Result:
        value, grads = value_and_grad(*args)
        return float(value), [np.asarray(g) for g in grads]
    return step


def torch_step(p: dict[str, np.ndarray]) -> Callable[[], Result]:
    """Eager float64 with F.cross_entropy on integer labels and backward(); grads cleared each call."""
    import torch
    import torch.nn.functional as F
    params = [torch.tensor(p[k], dtype=torch.float64, requires_grad=True) for k in PARAMS]
    X = torch.tensor(p["X"], dtype=torch.float64)
    labels = torch.tensor(p["labels"], dtype=torch.int64)

    def step() -> Result:
        for t in params:
            t.grad = None
        W1, b1, W2, b2 = params
        out = F.cross_entropy(torch.relu(X @ W1 + b1) @ W2 + b2, labels)
        out.backward()
        return out.item(), [t.grad.numpy() for t in params]
    return step


def autograd_step(p: dict[str, np.ndarray]) -> Callable[[], Result]:
    """HIPS autograd on the same NumPy formulation as cotangent's, parameters as one tuple."""
    import autograd
    import autograd.numpy as anp

    def aloss(params, X, Y):
        W1, b1, W2, b2 = params
        h = anp.maximum(anp.dot(X, W1) + b1, 0.0)
        z = anp.dot(h, W2) + b2
        s = z - anp.max(z, axis=1, keepdims=True)
        logp = s - anp.log(anp.sum(anp.exp(s), axis=1, keepdims=True))
        return -anp.sum(Y * logp) / X.shape[0]

    value_and_grad = autograd.value_and_grad(aloss)
    params = tuple(p[k] for k in PARAMS)
    X, Y = p["X"], p["Y"]

    def step() -> Result:
        value, grads = value_and_grad(params, X, Y)
        return float(value), list(grads)
    return step


def cases(scale: str) -> list[Case]:
    """One case per network size; `scale` is "tiny" (tests) or "full" (the table)."""
    out = []
    for size, *dims in SIZES[scale]:
        p = problem(*dims)
        n_in, n_hidden, n_out, batch = dims
        impls = [
            Impl("cotangent", lambda p=p: cotangent_step(p), objective=lambda p=p: cotangent_objective(p),
                 first_call=_first_call(tuple(dims), runtime=False)),
            Impl("cotangent runtime", lambda p=p: runtime_step(p), objective=lambda p=p: runtime_objective(p),
                 first_call=_first_call(tuple(dims), runtime=True)),
            Impl("jax", lambda p=p: jax_step(p)),
            Impl("torch", lambda p=p: torch_step(p)),
            Impl("autograd", lambda p=p: autograd_step(p)),
        ]
        out.append(Case("MLP step", size, impls, work=float(batch * (n_in * n_hidden + n_hidden * n_out)),
                        notes=["cotangent runtime: the same network as rt.Sequential([Dense(relu), Dense]) "
                               "with softmax_cross_entropy, one flat parameter buffer, loss_and_grad"]))
    return out
