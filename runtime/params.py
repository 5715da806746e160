"""All of a model's parameters in one contiguous float64 buffer, with a named view per parameter.

One buffer means the gradient is one flat array too (the compiled loss slices and reshapes it), and
an optimizer step is one loop over memory instead of one small update per tensor."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np


@dataclass(frozen=True)
class ParamSpec:
    """A parameter to allocate: its name, shape, initializer and whether weight decay applies."""
    name: str
    shape: tuple
    init: Callable          # (shape, rng) -> array
    regularize: bool = True

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


class ParamBuffer:
    """A flat buffer `data` and, for each parameter, its offset, shape and a view into `data`."""

    def __init__(self, specs: list[ParamSpec], rng: np.random.Generator | int | None = 0):
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter names repeat: {sorted(n for n in names if names.count(n) > 1)}")
        self.specs = list(specs)
        self.by_name: dict[str, ParamSpec] = {s.name: s for s in specs}
        self.offsets: dict[str, tuple[int, int]] = {}
        start = 0
        for s in specs:
            self.offsets[s.name] = (start, start + s.size)
            start += s.size
        self.data = np.zeros(start)
        self.initialize(rng)

    def initialize(self, rng: np.random.Generator | int | None = 0) -> None:
        """Fill every parameter from its initializer, in order, from one seeded generator."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        for s in self.specs:
            self[s.name][...] = np.asarray(s.init(s.shape, rng), dtype=np.float64).reshape(s.shape)

    def __len__(self) -> int:
        return self.data.size

    def __iter__(self) -> Iterator[str]:
        return iter(self.offsets)

    def __getitem__(self, name: str) -> np.ndarray:
        """The view of parameter `name` (writing into it writes into the buffer)."""
        try:
            a, b = self.offsets[name]
        except KeyError:
            raise KeyError(f"no parameter {name!r}; parameters: {', '.join(self.offsets)}") from None
        return self.data[a:b].reshape(self.spec(name).shape)

    def spec(self, name: str) -> ParamSpec:
        return self.by_name[name]

    def named(self) -> dict[str, np.ndarray]:
        """Every parameter's view, by name."""
        return {n: self[n] for n in self.offsets}

    def grads(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """A flat gradient split into named arrays shaped like the parameters (views of `flat`)."""
        by_name = self.by_name
        return {n: flat[a:b].reshape(by_name[n].shape) for n, (a, b) in self.offsets.items()}

    def load(self, named: dict[str, np.ndarray]) -> None:
        """Copy named arrays into the buffer, checking that names and shapes match."""
        missing = set(self.offsets) - set(named)
        extra = set(named) - set(self.offsets)
        if missing or extra:
            raise ValueError(f"parameters do not match: missing {sorted(missing)}, unexpected {sorted(extra)}")
        for n, v in named.items():
            if tuple(np.shape(v)) != tuple(self.spec(n).shape):
                raise ValueError(f"parameter {n!r} has shape {tuple(np.shape(v))}, expected {self.spec(n).shape}")
            self[n][...] = v

    def regularized_mask(self) -> np.ndarray:
        """1.0 where weight decay applies (weights), 0.0 elsewhere (biases, norms' scales)."""
        mask = np.zeros(self.data.size)
        for s in self.specs:
            if s.regularize:
                a, b = self.offsets[s.name]
                mask[a:b] = 1.0
        return mask

    def summary(self) -> str:
        rows = [f"{n:<28} {str(self.spec(n).shape):<18} {b - a:>10,}" for n, (a, b) in self.offsets.items()]
        return "\n".join(rows + [f"{'total':<28} {'':<18} {self.data.size:>10,}"])
