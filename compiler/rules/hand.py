"""Shared pieces for hand-written rules: declaring a primitive and common type rules."""
from __future__ import annotations

from ..ir.types import Type, TupleType, FLOAT, INT, BOOL, promote
from .table import Primitive, register, TypeRuleError


def prim(name, infer, emit, jvp=None, vjp=None, differentiable=True, broadcasting=False, doc=""):
    """Declare a primitive whose rules are written by hand (array primitives)."""
    if isinstance(emit, str):
        text = emit
        emit = lambda a, p, t: text.format(*a, **dict(p))
    return register(Primitive(name, infer, emit, jvp, vjp, differentiable, broadcasting, doc))


def need_array(t, what: str, min_rank: int = 1, max_rank: int | None = None):
    if not isinstance(t, Type):
        raise TypeRuleError(f"{what} needs an array, got a tuple")
    if t.rank < min_rank or (max_rank is not None and t.rank > max_rank):
        want = f"rank {min_rank}" if max_rank == min_rank else (
            f"rank {min_rank} to {max_rank}" if max_rank else f"rank >= {min_rank}")
        raise TypeRuleError(f"{what} needs an array of {want}, got {t}")
    return t


def check_axis(axis, rank: int, what: str) -> None:
    if axis is not None and not (0 <= axis < rank):
        raise TypeRuleError(f"{what}: axis {axis} is out of range for an array of rank {rank}")


def same(t):
    return t


def float_of(t: Type) -> Type:
    return Type(FLOAT, t.rank)


def fixed(kind, rank):
    return lambda types, params: Type(kind, rank)


def first_type(types, params):
    return types[0]


def shape_tuple(rank):
    return TupleType(tuple(Type(INT, 0) for _ in range(rank)))


def tup(items):
    """Python source of a tuple literal."""
    items = list(items)
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
