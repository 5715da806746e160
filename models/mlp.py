"""Multilayer perceptrons of the lectures: XOR, the 4-8-3 Iris network, two-hidden-layer
classifiers of 2-D points with L2 regularization, and deep stacks for watching gradients vanish.

Every model is an `rt.Sequential`: its source is generated from the layers and its whole gradient is
one function cotangent derives (`model.source("grad")` prints it)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from cotangent import runtime as rt

from . import points

IRIS_CLASSES = ("setosa", "versicolor", "virginica")


# --- XOR -----------------------------------------------------------------------------------------

def xor_mlp(hidden: int = 8, seed: int = 0, target: str = "cpu") -> rt.Sequential:
    """2-8-2 with tanh: the smallest problem a linear model cannot solve."""
    return rt.Sequential([rt.Dense(hidden, "tanh"), rt.Dense(2)], loss="softmax_cross_entropy",
                         input_shape=(2,), name="xor", seed=seed, target=target)


def train_xor(epochs: int = 300, lr: float = 0.05, seed: int = 0, target: str = "cpu",
              progress: bool = False) -> tuple[rt.Sequential, rt.History]:
    """Adam on the four XOR corners, one batch of four per step."""
    x, y = points.xor()
    model = xor_mlp(seed=seed, target=target)
    history = rt.fit(model, x, y, optimizer=rt.Adam(lr=lr), epochs=epochs, batch_size=4, seed=seed,
                     progress=progress)
    return model, history


# --- Iris ----------------------------------------------------------------------------------------

def load_iris(standardize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Fisher's 150 Iris flowers (4 measurements, 3 species) from scikit-learn's bundled copy, so
    nothing is downloaded; features standardized to mean 0 and variance 1 by default."""
    try:
        from sklearn.datasets import load_iris as sklearn_iris
    except ImportError:
        raise ImportError("the Iris data come with scikit-learn: pip install 'cotangent[examples]'") from None
    data = sklearn_iris()
    x, y = np.asarray(data.data, dtype=np.float64), np.asarray(data.target, dtype=np.int64)
    if standardize:
        x = (x - x.mean(axis=0)) / x.std(axis=0)
    return np.ascontiguousarray(x), y


def iris_mlp(hidden: int = 8, seed: int = 0, target: str = "cpu") -> rt.Sequential:
    """4-8-3: ReLU hidden layer (He initialization), softmax output through the cross-entropy loss."""
    return rt.Sequential([rt.Dense(hidden, "relu", init="he_uniform"), rt.Dense(3)],
                         loss="softmax_cross_entropy", input_shape=(4,), name="iris", seed=seed, target=target)


def train_iris(epochs: int = 100, optimizer: rt.Optimizer | None = None, batch_size: int = 16, seed: int = 0,
               model: rt.Sequential | None = None, target: str = "cpu",
               progress: bool = False) -> tuple[rt.Sequential, rt.History]:
    """Minibatch training on all 150 flowers (Adam, lr 0.01, unless `optimizer` is given). A
    `model` passed in is re-initialized from `seed` first, so runs with different optimizers
    start from the same weights and share one compiled gradient."""
    x, y = load_iris()
    model = model or iris_mlp(seed=seed, target=target)
    model.params.initialize(seed)
    history = rt.fit(model, x, y, optimizer=optimizer or rt.Adam(lr=0.01), epochs=epochs,
                     batch_size=batch_size, seed=seed, progress=progress)
    return model, history


def learning_curves(optimizers: dict[str, rt.Optimizer], epochs: int = 100, batch_size: int = 16,
                    seed: int = 0, target: str = "cpu", progress: bool = False) -> dict[str, list[float] | None]:
    """The training loss per epoch of the Iris MLP under each optimizer, all from the same initial
    weights and the same batch order, through one compiled model. A run whose loss overflows
    (too large a learning rate) gives None."""
    model = iris_mlp(seed=seed, target=target)
    curves: dict[str, list[float] | None] = {}
    for name, optimizer in optimizers.items():
        if progress:
            print(f"{name}:")
        try:
            with np.errstate(over="ignore", invalid="ignore"):     # a diverging run stops with an error
                _, history = train_iris(epochs, optimizer, batch_size, seed, model, progress=progress)
            curves[name] = history["loss"]
        except FloatingPointError:
            curves[name] = None
    return curves


