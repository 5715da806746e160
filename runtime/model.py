"""Composing layers into one generated model source, and running its compiled gradient.

`Sequential` writes three Python functions into one module (train: loss with batch statistics and
dropout; loss: test-mode loss; predict: test-mode outputs), each taking the flat parameter buffer
`theta` first and slicing named views out of it. cotangent differentiates the train function as a
whole, so `model.source("grad")` is the full backward pass of the network, as readable code."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

import cotangent as ct
from cotangent.backends import loader
from cotangent.backends.layout import lay_out_lines

from . import losses as losses_mod
from .layers.base import Emitter, Layer
from .losses import l1_penalty, l2_penalty
from .params import ParamBuffer, ParamSpec


@dataclass
class StepResult:
    """One training step's loss, model outputs and flat gradient (aligned with `params.data`)."""
    loss: float
    outputs: np.ndarray
    grad: np.ndarray


class Model:
    """Parameters, layer state, and the compiled train/loss/predict functions of one model."""

    def __init__(self, name: str, source: str, params: ParamBuffer, state: dict[str, np.ndarray],
                 inputs: tuple[str, ...], signature: dict, loss_name: str, target: str):
        self.name = name
        self.model_source = source
        self.params = params
        self.state = state
        self.inputs = inputs
        self.loss_name = loss_name
        self._sig = signature
        module = loader.load(source, f"model_{name}")
        self.train_fn = getattr(module, f"{name}_train")
        self.loss_fn = getattr(module, f"{name}_loss")
        self.predict_fn = getattr(module, f"{name}_predict")
        self._value_and_grad = ct.value_and_grad(ct.differentiable(self.train_fn, target=target),
                                                 argnums=0, has_aux=True)
        self._loss = ct.differentiable(self.loss_fn, target=target)
        self._predict = ct.differentiable(self.predict_fn, target=target)

    # --- running ---
    def _inputs(self, inputs) -> tuple:
        inputs = inputs if isinstance(inputs, tuple) else (inputs,)
        if len(inputs) != len(self.inputs):
            raise ValueError(f"model {self.name} takes {len(self.inputs)} inputs ({', '.join(self.inputs)}), "
                             f"got {len(inputs)}")
        return tuple(np.ascontiguousarray(a) for a in inputs)

    def loss_and_grad(self, inputs, target: np.ndarray, rng: np.random.Generator | None = None,
                      update_state: bool = True) -> StepResult:
        """Training-mode loss and gradient on one batch; folds batch statistics into the state."""
        inputs = self._inputs(inputs)
        rng = rng if rng is not None else np.random.default_rng()
        batch = inputs[0].shape[0]
        noise = [spec.draw(rng, (batch,) + tuple(layer.input_shape)) for layer, spec, _ in self._sig["noise"]]
        states = [self.state[a] for a in self._sig["train_state"]]
        (loss, aux), grad = self._value_and_grad(self.params.data, *inputs, target, *states, *noise)
        aux = aux if isinstance(aux, tuple) else (aux,)
        outputs, stats = aux[0], aux[1:]
        if update_state and stats:
            per_layer: dict = {}
            for (layer, key, _), value in zip(self._sig["aux"], stats):
                per_layer.setdefault(layer, {})[key] = value
            for layer, batch_stats in per_layer.items():
                layer.update_state(self.state, batch_stats)
        return StepResult(float(loss), outputs, grad)

    def compile(self, inputs, target: np.ndarray, verbose: bool = False) -> float:
        """Compile the training gradient and the test-mode functions for these argument types
        (a no-op when they are compiled or in the disk cache); returns the seconds it took."""
        import time
        start = time.perf_counter()
        inputs = tuple(a[:1] for a in self._inputs(inputs))
        if verbose:
            print(f"compiling model {self.name} ...", end=" ", flush=True)
        self.loss_and_grad(inputs, target[:1], np.random.default_rng(0), update_state=False)
        self.loss(inputs, target[:1])
        self.predict(inputs)
        seconds = time.perf_counter() - start
        if verbose:
            print(f"{seconds:.1f} s", flush=True)
        return seconds

    def loss(self, inputs, target: np.ndarray) -> float:
        """Test-mode loss (running statistics, no dropout), including regularization."""
        return float(self._loss(self.params.data, *self._inputs(inputs), target, *self._test_state()))

    def predict(self, inputs) -> np.ndarray:
        """Test-mode outputs (logits for classification losses)."""
        return self._predict(self.params.data, *self._inputs(inputs), *self._test_state())

    def objective(self, inputs, target: np.ndarray):
        """The test-mode loss as a function of the flat parameters and its other arguments, for
        optimizers that need more than a gradient (Newton's method uses its Hessian), compiled for the
        model's target."""
        from .optimizers import LossClosure
        return LossClosure(self._loss, (*self._inputs(inputs), target, *self._test_state()))

    def _test_state(self) -> list:
        return [self.state[a] for a in self._sig["test_state"]]

    # --- reading ---
    def source(self, which: str = "model") -> str:
        """The generated model source ("model"), or the generated gradient of the training loss
        ("grad"); the gradient exists once the model has taken a training step."""
        if which == "model":
            return self.model_source
        if which == "grad":
            return ct.source(self._value_and_grad)
        raise ValueError("which must be 'model' or 'grad'")

    def summary(self) -> str:
        return self.params.summary()


