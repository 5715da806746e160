"""Types as Numba sees them at specialization: a kind (float, int, bool) and a rank, no sizes."""
from __future__ import annotations

from dataclasses import dataclass

FLOAT, INT, BOOL = "float", "int", "bool"
_ORDER = {BOOL: 0, INT: 1, FLOAT: 2}


@dataclass(frozen=True)
class Type:
    kind: str          # FLOAT, INT or BOOL
    rank: int = 0      # 0 for a scalar

    def __str__(self) -> str:
        return self.kind if self.rank == 0 else f"{self.kind}[{','.join(':' * self.rank)}]"

    @property
    def is_float(self) -> bool:
        return self.kind == FLOAT

    @property
    def is_array(self) -> bool:
        return self.rank > 0

    def with_rank(self, rank: int) -> "Type":
        return Type(self.kind, rank)

    def with_kind(self, kind: str) -> "Type":
        return Type(kind, self.rank)


@dataclass(frozen=True)
class TupleType:
    """A tuple of scalars or arrays: `x.shape`, or a function returning several values."""
    elts: tuple

    def __str__(self) -> str:
        return "(" + ", ".join(map(str, self.elts)) + ")"

    is_float = False
    is_array = False
    rank = -1


@dataclass(frozen=True)
class TapeType:
    """A tape (a list used as a stack) that a unit's forward sweep hands to its adjoint sweep."""
    holds: str = ""

    def __str__(self) -> str:
        return "tape"

    kind = None
    is_float = False
    is_array = False
    rank = -1


def stacked(ty):
    """The type of K tangents of a value of type `ty` (vector forward mode): a leading axis of
    directions on each array; a tuple's items each stacked."""
    if isinstance(ty, TupleType):
        return TupleType(tuple(stacked(t) for t in ty.elts))
    return Type(FLOAT, ty.rank + 1)


def scalar(kind: str) -> Type:
    return Type(kind, 0)


def array(kind: str, rank: int) -> Type:
    return Type(kind, rank)


def promote(*kinds: str) -> str:
    """The kind NumPy gives to arithmetic on these kinds (bool + bool is int here, as in Python)."""
    k = max(kinds, key=_ORDER.__getitem__)
    return INT if k == BOOL else k
