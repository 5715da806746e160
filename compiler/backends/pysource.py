"""IR to Python source: the code a user reads. One line per statement, the user's names, and a
comment pointing back to the source line each group of lines came from. Deterministic: the same
IR always prints the same bytes."""
from __future__ import annotations

import re

from ..ir.nodes import Assign, SetItem, Return, Var, Const, Function
from ..ir.types import Type
from ..rules import table
from ..rules.indexing import index_text

HELPERS = ("unbroadcast", "mean", "amax", "amin", "prod", "prod_others", "squeeze", "index_add",
           "diag_embed_like")
COMMENT_COLUMN = 36


def value_text(v) -> str:
    if isinstance(v, tuple):
        inner = ", ".join(value_text(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, Var):
        return v.name
    if isinstance(v, Const):
        if isinstance(v.value, float) and (v.value != v.value or abs(v.value) == float("inf")):
            return {"nan": "np.nan", "inf": "np.inf", "-inf": "-np.inf"}[repr(v.value)]
        return repr(v.value)
    raise TypeError(v)


def _returned(v) -> str:
    """A 1-tuple prints as its element: `return d, (a_bar, b_bar)`, `return d, a_bar`."""
    if isinstance(v, tuple) and len(v) == 1:
        return _returned(v[0])
    return value_text(v)


def _type_of(fn: Function, v):
    if isinstance(v, Var):
        return fn.types[v.name]
    from ..rules.builder import const_type
    return const_type(v.value)


def statement_code(fn: Function, s) -> str:
    if isinstance(s, Assign):
        prim = table.get(s.op)
        args = [value_text(a) for a in s.args]
        return f"{s.target} = {prim.emit(args, dict(s.params), [_type_of(fn, a) for a in s.args])}"
    if isinstance(s, SetItem):
        pattern = dict(s.params)["index"]
        return f"{s.target}[{index_text(pattern, [value_text(a) for a in s.index_args])}] = {value_text(s.value)}"
    if isinstance(s, Return):
        return "return " + ", ".join(_returned(v) for v in s.values)
    raise TypeError(f"the Python backend cannot print {type(s).__name__} yet")


def _comment(s, previous) -> str:
    loc, role = s.loc, s.role
    if loc is None or isinstance(s, Return):
        return ""
    key = (loc.filename, loc.line, role)
    if previous == key:
        return ""
    if role == "adjoint":
        return f"# adjoint of {loc.short()}"
    if role == "tangent":
        return f"# tangent of {loc.short()}"
    return f"# {loc.short()}  {loc.text.strip()}"


def function_source(fn: Function, decorator: str = "") -> tuple[list, dict]:
    """Lines of one function and a map from line index (0-based) to the statement's location."""
    lines = []
    if decorator:
        lines.append(decorator)
    lines.append(f"def {fn.name}({', '.join(fn.params)}):")
    if fn.doc:
        lines.append(f'    """{fn.doc}"""')
    body, locmap, previous = [], {}, None
    for s in fn.body:
        code = statement_code(fn, s)
        comment = _comment(s, previous)
        previous = (s.loc.filename, s.loc.line, s.role) if s.loc else None
        body.append((code, comment, s.loc))
    width = min(max((len(c) for c, _, _ in body), default=0), COMMENT_COLUMN)
    for code, comment, loc in body:
        locmap[len(lines)] = loc
        text = "    " + code
        if comment:
            text = text.ljust(4 + width) + "  " + comment
        lines.append(text.rstrip())
    return lines, locmap


def module_source(functions: list, target: str, header: str) -> tuple[str, dict]:
    """A whole module: imports, then each function decorated for the target."""
    lines = [f"# {line}" for line in header.splitlines()]
    lines += ["import numpy as np"]
    if target == "cpu":
        lines += ["import numba", "import cotangent.backends.numba_support  # noqa: F401  (Numba versions of the helpers)"]
    bodies, locmap = [], {}
    for fn in functions:
        decorator = "@numba.njit(cache=True)" if target == "cpu" else ""
        fl, fmap = function_source(fn, decorator)
        bodies.append((fl, fmap))
    text_so_far = "\n".join(b for fl, _ in bodies for b in fl)
    used = [h for h in HELPERS if re.search(rf"(?<![\w.]){h}\(", text_so_far)]
    if used:
        lines.append(f"from cotangent.backends.support import {', '.join(used)}")
    for fl, fmap in bodies:
        lines += ["", ""]
        offset = len(lines)
        for k, loc in fmap.items():
            locmap[offset + k + 1] = loc      # 1-based line numbers, as tracebacks give them
        lines += fl
    return "\n".join(lines) + "\n", locmap
