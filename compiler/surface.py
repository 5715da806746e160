"""The supported NumPy surface as one table: each function and call form a user may write, and its
derivative or convention. The docs' reference page (docs/reference/numpy.md) and
`python -m cotangent rules` print it.

The rows come from the frontend's dispatch tables (every `np.NAME`, `x.NAME(...)`,
`np.linalg.NAME`, `math.NAME`, `scipy.special.NAME` and builtin that cotangent lowers), so a
function cannot be supported without a row: elementwise rows print the derivative SymPy derived
for the primitive, the others read their forms and conventions from the notes in
surface_notes.py, and a test checks that the notes and the dispatch tables name the same
functions."""
from __future__ import annotations

import math
from dataclasses import dataclass

MATH_REFUSED = ("remainder",)     # math.remainder is IEEE's remainder, not NumPy's (calls.call_math)
AREAS = ("operators", "elementwise", "special functions", "reductions", "sorting and selection",
         "indexing", "shapes", "constructors", "products", "matrix helpers", "linear algebra",
         "lists", "builtins")


@dataclass(frozen=True)
class Row:
    area: str
    spellings: tuple       # how a user writes it: ("np.var", "x.var")
    forms: str             # the call forms supported
    derivative: str        # the derivative (elementwise) or the conventions


def handler_spellings() -> set:
    """Every spelling lowered by a handler of its own (not a one-primitive elementwise name)."""
    from .frontend import calls
    out = {f"np.{n}" for n in calls.NUMPY} | {f"x.{n}" for n in calls.METHODS}
    out |= {f"np.linalg.{n}" for n in calls.LINALG} | {f"scipy.special.{n}" for n in calls.SCIPY_SPECIAL}
    out |= {f"math.{n}" for n in calls.MATH} | {f"np.{n}[...]" for n in calls.INDEXED}
    return out


def _elementwise_rows() -> list:
    """One row per elementwise primitive: its NumPy, math and scipy spellings and the derivative."""
    from .frontend import calls
    from .rules import elementwise, derive
    from .rules.table import PRIMITIVES
    from .surface_notes import NOTES, ELEMENTWISE
    by_prim: dict = {}
    for table in (calls.UNARY, calls.BINARY):
        for name, prim in table.items():
            by_prim.setdefault(prim, []).append(f"np.{name}")
    for name in sorted(set(calls.UNARY) | set(calls.BINARY)):
        prim = calls.UNARY.get(name) or calls.BINARY.get(name)
        if hasattr(math, name) and name not in MATH_REFUSED and name not in calls.MATH:
            by_prim[prim].append(f"math.{name}")
    rows = []
    for prim in sorted(by_prim):
        spellings = tuple(dict.fromkeys(by_prim[prim]))
        area = "elementwise"
        if prim in elementwise.DEFINITIONS:
            xs, _ = derive.symbols(elementwise.DEFINITIONS[prim].arity)
            derivative = ", ".join(f"d/d{x} = {p}" for x, p in zip(xs, derive.printed(prim)))
        elif not PRIMITIVES[prim].differentiable:
            derivative = "0 (no derivative)"
        else:
            derivative = NOTES.get(spellings[0], ("", "", ""))[2]
        extra = ELEMENTWISE.get(prim, "")
        arity = 2 if any(s[3:] in calls.BINARY for s in spellings if s.startswith("np.")) else 1
        rows.append(Row(area, spellings, _forms(spellings, arity), derivative + (f"; {extra}" if extra else "")))
    return rows


def _forms(spellings, arity: int) -> str:
    args = ", ".join(("x", "y", "z")[:arity])
    return f"`{spellings[0]}({args})`, broadcasting" if arity > 1 else f"`{spellings[0]}(x)`, elementwise"


def rows() -> list:
    """The whole table, by area, in a fixed order (the same text on every run)."""
    from .surface_notes import NOTES
    elementwise_prims = set()
    out = _elementwise_rows()
    for r in out:
        elementwise_prims.update(r.spellings)
    groups: dict = {}
    for spelling, (area, forms, convention) in NOTES.items():
        if spelling in elementwise_prims:
            continue
        groups.setdefault((area, forms, convention), []).append(spelling)
    out += [Row(area, tuple(sp), forms, convention) for (area, forms, convention), sp in groups.items()]
    return sorted(out, key=lambda r: (AREAS.index(r.area), r.spellings[0]))


def missing_notes() -> tuple[set, set]:
    """(spellings lowered without a note, notes naming no lowered spelling): both empty when the
    table matches the code."""
    from .surface_notes import NOTES, FIXED
    handled = handler_spellings()
    noted = set(NOTES) - FIXED
    elementwise_spellings = {s for r in _elementwise_rows() for s in r.spellings}
    return handled - set(NOTES), noted - handled - elementwise_spellings


def markdown() -> str:
    """The table as the docs' reference page shows it."""
    lines = ["| area | function | forms | derivative, conventions |", "|---|---|---|---|"]
    for r in rows():
        names = ", ".join(f"`{s}`" for s in r.spellings)
        lines.append(f"| {r.area} | {names} | {_cell(r.forms)} | {_cell(r.derivative)} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def text() -> str:
    """The table as `python -m cotangent rules` prints it: by area, one function per paragraph."""
    out, area = [], None
    for r in rows():
        if r.area != area:
            area = r.area
            out += ["", area.upper()]
        out.append(f"  {', '.join(r.spellings)}")
        out.append(f"      forms: {r.forms.replace('`', '')}")
        if r.derivative:
            out.append(f"      {r.derivative.replace('`', '')}")
    return "\n".join(out).lstrip("\n") + "\n"
