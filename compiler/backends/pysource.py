"""IR to Python source: the code a user reads. One line per statement, the user's names, and a
comment pointing back to the source line each group of lines came from. Deterministic: the same
IR always prints the same bytes."""
from __future__ import annotations

import re

from ..ir.nodes import (Assign, SetItem, Return, Var, Const, Function, If, For, While, Break, Continue,
                        TapeNew, Push, Pop, walk)
from ..ir.types import FLOAT, Type
from ..ir.bounds import prove
from ..rules import table
from ..rules.table import HELPERS, KERNELS, HELPER_KERNELS
from ..rules.indexing import index_text
from . import fusion
from .layout import lay_out


def njit_decorator(boundscheck: bool = True, parallel: bool = False, cache: bool = True) -> str:
    """The decorator of every function compiled for the CPU. One numeric model on every target:
    NumPy's (error_model="numpy": 1.0 / 0.0 is inf and 0.0 / 0.0 is nan, as in the Python target,
    where Numba's default would raise ZeroDivisionError), and indices checked against the array's
    shape unless the user turned that off (ct.config.boundscheck). Both settings are printed, so
    they are part of the source, and so of the module's name and Numba's cache of it. Numba cannot
    cache recursive functions or their callers on disk (cache=False there)."""
    options = ("parallel=True, " if parallel else "") + f'cache={cache}, error_model="numpy", boundscheck={boundscheck}'
    return f"@numba.njit({options})"


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
    from ..ir.builder import const_type
    return const_type(v.value)


# operations whose result Numba types as a C-contiguous array whatever the layout of their operands
C_CONTIGUOUS = {"reshape", "ravel", "copy", "matmul", "full", "eye", "arange", "array_literal"}


def _c_contiguous(fn: Function, v) -> bool:
    """Whether `v` is always a C-contiguous array: every assignment to it is an operation above.
    An argument, a view (x.T, x[:, 1:3]) or an elementwise result (Fortran-ordered in Numba when
    its operands are) may not be, and Numba's reshape fails on those: they are reshaped from a
    contiguous copy (np.ascontiguousarray, which copies nothing when the array is contiguous)."""
    if not isinstance(v, Var):
        return False
    made = [s for s in walk(fn.body) if getattr(s, "target", None) == v.name and not isinstance(s, SetItem)]
    return bool(made) and all(isinstance(s, Assign) and s.op in C_CONTIGUOUS for s in made)


def statement_code(fn: Function, s, inline: dict | None = None) -> str:
    """One simple statement; `inline` maps temporaries printed inside their use to their text."""
    if isinstance(s, Assign):
        prim = table.get(s.op)
        operator = s.op in fusion.ARITHMETIC      # else a call, whose argument needs no parentheses
        args = [(fusion.parenthesized(inline[a.name]) if operator else inline[a.name])
                if inline and isinstance(a, Var) and a.name in inline else value_text(a) for a in s.args]
        if s.op == "pow" and args[0].startswith("-"):
            args[0] = f"({args[0]})"        # -1.5 ** 2 would read as -(1.5 ** 2)
        if s.op == "reshape" and not _c_contiguous(fn, s.args[0]):
            args[0] = f"np.ascontiguousarray({args[0]})"    # Numba reshapes C-contiguous arrays only
        return f"{s.target} = {prim.emit(args, dict(s.params), [_type_of(fn, a) for a in s.args])}"
    if isinstance(s, SetItem):
        pattern = dict(s.params)["index"]
        op = "+=" if s.op == "add" else "="
        if s.op == "add" and pattern and all(e == ("slice", False, False, False) for e in pattern):
            return f"{s.target} += {value_text(s.value)}"      # the whole array, in place
        return f"{s.target}[{index_text(pattern, [value_text(a) for a in s.index_args])}] {op} {value_text(s.value)}"
    if isinstance(s, Return):
        return "return " + ", ".join(_returned(v) for v in s.values)
    if isinstance(s, TapeNew) and s.block:
        return f"{s.tape} = {s.block}[{s.column}]\n{s.top} = 0"
    if isinstance(s, TapeNew) and s.top:
        dtype = {"float": "np.float64", "int": "np.int64", "bool": "np.bool_"}[s.kind]
        return f"{s.tape} = np.empty({value_text(s.capacity)}, {dtype})\n{s.top} = 0"
    if isinstance(s, TapeNew):
        return f"{s.tape} = []"
    if isinstance(s, Push) and s.top:
        return f"{s.tape}[{s.top}] = {value_text(s.value)}\n{s.top} += 1"
    if isinstance(s, Push):
        return f"{s.tape}.append({value_text(s.value)})"
    if isinstance(s, Pop) and s.top:
        return f"{s.top} -= 1\n{s.target} = {s.tape}[{s.top}]"
    if isinstance(s, Pop):
        return f"{s.target} = {s.tape}.pop()"
    if isinstance(s, Break):
        return "break"
    if isinstance(s, Continue):
        return "continue"
    raise TypeError(f"the Python backend cannot print {type(s).__name__}")


