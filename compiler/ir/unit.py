"""The name of a compilation unit: a user function, the types of its parameters, and the
transformations applied to it. Call statements in the IR carry one, and the linker
(compiler/units.py) turns each into generated code compiled once."""
from __future__ import annotations

from dataclasses import dataclass

from .types import Type, TupleType, FLOAT, stacked


@dataclass(frozen=True)
class UnitKey:
    func: object              # the Python function
    specs: tuple              # the Type of each parameter
    chain: tuple = ()         # ("vjp", mask) or ("jvp", mask) steps, applied in order; () is the function itself

    def __repr__(self) -> str:        # the IR printer shows it (no object addresses: deterministic)
        return f"<{self.describe()}>"

    @property
    def root(self) -> "UnitKey":
        """The function itself, before any transformation."""
        return UnitKey(self.func, self.specs)

    @property
    def parent(self) -> "UnitKey":
        return UnitKey(self.func, self.specs, self.chain[:-1])

    def vjp(self, mask: tuple) -> "UnitKey":
        """The unit that takes this one's parameters and its output's adjoint, and returns the
        adjoints of the parameters `mask` selects (one value, or a tuple of several)."""
        return UnitKey(self.func, self.specs, self.chain + (("vjp", tuple(mask)),))

    def vjpv(self, mask: tuple) -> "UnitKey":
        """The VJP unit that also returns the value: (value, the adjoints `mask` selects...), flat
        (transforms/summed_calls.py: a loop that sums the values needs no forward sweep)."""
        return UnitKey(self.func, self.specs, self.chain + (("vjpv", tuple(mask)),))

    def jvp(self, mask: tuple) -> "UnitKey":
        """The unit that takes this one's parameters and the tangents of those `mask` selects, and
        returns (value, tangent)."""
        return UnitKey(self.func, self.specs, self.chain + (("jvp", tuple(mask)),))

    def vjvp(self, mask: tuple) -> "UnitKey":
        """The vector JVP unit: like jvp, with a leading axis of directions on each tangent
        (transforms/directions.py)."""
        return UnitKey(self.func, self.specs, self.chain + (("vjvp", tuple(mask)),))

    def fwd(self, mask: tuple) -> "UnitKey":
        """The forward sweep of this unit's VJP: returns (value, residuals...), what the adjoint
        sweep needs of the forward computation."""
        return UnitKey(self.func, self.specs, self.chain + (("fwd", tuple(mask)),))

    def bwd(self, mask: tuple) -> "UnitKey":
        """The adjoint sweep of this unit's VJP: takes the parameters, the residuals tuple from
        the forward sweep and the output's adjoint; returns the adjoints `mask` selects."""
        return UnitKey(self.func, self.specs, self.chain + (("bwd", tuple(mask)),))

    @property
    def suffix(self) -> str:
        return "".join(f"_{kind}" for kind, _ in self.chain)

    @property
    def name(self) -> str:
        return getattr(self.func, "__name__", "unit") + self.suffix

    def describe(self, last_mask: bool = True) -> str:
        """e.g. `vjp of layer(x: float[:,:], W: float[:,:]) with respect to x, W`; without the
        last step's mask when `last_mask` is False (forward sweeps for different masks are often
        the same code, and then the same module)."""
        code = getattr(self.func, "__code__", None)
        names = list(code.co_varnames[:code.co_argcount]) if code else [f"a{i}" for i in range(len(self.specs))]
        text = f"{getattr(self.func, '__qualname__', self.name)}({', '.join(f'{n}: {t}' for n, t in zip(names, self.specs))})"
        text = text.replace("<locals>.", "")
        for step, (kind, mask) in enumerate(self.chain):
            if not last_mask and step == len(self.chain) - 1:
                text = f"{kind} of {text}"
                break
            wrt = [n for n, m in zip(names, mask) if m]
            extra = sum(mask[len(names):])
            if extra:
                wrt.append("the output's adjoint" if kind == "jvp" and len(mask) == len(names) + 1 else
                           f"{extra} more")
            text = f"{kind} of {text} with respect to {', '.join(wrt)}"
            names = names + {"vjp": ["out_bar"], "vjpv": ["out_bar"], "fwd": [], "bwd": ["residuals", "out_bar"]}.get(
                kind, [f"{n}_dot" for n, m in zip(names, mask) if m])
        return text


def param_types(key: UnitKey, result_of) -> list:
    """The parameter types of a unit; `result_of(key)` gives the result type of a unit."""
    if not key.chain:
        return list(key.specs)
    parent = key.parent
    params = param_types(parent, result_of)
    kind, mask = key.chain[-1]
    if kind in ("vjp", "vjpv"):
        out = result_of(parent)
        return params + [Type(FLOAT, out.rank)]
    if kind == "fwd":
        return params
    if kind == "bwd":
        out = result_of(parent)
        return params + [result_of(parent.fwd(mask)), Type(FLOAT, out.rank)]
    if kind == "vjvp":
        return params + [stacked(t) for t, m in zip(params, mask) if m]
    return params + [t for t, m in zip(params, mask) if m]


def transformed_result(key: UnitKey, result_of) -> object:
    """The result type of a transformed unit, from its parent's (the function itself is lowered
    to find out)."""
    kind, mask = key.chain[-1]
    parent = key.parent
    if kind in ("vjp", "bwd", "vjpv"):
        params = param_types(parent, result_of)
        grads = [t for t, m in zip(params, mask) if m]
        if kind == "vjpv":
            return TupleType((result_of(parent),) + tuple(grads))
        return grads[0] if len(grads) == 1 else TupleType(tuple(grads))
    r = result_of(parent)
    return TupleType((r, stacked(r) if kind == "vjvp" else r))
