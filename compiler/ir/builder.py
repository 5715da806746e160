"""Builds IR statements from rule code that reads like maths: `g * y` appends `t = mul(g, y)`.

Rules receive `Sym`s (a value plus its type) and a `Builder`; every operation on them appends a
typed Assign to the builder's block. Trivial algebra (x*1, x+0, -(-x)) is folded here so that the
generated source stays short."""
from __future__ import annotations

from dataclasses import dataclass

from .nodes import Assign, SetItem, Const, Var, Loc
from .types import Type, FLOAT, INT, BOOL, promote
from ..errors import CompileError
from . import primitives as table


@dataclass(frozen=True)
class Sym:
    value: object      # Var or Const
    type: Type
    builder: "Builder" = None

    # --- arithmetic, each one IR statement ---
    def _b(self, other):
        return self.builder.lift(other)

    def __add__(self, o): return self.builder.op("add", self, self._b(o))
    def __radd__(self, o): return self.builder.op("add", self._b(o), self)
    def __sub__(self, o): return self.builder.op("sub", self, self._b(o))
    def __rsub__(self, o): return self.builder.op("sub", self._b(o), self)
    def __mul__(self, o): return self.builder.op("mul", self, self._b(o))
    def __rmul__(self, o): return self.builder.op("mul", self._b(o), self)
    def __truediv__(self, o): return self.builder.op("truediv", self, self._b(o))
    def __rtruediv__(self, o): return self.builder.op("truediv", self._b(o), self)
    def __pow__(self, o): return self.builder.op("pow", self, self._b(o))
    def __neg__(self): return self.builder.op("neg", self)
    def __matmul__(self, o): return self.builder.op("matmul", self, self._b(o))
    def __gt__(self, o): return self.builder.op("gt", self, self._b(o))
    def __lt__(self, o): return self.builder.op("lt", self, self._b(o))
    def __ge__(self, o): return self.builder.op("ge", self, self._b(o))
    def __le__(self, o): return self.builder.op("le", self, self._b(o))

    def eq(self, o): return self.builder.op("eq", self, self._b(o))

    @property
    def rank(self) -> int:
        return self.type.rank

    @property
    def is_const(self) -> bool:
        return isinstance(self.value, Const)

    def const_value(self):
        return self.value.value if isinstance(self.value, Const) else None

    def __hash__(self):
        return hash((self.value, self.type))

    def __eq__(self, other):
        return isinstance(other, Sym) and (self.value, self.type) == (other.value, other.type)


class Builder:
    """Appends typed statements to `stmts`; `types` is the function-wide name -> Type map."""

    def __init__(self, types: dict, names, loc: Loc | None = None, role: str = "primal"):
        self.types = types
        self.names = names          # a NameAllocator
        self.stmts: list = []
        self.loc = loc
        self.role = role
        self.defs: dict = {}         # name -> the primitive that last assigned it
        self.phi_sources: dict = {}  # carried/merged name -> the values assigned to it
        self.written: set = set()    # arrays written element by element
        self.pinned: set = set()     # temporaries bound to a callee's parameter: never renamed

    # --- values ---
    def sym(self, value) -> Sym:
        if isinstance(value, Sym):
            return value
        if isinstance(value, Const):
            return Sym(value, const_type(value.value), self)
        return Sym(value, self.types[value.name], self)

    def const(self, v) -> Sym:
        return Sym(Const(v), const_type(v), self)

    def lift(self, v) -> Sym:
        if isinstance(v, Sym):
            return v
        if isinstance(v, (Var, Const)):
            return self.sym(v)
        return self.const(v)

    # --- statements ---
    def op(self, name: str, *args, target: str | None = None, **params) -> Sym:
        args = tuple(self.lift(a) for a in args)
        folded = _fold(name, args)
        if folded is not None and target is None:
            return folded
        prim = table.get(name)
        pitems = tuple(sorted(params.items()))
        try:
            ty = prim.infer([a.type for a in args], dict(pitems))
        except table.TypeRuleError as e:
            raise CompileError(str(e), self.loc, e.hint) from None
        tgt = target or self.names.fresh("t")
        self.types[tgt] = ty
        self.defs[tgt] = name
        self.stmts.append(Assign(tgt, name, tuple(a.value for a in args), pitems, self.loc, self.role))
        return Sym(Var(tgt), ty, self)

    def name(self, sym: Sym, target: str) -> Sym:
        """Give `sym` the name `target`: rename the statement that made it if it is a temporary
        made just now, otherwise emit a copy."""
        if (self.stmts and isinstance(sym.value, Var) and isinstance(self.stmts[-1], Assign)
                and self.stmts[-1].target == sym.value.name
                and self.names.is_temp(sym.value.name)):
            last = self.stmts[-1]
            del self.types[last.target]
            last.target = target
            self.types[target] = sym.type
            self.defs[target] = self.defs.pop(sym.value.name, last.op)
            return Sym(Var(target), sym.type, self)
        return self.op("alias", sym, target=target)

    def setitem(self, target: Sym, pattern: tuple, operands, value) -> None:
        """target[index] = value, for adjoints that scatter into a fresh array."""
        self.stmts.append(SetItem(target.value.name, tuple(self.lift(o).value for o in operands),
                                  (("index", pattern),), self.lift(value).value, self.loc, self.role))

    def call(self, name: str, *args, **params) -> Sym:
        return self.op(name, *args, **params)


