"""A plain-text dump of the IR, one statement a line, as `print(ct.ir(f))` shows it."""
from __future__ import annotations

from .nodes import Assign, SetItem, Return, If, For, While, Break, Continue, Function, TapeNew, Push, Pop


def _params(s) -> str:
    return "".join(f", {k}={v!r}" for k, v in s.params)


def _lines(stmts, indent, types, out):
    pad = "    " * indent
    for s in stmts:
        if isinstance(s, Assign):
            ty = types.get(s.target)
            tail = f"    : {ty}" if ty is not None else ""
            where = f"    # line {s.loc.line}" if s.loc else ""
            out.append(f"{pad}{s.target} = {s.op}({', '.join(map(str, s.args))}{_params(s)}){tail}{where}")
        elif isinstance(s, SetItem):
            arrow = "+=" if s.op == "add" else "<-"
            out.append(f"{pad}setitem({s.target}, {', '.join(map(str, s.index_args))}{_params(s)}) {arrow} {s.value}")
        elif isinstance(s, Return):
            out.append(f"{pad}return {', '.join(map(str, s.values))}")
        elif isinstance(s, If):
            out.append(f"{pad}if {s.cond}:")
            _lines(s.body, indent + 1, types, out)
            if s.orelse:
                out.append(f"{pad}else:")
                _lines(s.orelse, indent + 1, types, out)
        elif isinstance(s, For):
            counted = f"  (trips counted in {s.counter})" if s.counter else ""
            out.append(f"{pad}for {s.var} in range({s.start}, {s.stop}, {s.step}):{counted}")
            _lines(s.body, indent + 1, types, out)
        elif isinstance(s, While):
            out.append(f"{pad}while:")
            _lines(s.cond_body, indent + 1, types, out)
            out.append(f"{pad}  test {s.cond}")
            _lines(s.body, indent + 1, types, out)
        elif isinstance(s, Break):
            out.append(f"{pad}break")
        elif isinstance(s, Continue):
            out.append(f"{pad}continue")
        elif isinstance(s, TapeNew):
            size = (f"{s.block}[{s.column}]" if s.block else f"array({s.capacity}, {s.kind})" if s.top
                    else "tape()")
            out.append(f"{pad}{s.tape} = {size}    # holds {s.holds}")
        elif isinstance(s, Push):
            value = ", ".join(map(str, s.value)) if isinstance(s.value, tuple) else s.value
            out.append(f"{pad}push({s.tape}, {value})")
        elif isinstance(s, Pop):
            out.append(f"{pad}{s.target} = pop({s.tape})")


def format_function(fn: Function) -> str:
    sig = ", ".join(f"{p}: {fn.types[p]}" if p in fn.types else p for p in fn.params)
    out = [f"function {fn.name}({sig}):"]
    _lines(fn.body, 1, fn.types, out)
    return "\n".join(out)