def _range_text(s: For) -> str:
    start, stop, step = (value_text(v) for v in (s.start, s.stop, s.step))
    if step == "1":
        return f"range({stop})" if start == "0" else f"range({start}, {stop})"
    return f"range({start}, {stop}, {step})"


def _comment(s, previous) -> str:
    loc, role = s.loc, s.role
    if isinstance(s, TapeNew):
        return f"# tape: {s.holds}, {s.where}"
    if loc is None or isinstance(s, (Return, Push, Pop, Break, Continue)) or role == "tape":
        return ""
    key = (loc.filename, loc.line, role)
    if previous == key:
        return ""
    if role == "adjoint":
        return f"# adjoint of {loc.short()}"
    if role == "recompute":
        return f"# recomputed: {loc.short()}"
    if role == "tangent":
        return f"# tangent of {loc.short()}"
    return f"# {loc.short()}  {loc.text.strip()}"


def _block(fn: Function, stmts, depth: int, rows: list, previous=None, code=statement_code):
    """Rows of (indent, code, comment, loc) for a block; nested blocks are indented. `code` prints
    one simple statement (the CUDA backend passes its own) and returns None for a statement printed
    inside a later one, whose comment then goes to the next line printed. Statements that a loop
    plan (`code.loops`, backends/loops.py) puts in a nest print as that nest, at its first one."""
    carried = ""
    plan = getattr(code, "loops", None)
    checks = getattr(code, "checks", None)
    for s in stmts:
        if plan is not None and id(s) in plan.members:
            nest = plan.first.get(id(s))
            if nest is not None:
                for h in nest.hoisted:            # views and numbers the nest reads, made before it
                    comment = _comment(h, previous) or carried
                    carried = ""
                    previous = (h.loc.filename, h.loc.line, h.role) if h.loc else previous
                    if checks and id(h) in checks:
                        rows.extend(_check_rows(checks[id(h)], depth, comment, h.loc))
                        comment = ""
                    text = plan.hoisted_code(nest, h)
                    if text == "":
                        carried = comment
                        continue
                    for i, line in enumerate((text or code(fn, h)).split("\n")):
                        rows.append((depth, line, comment if i == 0 else "", h.loc))
                nest_rows, previous = plan.rows(nest, depth, _comment, value_text, previous)
                if carried and nest_rows and not nest_rows[0][2]:
                    nest_rows[0] = (nest_rows[0][0], nest_rows[0][1], carried, nest_rows[0][3])
                carried = ""
                rows.extend(nest_rows)
                for p in nest.sunk:               # tape pushes of values the nest makes
                    for line in code(fn, p).split("\n"):
                        rows.append((depth, line, "", p.loc))
            continue
        comment = _comment(s, previous) or carried
        carried = ""
        previous = (s.loc.filename, s.loc.line, s.role) if s.loc else previous
        if checks and id(s) in checks:           # an index test, under the statement's comment
            rows.extend(_check_rows(checks[id(s)], depth, comment, s.loc))
            comment = ""
        if plan is not None and id(s) in plan.writes:
            rows.extend(plan.write_rows(s, depth, comment))
            continue
        if isinstance(s, If):
            rows.append((depth, f"if {value_text(s.cond)}:", comment, s.loc))
            _block(fn, s.body or [], depth + 1, rows, previous, code)
            if not s.body:
                rows.append((depth + 1, "pass", "", None))
            if s.orelse:
                rows.append((depth, "else:", "", None))
                _block(fn, s.orelse, depth + 1, rows, previous, code)
        elif isinstance(s, For):
            if s.counter:
                rows.append((depth, f"{s.counter} = 0", "# trips run, for the adjoint sweep", s.loc))
            rows.append((depth, f"for {s.var} in {_range_text(s)}:", comment, s.loc))
            if s.counter:
                rows.append((depth + 1, f"{s.counter} += 1", "", None))
            _block(fn, s.body, depth + 1, rows, previous, code)
            if not s.body and not s.counter:
                rows.append((depth + 1, "pass", "", None))
        elif isinstance(s, While):
            if s.counter:
                rows.append((depth, f"{s.counter} = 0", "# trips run, for the adjoint sweep", s.loc))
            single = len(s.cond_body) == 1 and isinstance(s.cond_body[0], Assign) \
                and isinstance(s.cond, Var) and s.cond_body[0].target == s.cond.name
            if single:
                test = code(fn, s.cond_body[0]).split(" = ", 1)[1]
                rows.append((depth, f"while {test}:", comment, s.loc))
            elif not s.cond_body:
                rows.append((depth, f"while {value_text(s.cond)}:", comment, s.loc))
            else:
                rows.append((depth, "while True:", comment, s.loc))
                _block(fn, s.cond_body, depth + 1, rows, previous, code)
                rows.append((depth + 1, f"if not {value_text(s.cond)}:", "", None))
                rows.append((depth + 2, "break", "", None))
            if s.counter:
                rows.append((depth + 1, f"{s.counter} += 1", "", None))
            _block(fn, s.body, depth + 1, rows, previous, code)
            if not s.body and not s.counter:
                rows.append((depth + 1, "pass", "", None))
        else:
            text = code(fn, s)
            if text is None:
                carried = comment
                continue
            for i, line in enumerate(text.split("\n")):      # an array tape's push: two lines
                rows.append((depth, line, comment if i == 0 else "", s.loc))
    return rows


