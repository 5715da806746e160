"""IR nodes. Statements are three-address assignments to names; control flow stays structured so
that the reverse sweep can mirror it. Every statement carries the source location it came from."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union


@dataclass(frozen=True)
class Loc:
    filename: str
    line: int
    col: int
    text: str          # the source line, stripped

    def short(self) -> str:
        import os
        return f"{os.path.basename(self.filename)}:{self.line}"


@dataclass(frozen=True)
class Var:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Const:
    value: Any         # a Python float, int, bool or None

    def __str__(self) -> str:
        return repr(self.value)


Value = Union[Var, Const]


@dataclass
class Assign:
    """target = op(args...; params). params are static (axis, keepdims, index pattern...)."""
    target: str
    op: str
    args: tuple
    params: tuple = ()           # sorted (key, value) pairs, hashable
    loc: Loc | None = None
    role: str = "primal"         # "primal", "adjoint" or "tangent": how the backend comments it

    def param(self, key: str, default: Any = None) -> Any:
        for k, v in self.params:
            if k == key:
                return v
        return default


@dataclass
class SetItem:
    """target[index] = value (or target[index] += value when op is "add"), the index built like
    Assign('getitem') params/args. Writes change the array in place."""
    target: str
    index_args: tuple
    params: tuple
    value: Value
    loc: Loc | None = None
    role: str = "primal"
    op: str | None = None


@dataclass
class Return:
    values: tuple                # one Value, or several for a tuple return
    loc: Loc | None = None
    role: str = "primal"


@dataclass
class If:
    cond: Value
    body: list
    orelse: list
    loc: Loc | None = None
    role: str = "primal"


@dataclass
class For:
    """for var in range(start, stop, step). `counter`, when set, names a variable that counts the
    trips actually run (for loops that may break); `checkpoint`, when set, the number of
    snapshots its reversal keeps instead of a tape (transforms/checkpoint.py)."""
    var: str
    start: Value
    stop: Value
    step: Value
    body: list
    loc: Loc | None = None
    role: str = "primal"
    counter: str | None = None
    checkpoint: Any = None       # ct.checkpointed(range(...), snapshots=s): s (a Value); None: taped
    mirrors: tuple | None = None  # an adjoint loop's (start, stop, step) of the loop it runs backwards:
                                  # its index takes some of that loop's values (ir/bounds.py)


@dataclass
class While:
    cond_body: list              # statements that compute `cond`, re-run before every trip
    cond: Value
    body: list
    loc: Loc | None = None
    role: str = "primal"
    counter: str | None = None


@dataclass
class Break:
    loc: Loc | None = None
    role: str = "primal"


@dataclass
class Continue:
    loc: Loc | None = None
    role: str = "primal"


@dataclass
class TapeNew:
    """tape = [], a stack of the values of `holds` that the adjoint sweep reads back; or, with
    `top` set, an array of `capacity` numbers of `kind` and `top` the count of those recorded
    (transforms/tapes.py's array_tapes)."""
    tape: str
    holds: str
    where: str                   # a description of where the values are recorded
    loc: Loc | None = None
    role: str = "tape"
    capacity: Value | None = None
    kind: str | None = None
    top: str | None = None
    block: str | None = None     # an array of several tapes' rows, the row `column` being this one's
    column: int = 0


@dataclass
class Push:
    tape: str
    value: Value
    loc: Loc | None = None
    role: str = "tape"
    top: str | None = None       # an array tape's count of values recorded


@dataclass
class Pop:
    target: str
    tape: str
    loc: Loc | None = None
    role: str = "tape"
    top: str | None = None


Stmt = Union[Assign, SetItem, Return, If, For, While, Break, Continue, TapeNew, Push, Pop]


@dataclass
class Function:
    name: str
    params: list                 # parameter names, after flattening tuples and dicts
    body: list
    filename: str = "<unknown>"
    types: dict = field(default_factory=dict)   # name -> Type, filled by type inference
    doc: str = ""


def walk(stmts: list):
    """Every statement, depth first, in source order."""
    for s in stmts:
        yield s
        if isinstance(s, If):
            yield from walk(s.body)
            yield from walk(s.orelse)
        elif isinstance(s, For):
            yield from walk(s.body)
        elif isinstance(s, While):
            yield from walk(s.cond_body)
            yield from walk(s.body)


def operands(s) -> tuple:
    """The values a statement reads."""
    if isinstance(s, Assign):
        return s.args
    if isinstance(s, SetItem):
        return (Var(s.target),) + tuple(s.index_args) + (s.value,)
    if isinstance(s, Return):
        return tuple(flat_values(s.values))
    if isinstance(s, If):
        return (s.cond,)
    if isinstance(s, For):
        return (s.start, s.stop, s.step)
    if isinstance(s, While):
        return (s.cond,)
    if isinstance(s, Push):
        return (s.value,) + ((Var(s.top),) if s.top else ())
    if isinstance(s, Pop) and s.top:
        return (Var(s.top),)
    if isinstance(s, TapeNew):      # an array tape: its length, or the array it is a row of
        return tuple(v for v in (s.capacity, Var(s.block) if s.block else None) if v is not None)
    return ()


def blocks(s) -> list:
    """The statement lists nested directly in a statement."""
    if isinstance(s, If):
        return [s.body, s.orelse]
    if isinstance(s, For):
        return [s.body]
    if isinstance(s, While):
        return [s.cond_body, s.body]
    return []


def names_in(v):
    """The variable names in a value or a (nested) tuple of values, in order."""
    if isinstance(v, Var):
        yield v.name
    elif isinstance(v, tuple):
        for x in v:
            yield from names_in(x)


def flat_values(values):
    """The items of a tuple, nested tuples opened in order (a Return's values, a result's leaves)."""
    for v in values:
        if isinstance(v, tuple):
            yield from flat_values(v)
        else:
            yield v