class Sequential(Model):
    """Layers applied one after another, then a loss; the whole thing compiled as one function.

    `input_shape` is one sample's shape (no batch axis). `inputs` names the data arguments: the
    first flows through the layers, the others (a sequence mask) are read by layers by name."""

    def __init__(self, layers: Sequence[Layer], loss: str | Callable, input_shape: Sequence[int],
                 inputs: Sequence[str] = ("x",), l1: float = 0.0, l2: float = 0.0, name: str = "model",
                 seed: int | np.random.Generator | None = 0, target: str = "cpu"):
        if not name.isidentifier():
            raise ValueError(f"model name {name!r} must be a Python identifier")
        self.layers = list(layers)
        self.loss_function = losses_mod.get(loss)
        _name_layers(self.layers)
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.build(shape)
        self.output_shape = shape
        specs = [ParamSpec(f"{layer.name}_{s.name}", s.shape, s.init, s.regularize)
                 for layer in _all_layers(self.layers) for s in layer.param_specs()]
        params = ParamBuffer(specs, seed)
        state = {f"{layer.name}_{s.name}": np.full(s.shape, s.fill, dtype=np.float64)
                 for layer in _all_layers(self.layers) for s in layer.state_specs()}
        source, signature = write_source(name, self.layers, self.loss_function, tuple(inputs), params, l1, l2)
        super().__init__(name, source, params, state, tuple(inputs), signature,
                         self.loss_function.__name__, target)

    def describe(self) -> str:
        return "\n".join(f"{layer.name:<16} {layer.describe():<36} -> {layer.output_shape}"
                         for layer in self.layers)


class FunctionModel(Model):
    """A model from functions the user wrote, whose first parameters are the model's parameters:

        def loss(W1, b1, W2, b2, x, target): ...; return value, outputs
        def predict(W1, b1, W2, b2, x): ...; return outputs

    `params` gives each parameter's shape and initializer (a ParamSpec, or (shape, init name)).
    `loss_kind` names the built-in loss it resembles ('softmax_cross_entropy', ...) so targets
    are encoded and accuracy is reported like for Sequential models; None for regression."""

    def __init__(self, loss: Callable, params: dict | Sequence[ParamSpec], predict: Callable | None = None,
                 inputs: Sequence[str] = ("x",), loss_kind: str | None = None, name: str | None = None,
                 seed: int | np.random.Generator | None = 0, target: str = "cpu"):
        from . import initializers
        name = name or loss.__name__
        generated = {f"{name}_{mode}" for mode in ("train", "loss", "predict")}
        hidden = sorted(generated & {loss.__name__, getattr(predict, "__name__", None)})
        if hidden:
            raise ValueError(f"a model named {name!r} generates functions named {', '.join(hidden)}, which would "
                             f"hide yours in its module; pass another name=")
        if isinstance(params, dict):
            specs = [p if isinstance(p, ParamSpec) else
                     ParamSpec(n, tuple(p[0]), initializers.get(p[1] if len(p) > 1 else "glorot_uniform"))
                     for n, p in params.items()]
        else:
            specs = list(params)
        expected = [s.name for s in specs] + list(inputs)
        got = list(loss.__code__.co_varnames[:loss.__code__.co_argcount])
        if got[:len(expected)] != expected or len(got) != len(expected) + 1:
            raise ValueError(f"{loss.__name__} must take ({', '.join(expected)}, target), got ({', '.join(got)})")
        buffer = ParamBuffer(specs, seed)
        self.output_shape = None
        source = _function_model_source(name, loss, predict, [s.name for s in specs], tuple(inputs), buffer)
        sig = {"train_state": [], "test_state": [], "noise": [], "aux": []}
        super().__init__(name, source, buffer, {}, tuple(inputs), sig, loss_kind or "", target)
        self._has_predict = predict is not None

    def predict(self, inputs) -> np.ndarray:
        if not self._has_predict:
            raise ValueError(f"model {self.name} was made without a predict function")
        return super().predict(inputs)