def const_type(v) -> Type:
    if isinstance(v, bool):
        return Type(BOOL, 0)
    if isinstance(v, int):
        return Type(INT, 0)
    return Type(FLOAT, 0)


def _is(s: Sym, v) -> bool:
    c = s.const_value()
    return c is not None and not isinstance(c, bool) and c == v


def _keeps(x: Sym, c: Sym) -> bool:
    """x op c has x's type exactly (c a scalar constant), so the op may be dropped."""
    if x.type.kind == BOOL or c.type.rank != 0:
        return False
    return promote(x.type.kind, c.type.kind) == x.type.kind


def _is_number(s: Sym) -> bool:
    c = s.const_value()
    return c is not None and not isinstance(c, bool)


def _fold(name, args):
    """Algebraic identities that keep generated code short: x*1, x+0, x-0, x/1, x**1, -(const)."""
    if name in ("add", "sub", "mul") and all(_is_number(a) for a in args) \
            and all(isinstance(a.const_value(), int) for a in args):
        x, y = (a.const_value() for a in args)
        v = x + y if name == "add" else x - y if name == "sub" else x * y
        return Sym(Const(v), args[0].type, args[0].builder)
    if any(a.rank for a in args) and args[0].builder is not None and args[0].builder.role == "primal":
        return None         # x + 0.0 on an array is a new array in Python: a later write must not reach x
    if name in ("mul", "add"):
        unit = 1 if name == "mul" else 0
        a, b = args
        if _is(a, unit) and _keeps(b, a):
            return b
        if _is(b, unit) and _keeps(a, b):
            return a
    elif name in ("sub", "truediv", "pow"):
        unit = 0 if name == "sub" else 1
        a, b = args
        if _is(b, unit) and _keeps(a, b):
            return a
    elif name == "neg":
        (a,) = args
        if a.is_const and isinstance(a.const_value(), (int, float)) and not isinstance(a.const_value(), bool):
            return Sym(Const(-a.const_value()), a.type, a.builder)
    return None


class NameAllocator:
    """Deterministic fresh names. A user's name is used as is on its first assignment and gets a
    version (x_1, x_2) after; temporaries (t1, t2) avoid every name the user wrote."""

    def __init__(self, avoid=()):
        self.avoid = set(avoid)
        self.assigned: set = set()
        self.temps: set = set()
        self.counters: dict = {}

    def reserve(self, name: str) -> None:
        self.assigned.add(name)

    def _free(self, name: str) -> bool:
        return name not in self.assigned

    def fresh(self, base: str = "t", temp: bool = True) -> str:
        numbered = base == "t" and temp
        if not numbered and self._free(base) and (not temp or base not in self.avoid):
            name = base
        else:
            key = base if numbered else (base, "version")
            n = self.counters.get(key, 0)
            while True:
                n += 1
                name = f"{base}{n}" if numbered else f"{base}_{n}"
                if self._free(name) and name not in self.avoid:
                    break
            self.counters[key] = n
        self.assigned.add(name)
        if temp:
            self.temps.add(name)
        return name

    def is_temp(self, name: str) -> bool:
        return name in self.temps
