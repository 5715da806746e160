"""What a layer is: a pure differentiable function plus the parameters, state and noise it needs,
and the one line (or few lines) of model source that calls it.

A model is composed by writing its source: each layer emits a call to its function into one Python
function, which cotangent then differentiates as a whole. So the gradient of a whole network is one
generated function that a reader can print, and no layer has a backward pass of its own."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..params import ParamSpec


@dataclass(frozen=True)
class StateSpec:
    """A non-trained array a layer keeps between batches (BatchNorm's running mean), and its
    initial value; the compiled function receives it as an argument."""
    name: str
    shape: tuple
    fill: float = 0.0


@dataclass(frozen=True)
class NoiseSpec:
    """Random input drawn fresh for every training batch outside the compiled function (a dropout
    mask): `draw(rng, batch_shape)` returns it. Generated code stays deterministic; the seed
    lives in the training loop."""
    name: str
    draw: Callable


class Emitter:
    """Collects the lines of a generated model function and the names they use."""

    def __init__(self, train: bool, inputs: dict[str, str]):
        self.train = train
        self.inputs = inputs          # data input name -> argument name
        self.lines: list[str] = []
        self.imports: dict[str, str] = {}
        self.state_args: list[str] = []
        self.noise_args: list[tuple[object, NoiseSpec, str]] = []
        self.aux: list[tuple[object, str, str]] = []      # (layer, state name, variable)
        self._used: set[str] = set()
        self.prefix = ""

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self._used:
            i += 1
            name = f"{base}_{i}"
        self._used.add(name)
        return name

    def use(self, fn: Callable) -> str:
        """The name to call `fn` by in the generated module (imported from where it is defined)."""
        if self.imports.get(fn.__name__, fn.__module__) != fn.__module__:
            raise ValueError(f"two functions named {fn.__name__} ({fn.__module__}, {self.imports[fn.__name__]})")
        self.imports[fn.__name__] = fn.__module__
        self._used.add(fn.__name__)        # a local of that name would shadow the function
        return fn.__name__

    def line(self, text: str) -> None:
        self.lines.append(self.prefix + text)

    def call(self, fn: Callable, args: list[str], out: str, comment: str = "") -> str:
        """`out = fn(args...)`: one line, with an optional comment; returns the fresh output name."""
        fn_name = self.use(fn)
        out = self.fresh(out)
        note = f"    # {comment}" if comment else ""
        self.line(f"{out} = {fn_name}({', '.join(args)}){note}")
        return out

    def param(self, layer: "Layer", name: str) -> str:
        return f"{layer.name}_{name}"

    def state(self, layer: "Layer", name: str) -> str:
        arg = f"{layer.name}_{name}"
        if arg not in self.state_args:
            self.state_args.append(arg)
        return arg

    def noise(self, layer: "Layer", spec: NoiseSpec) -> str:
        arg = f"{layer.name}_{spec.name}"
        self.noise_args.append((layer, spec, arg))
        return arg

    def output_state(self, layer: "Layer", name: str, var: str) -> None:
        """Return `var` (a batch statistic) from the training function, for `layer.update_state`."""
        self.aux.append((layer, name, var))

    def input(self, name: str) -> str:
        try:
            return self.inputs[name]
        except KeyError:
            raise ValueError(f"the model has no input {name!r}; its inputs: {', '.join(self.inputs)}") from None


class Layer:
    """Base class. Subclasses set `kind`, and implement `build` and `emit`; layers with parameters,
    state or noise also implement `param_specs`, `state_specs`, `noise_specs`, `update_state`."""

    kind = "layer"

    def __init__(self):
        self.name = self.kind
        self.input_shape: tuple | None = None
        self.output_shape: tuple | None = None

    def build(self, input_shape: tuple) -> tuple:
        """Fix the per-sample input shape (no batch axis); return the per-sample output shape."""
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        return self.output_shape

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def param_specs(self) -> list[ParamSpec]:
        return []

    def state_specs(self) -> list[StateSpec]:
        return []

    def noise_specs(self) -> list[NoiseSpec]:
        return []

    def update_state(self, state: dict[str, np.ndarray], batch: dict[str, np.ndarray]) -> None:
        """Fold the batch statistics this layer returned in training into its state."""

    def emit(self, e: Emitter, x: str) -> str:
        raise NotImplementedError

    def sublayers(self) -> list["Layer"]:
        return []

    def describe(self) -> str:
        return f"{type(self).__name__}"

    def __repr__(self) -> str:
        return self.describe()