def _function_model_source(name, loss, predict, param_names, inputs, params: ParamBuffer) -> str:
    prologue = _prologue(params)
    call = ", ".join([*param_names, *inputs])
    imports = {loss.__name__: loss.__module__}
    if predict is not None:
        imports[predict.__name__] = predict.__module__
    funcs = [
        f"def {name}_train(theta, {', '.join(inputs)}, target):\n    \"\"\"{_DOCS['train']}\"\"\"\n"
        + "\n".join(prologue) + f"\n    value, outputs = {loss.__name__}({call}, target)\n    return value, outputs",
        f"def {name}_loss(theta, {', '.join(inputs)}, target):\n    \"\"\"{_DOCS['loss']}\"\"\"\n"
        + "\n".join(prologue) + f"\n    value, outputs = {loss.__name__}({call}, target)\n    return value",
        f"def {name}_predict(theta, {', '.join(inputs)}):\n    \"\"\"{_DOCS['predict']}\"\"\"\n"
        + ("\n".join(prologue) + f"\n    return {predict.__name__}({call})" if predict is not None
           else f"    return {inputs[0]}")]
    header = [f'"""Model {name}, generated by cotangent.runtime from {loss.__name__}."""', "", "import numpy as np", ""]
    header += [f"from {mod} import {fn}" for fn, mod in sorted(imports.items())]
    funcs = ["\n".join(lay_out_lines(f.split("\n"))) for f in funcs]
    return "\n".join(header) + "\n\n\n" + "\n\n\n".join(funcs) + "\n"


def _prologue(params: ParamBuffer) -> list[str]:
    """`name = theta[a:b].reshape(shape)` for each parameter: the named views of the flat buffer."""
    lines = []
    for spec in params.specs:
        a, b = params.offsets[spec.name]
        view = f"theta[{a}:{b}]" if len(spec.shape) == 1 else f"theta[{a}:{b}].reshape({spec.shape})"
        lines.append(f"    {spec.name} = {view}")
    return lines


def _all_layers(layers):
    for layer in layers:
        yield layer
        yield from _all_layers(layer.sublayers())


def _name_layers(layers):
    counts: dict = {}
    for layer in _all_layers(layers):
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
        layer.name = f"{layer.kind}_{counts[layer.kind] - 1}"


def _fmt(v: float) -> str:
    return repr(float(v))


def write_source(name: str, layers, loss_fn, inputs: tuple, params: ParamBuffer, l1: float, l2: float):
    """The module source of a sequential model, and which arguments each function takes."""
    functions, sig = [], {}
    for mode in ("train", "loss", "predict"):
        e = Emitter(train=(mode == "train"), inputs={n: n for n in inputs})
        for n in ("theta", "target", *inputs):
            e.fresh(n)
        e.prefix = "    "
        h = inputs[0]
        for layer in layers:
            e.line(f"# {layer.name}: {layer.describe()}")
            h = layer.emit(e, h)
        body = e.lines
        returns = [h]
        if mode != "predict":
            loss_var = e.call(loss_fn, [h, "target"], "loss", "data loss")
            for weight, penalty in ((l1, l1_penalty), (l2, l2_penalty)):
                if weight:
                    terms = " + ".join(f"{e.use(penalty)}({p.name})" for p in params.specs if p.regularize)
                    if terms:
                        e.line(f"{loss_var} = {loss_var} + {_fmt(weight)} * ({terms})  # {penalty.__name__}")
            returns = [loss_var, h] if mode == "train" else [loss_var]
            returns += [var for _, _, var in e.aux] if mode == "train" else []
        args = ["theta", *inputs] + (["target"] if mode != "predict" else []) + e.state_args + \
            [arg for _, _, arg in e.noise_args]
        prologue = _prologue(params)
        text = [f"def {name}_{mode}({', '.join(args)}):",
                f'    """{_DOCS[mode]}"""', *prologue, *body, f"    return {', '.join(returns)}"]
        functions.append("\n".join(lay_out_lines(text)))
        if mode == "train":
            sig.update(train_state=list(e.state_args), noise=list(e.noise_args), aux=list(e.aux))
            imports = dict(e.imports)
        elif mode == "loss":
            sig["test_state"] = list(e.state_args)
            imports.update(e.imports)
        else:
            if e.state_args != sig["test_state"]:
                raise AssertionError("loss and predict must read the same state")
            imports.update(e.imports)
    header = [f'"""Model {name}, generated by cotangent.runtime from its layers."""', "", "import numpy as np", ""]
    header += [f"from {mod} import {fn}" for fn, mod in sorted(imports.items(), key=lambda kv: (kv[1], kv[0]))]
    return "\n".join(header) + "\n\n\n" + "\n\n\n".join(functions) + "\n", sig


_DOCS = {"train": "Training-mode loss, the model's outputs, and batch statistics for the layers' state.",
         "loss": "Test-mode loss: running statistics, no dropout.",
         "predict": "Test-mode outputs."}