# --- 2-D points ----------------------------------------------------------------------------------

def points_mlp(classes: int, hidden: Sequence[int] = (32, 32), l2: float = 1e-4, seed: int = 0,
               target: str = "cpu") -> rt.Sequential:
    """Two ReLU hidden layers (He initialization) and a softmax output over `classes`, with the
    penalty l2 * |W|^2 / 2 on every weight matrix (not the biases) added to the loss."""
    layers = [rt.Dense(units, "relu", init="he_uniform") for units in hidden] + [rt.Dense(classes)]
    return rt.Sequential(layers, loss="softmax_cross_entropy", input_shape=(2,), l2=l2,
                         name=f"points{classes}", seed=seed, target=target)


POINT_SETS = {"moons": points.moons, "spirals": points.spirals}


def train_points(kind: str = "moons", n: int = 400, epochs: int = 200, l2: float = 1e-3, lr: float = 0.01,
                 batch_size: int = 32, seed: int = 0, target: str = "cpu",
                 progress: bool = False) -> tuple[rt.Sequential, rt.History, tuple[np.ndarray, np.ndarray]]:
    """Adam on a generated point set ("moons": 2 classes, "spirals": 4 arms); returns the model,
    its history and the data (for the decision-boundary plot)."""
    if kind not in POINT_SETS:
        raise ValueError(f"kind must be one of {', '.join(POINT_SETS)}, got {kind!r}")
    x, y = POINT_SETS[kind](n=n, seed=seed)
    model = points_mlp(int(y.max()) + 1, l2=l2, seed=seed, target=target)
    history = rt.fit(model, x, y, optimizer=rt.Adam(lr=lr), epochs=epochs, batch_size=batch_size, seed=seed,
                     progress=progress)
    return model, history, (x, y)


def weight_norm(model: rt.Model) -> float:
    """The L2 norm of all weight matrices together (what the L2 penalty shrinks)."""
    return float(np.linalg.norm(model.params.data * model.params.regularized_mask()))


# --- deep stacks: vanishing gradients ------------------------------------------------------------

def deep_mlp(depth: int = 10, width: int = 32, activation: str = "sigmoid", init: str = "glorot_uniform",
             batch_norm: bool = False, residual: bool = False, inputs: int = 2, classes: int = 4,
             seed: int = 0, target: str = "cpu") -> rt.Sequential:
    """`depth` hidden Dense layers of `width` units, then a softmax output: each hidden layer is
    Dense -> (BatchNorm) -> activation, and with `residual` every hidden layer after the first is
    a skip connection x + layer(x). The initializer applies to every weight matrix."""
    if batch_norm and not hasattr(rt, "BatchNorm"):
        raise ImportError("this version of cotangent.runtime has no BatchNorm layer")
    layers = []
    for i in range(depth):
        block = [rt.Dense(width, init=init)] + ([rt.BatchNorm()] if batch_norm else []) + \
            [rt.Activation(activation)]
        layers += [rt.Residual(block)] if residual and i > 0 else block
    layers.append(rt.Dense(classes, init=init))
    return rt.Sequential(layers, loss="softmax_cross_entropy", input_shape=(inputs,), name="deep", seed=seed,
                         target=target)


def layer_gradient_norms(model: rt.Model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The norm of the loss gradient with respect to each weight matrix, input side first, on one
    training-mode batch (x, integer labels y); the layer state (BatchNorm's averages) is left as
    it was."""
    classes = model.params[[s.name for s in model.params.specs if s.name.endswith("_W")][-1]].shape[-1]
    step = model.loss_and_grad(x, np.eye(classes)[y], np.random.default_rng(0), update_state=False)
    grads = model.params.grads(step.grad)
    return np.array([np.linalg.norm(g) for name, g in grads.items() if name.endswith("_W")])
