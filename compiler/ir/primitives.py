"""The registry of primitives: what an IR statement's op may name. Each entry says how to type it,
how to print it, and its tangent (JVP) and adjoint (VJP) rules; the rules themselves are declared in
rules/ (siblings next to each other, as in JAX's lax.py), which fills this registry when imported."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

PRIMITIVES: dict[str, "Primitive"] = {}

# support functions that rules print calls to (backends/support.py, numba_support.py, and the
# support_*.py modules they import); the frontend keeps these names free of user variables. A rule
# module that prints a call to a helper of its own adds the name with register_helpers.
HELPERS = ["unbroadcast", "mean", "amax", "amin", "prod", "prod_others", "squeeze", "index_add",
           "diag_embed_like"]
# the cached library calls of loop-nest code (backends/kernels.py), kept free of user names too
KERNELS = ["matmul", "empty", "zeros", "zeros_like", "full", "empty_bool", "zeros_int"]
# helpers with a cached kernel of the same name, which loop-nest code imports from kernels.py
HELPER_KERNELS = ["unbroadcast"]


def register_helpers(*names: str) -> None:
    """Declare support functions that generated code calls by name (importable from
    cotangent.backends.support, with a Numba overload in the matching numba support module)."""
    for name in names:
        if name in HELPERS or name in KERNELS:
            raise ValueError(f"helper {name!r} declared twice")
        HELPERS.append(name)


class TypeRuleError(Exception):
    """Raised by a type rule; the caller turns it into a CompileError at the statement's line."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


@dataclass
class Primitive:
    name: str
    infer: Callable            # (arg_types, params) -> Type
    emit: Callable             # (arg_texts, params, arg_types) -> str
    jvp: Optional[Callable] = None   # (b, out, args, tangents, params) -> Sym | None
    vjp: Optional[Callable] = None   # (b, g, out, args, active, params) -> list[Sym | None]
    differentiable: bool = True      # False: the derivative is zero (comparisons, sign, floor...)
    broadcasting: bool = False       # elementwise: adjoints are reduced back over broadcast axes
    doc: str = ""


def register(prim: Primitive) -> Primitive:
    if prim.name in PRIMITIVES:
        raise ValueError(f"primitive {prim.name!r} declared twice")
    if not prim.differentiable:
        # the derivative is zero: no tangent, no adjoint contributions. Forward mode asks for a
        # tangent here when such a value is later written with varied elements (the zeros an
        # adjoint accumulates into, under a Hessian), and takes "none" as zeros.
        prim.jvp = prim.jvp or (lambda b, out, args, tangents, params: None)
        prim.vjp = prim.vjp or (lambda b, g, out, args, active, params: [None] * len(args))
    PRIMITIVES[prim.name] = prim
    return prim


def get(name: str) -> Primitive:
    return PRIMITIVES[name]