def _fusing_printer(fn: Function, plan=None, kernels: bool = True):
    """statement_code that prints the temporaries fusion.plan picks inside their use, and the loop
    nests of `plan` (a loops.LoopPlan) where there is one."""
    members = plan.members if plan is not None else frozenset()
    folded = fusion.plan(fn, lambda s: statement_code(fn, s).split(" = ", 1)[1], exclude=members)
    inline: dict = {}
    unpacked: dict = {}             # a tuple popped off a shared tape -> the name of each item, in order
    for s in walk(fn.body):
        if isinstance(s, Assign) and s.op == "tuple_getitem" and s.role == "tape":
            packed = s.args[0].name
            if packed not in unpacked:      # "_" for an item no one reads (dead code dropped it)
                unpacked[packed] = ["_"] * len(fn.types[packed].elts)
            unpacked[packed][s.param("i")] = s.target

    def code(fn_, s):
        if plan is not None and id(s) in plan.identities:
            return f"{s.target} = {s.args[0].name}"   # an adjoint already of its operand's shape
        if plan is not None and kernels and isinstance(s, Assign):
            kernel = _kernel_call(fn_, s)
            if kernel is not None:
                return kernel
        if plan is not None and kernels and isinstance(s, TapeNew) and s.top and not s.block and s.kind == "float":
            return f"{s.tape} = empty(({value_text(s.capacity)},))\n{s.top} = 0"     # the cached kernel
        if isinstance(s, Pop) and s.target in unpacked:
            return f"{', '.join(unpacked[s.target])} = {s.tape}.pop()"
        if isinstance(s, Assign) and s.op == "tuple_getitem" and s.role == "tape":
            return None
        text = statement_code(fn_, s, inline)
        if id(s) in folded:
            inline[s.target] = text.split(" = ", 1)[1]
            return None
        return text
    code.loops = plan
    return code


def _kernel_call(fn: Function, s: Assign) -> str | None:
    """A matrix product or a float array constructor (np.zeros_like of a float array too) as a call
    to its cached kernel (backends/kernels.py), in code with loop nests: compiled once per machine,
    not per function."""
    if s.op == "matmul" and all(isinstance(a, Var) and fn.types[a.name].rank <= 2 for a in s.args):
        return f"{s.target} = matmul({s.args[0].name}, {s.args[1].name})"
    if s.op == "zeros_like" and isinstance(s.args[0], Var) and fn.types[s.target].kind == FLOAT \
            and fn.types[s.args[0].name].kind == FLOAT and fn.types[s.target].rank:
        return f"{s.target} = zeros_like({s.args[0].name})"
    if s.op in ("zeros", "empty", "ones") and not s.param("dtype") and fn.types[s.target].kind == FLOAT:
        dims = [value_text(a) for a in s.args]
        shape = f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"
        return f"{s.target} = full({shape}, 1.0)" if s.op == "ones" else f"{s.target} = {s.op}({shape})"
    like = s.args[0] if s.args else None
    if s.op in ("ones_like", "empty_like", "full_like") and isinstance(like, Var) and not s.param("dtype") \
            and fn.types[s.target].kind == FLOAT and fn.types[s.target].rank:
        lt = fn.types[like.name]        # an array, or a shape tuple (read back from a tape)
        if isinstance(lt, Type) and lt.kind != FLOAT:
            return None
        shape = f"{like.name}.shape" if isinstance(lt, Type) else like.name
        if s.op == "empty_like":
            return f"{s.target} = empty({shape})"
        if s.op == "ones_like":
            return f"{s.target} = full({shape}, 1.0)"
        value = s.args[1]
        if isinstance(value, Var) and fn.types[value.name] == Type(FLOAT, 0):
            return f"{s.target} = full({shape}, {value.name})"
        if not isinstance(value, Var) and isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
            return f"{s.target} = full({shape}, {float(value.value)!r})"
    return None


def _check_rows(tests, depth: int, comment: str, loc) -> list:
    """An index test before an access whose index is not known on entry (compiler/ir/bounds.py),
    in code compiled without Numba's checks: the IndexError Numba's check would raise."""
    test = " or ".join(f"not -{a}.shape[{axis}] <= {i} < {a}.shape[{axis}]" for i, a, axis in tests)
    return [(depth, f"if {test}:", comment, loc),
            (depth + 1, 'raise IndexError("index out of range")', "", None)]


def _proof_check(proof) -> list:
    """Rows that check, on entry, the conditions under which every index below is in range."""
    if proof is None or not proof.entry:
        return []
    test = " and ".join(proof.entry)
    return [(1, f"if not ({test}):", "# the indices below are in range when these hold: checked once, here", None),
            (2, 'raise IndicesUnproven("run the code that checks every index")', "", None)]


def _entry_check(plan) -> list:
    """Rows that check, before anything runs, the equal lengths the loop nests assume."""
    pairs = plan.assumptions if plan is not None else []
    if not pairs:
        return []
    test = " or ".join(f"{a} != {b}" for a, b in pairs)
    return [(1, f"if {test}:", "# lengths the loops below assume equal", None),
            (2, 'raise ShapeAssumption("an axis of length 1 broadcasts: run the general code")', "", None)]


def function_source(fn: Function, decorator: str = "", code=statement_code,
                    loops: bool = False, kernels: bool = True, proof=None) -> tuple[list, dict]:
    """Lines of one function and a map from line index (0-based) to the statement's location.
    With `loops`, runs of elementwise array statements print as loop nests (backends/loops.py),
    and with `kernels` their matrix products and arrays are calls to backends/kernels.py. With an
    index `proof` (compiler/ir/bounds.py), its entry conditions and index tests are printed."""
    lines = []
    if decorator:
        lines.append(decorator)
    lines += lay_out("", f"def {fn.name}({', '.join(fn.params)}):")
    if fn.doc:
        lines.append(f'    """{fn.doc}"""')
    plan = None
    if code is statement_code:
        if loops:
            from .loops import LoopPlan
            plan = LoopPlan(fn, kernels)
        code = _fusing_printer(fn, plan, kernels)
        code.checks = proof.inline if proof is not None else None
    rows = _block(fn, fn.body, 1, _entry_check(plan) + _proof_check(proof), code=code)
    locmap = {}
    for depth, code, comment, loc in rows:
        if comment:                  # on a line of its own above the code: no column to keep aligned
            lines.append("    " * depth + comment)
        locmap[len(lines)] = loc
        lines += lay_out("    " * depth, code.rstrip())
    return lines, locmap


def module_source(functions: list, target: str, header: str, boundscheck: bool = True,
                  links: list = (), cache: bool = True, loops: bool = False,
                  kernels: bool | None = None, proofs: bool = False) -> tuple[str, dict]:
    """A whole module: imports, the separately compiled units it calls (`links`: lines binding
    their names, from compiler/units.py), then each function decorated for the target; with
    `loops` (the CPU target), elementwise runs as loop nests, calling the cached kernels where
    Numba can cache their callers (`kernels`, by default loader.links_cacheable()). With
    `proofs`, a function whose indices compiler/ir/bounds.py can account for is compiled
    without Numba's index checks, testing on entry, or at the access, what it could not prove."""
    if kernels is None:
        from .loader import links_cacheable
        kernels = links_cacheable()
    lines = [f"# {line}" for line in header.splitlines()]
    lines += ["import numpy as np"]
    if target == "cpu":
        lines += ["import numba", "import cotangent.backends.numba_support  # noqa: F401  (Numba versions of the helpers)"]
    bodies, locmap = [], {}
    for fn in functions:
        proof = prove(fn) if proofs and boundscheck and target == "cpu" else None
        if proof is not None and not proof.eligible:
            proof = None
        decorator = njit_decorator(boundscheck and proof is None, cache=cache) if target == "cpu" else ""
        fl, fmap = function_source(fn, decorator, loops=loops and target == "cpu", kernels=kernels, proof=proof)
        bodies.append((fl, fmap))
    text_so_far = "\n".join(b for fl, _ in bodies for b in fl)
    used = [h for h in HELPERS if re.search(rf"(?<![\w.]){h}\(", text_so_far)]
    cached = [h for h in used if h in HELPER_KERNELS] if loops and kernels else []
    used = [h for h in used if h not in cached]
    if used:
        lines.append(f"from cotangent.backends.support import {', '.join(used)}")
    kernels = [k for k in KERNELS if re.search(rf"(?<![\w.]){k}\(", text_so_far)] + cached if loops else []
    if kernels:
        lines.append(f"from cotangent.backends.kernels import {', '.join(kernels)}")
    raised = [e for e in ("IndicesUnproven", "ShapeAssumption") if f"raise {e}(" in text_so_far]
    if raised:
        lines.append(f"from cotangent.errors import {', '.join(raised)}")
    if links:
        lines += ["from cotangent.backends.loader import linked", "", "# separately compiled functions this module calls"]
        lines += [out for link in links for out in lay_out("", link)]
    for fl, fmap in bodies:
        lines += ["", ""]
        offset = len(lines)
        for k, loc in fmap.items():
            locmap[offset + k + 1] = loc      # 1-based line numbers, as tracebacks give them
        lines += fl
    return "\n".join(lines) + "\n", locmap
