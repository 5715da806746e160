"""Compilation units: each user function reached by a call is compiled once per (function,
parameter types, transformation) into a generated function of its own, called from every site.

A `Linker` owns the units of one compilation. The frontend asks it, at every call to a user
function, whether to inline the call (the cost model: small scalar functions, and functions that
write into their arguments or need a constant argument) or to emit a call to a unit; it lowers
each unit once. The transformed units are made from the lowered IR on demand: a call's adjoint
calls the callee's VJP unit (reverse mode of its IR), its tangent the callee's JVP unit (forward
mode), and a Hessian's forward-over-reverse code the JVP of a VJP unit. Finally the linker prints
the units as modules, one per group of mutually recursive units, callees before their callers,
and loads them; a module names the modules it calls by their content hash, so it is cached on
disk like any generated module and a warm process loads it as it is.

Recursion: a unit that calls itself (directly or through others) is lowered with a guess for its
own result type (a float number, then the types of its float parameters), kept when lowering
confirms it; a recursion with no path that returns without recursing is a CompileError naming the
cycle."""
from __future__ import annotations

import ast
import copy

from .errors import CompileError
from .config import VERSION
from .ir.nodes import Assign, SetItem, Return, Var, TapeNew, Function, walk, blocks, operands
from .ir.types import Type, TupleType, TapeType, FLOAT, INT, BOOL
from .ir.unit import UnitKey, transformed_result
from .ir.shapes import Shapes
from .ir.builder import Sym, Builder
from .frontend.lower import lower
from .frontend.calls import StaticArgumentNeeded, ArgumentWritten
from .frontend.source import parse_function
from .transforms.reverse import reverse, _view_groups
from .transforms.forward import forward
from .transforms.tapes import array_tapes, group_tapes
from .transforms.cleanup import eliminate_dead_code
from .backends.pysource import module_source
from .backends import loader
from .fingerprint import compiler_digest

MAX_UNIT_DEPTH = 40          # units being lowered inside one another (a chain of calls)
INLINE_STATEMENTS = 6        # scalar functions of at most this many statements, without loops, are inlined
INLINE_ARRAY_STATEMENTS = 3  # and straight-line functions of arrays of at most this many
_COMPOUND = (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.Match, ast.FunctionDef)

# generated module file -> {line: source location}, for locating an error inside a unit
LOCMAPS: dict = {}
_RESULT_TYPE = " result"        # a forward sweep's result type, kept in its types (not a name)


class _NeedResult(Exception):
    """Lowering reached a recursive call before the unit's result type is known."""

    def __init__(self, key):
        super().__init__(key.describe())
        self.key = key


class Linker:
    """The units of one compilation: the inlining decision at each call, the IR of every unit,
    and the loaded modules they are printed into."""

    def __init__(self, loops: bool = True, proofs: bool = True):
        self.loops = loops           # print elementwise runs as loop nests on the CPU target
        self.proofs = proofs         # leave out the index checks that compiler/ir/bounds.py accounts for
        self.units: dict = {}        # UnitKey -> Function (the IR, before tape grouping)
        self.results: dict = {}      # primal UnitKey -> its result Type
        self.lowering: list = []     # primal keys being lowered, outermost first
        self.guesses: dict = {}      # primal key -> the result type assumed while lowering it
        self.cycles: dict = {}       # primal key -> the keys of a recursion it heads
        self.modules: dict = {}      # (frozenset of keys, target, boundscheck) -> {key: (module, function name)}
        self.sources: dict = {}      # (target, boundscheck) -> [(description, source)] of the modules printed

    # --- the frontend's question at each call ---------------------------------------------------
    def __call__(self, lw, node, pyfunc, args):
        checkpointed = _checkpointed(pyfunc)
        if not all(isinstance(a, Sym) and isinstance(a.type, Type) and not (a.is_const and a.const_value() is None) for a in args):
            if checkpointed:
                _refuse_checkpoint(lw, node, pyfunc, "takes a tuple, a dict or None")
            return None                       # tuples, dicts and None are bound at the call
        recursive = any(k.func is pyfunc for k in self.lowering) or pyfunc in lw.call_stack \
            or _calls_itself(pyfunc)
        if not recursive and not checkpointed and _small(pyfunc, args):
            return None
        key = UnitKey(pyfunc, tuple(a.type for a in args))
        result = self._primal(key, lw, node)
        if result is None:
            if checkpointed:
                _refuse_checkpoint(lw, node, pyfunc, "writes into an argument, needs a constant argument, "
                                                     "or does not return one float number or array")
            return None
        return lw.b.op("call", *args, unit=key, result=result)

    def _primal(self, key, lw, node):
        if key in self.results:
            return self.results[key]
        if key in self.lowering:
            where = self.lowering.index(key)
            self.cycles.setdefault(key, set()).update(self.lowering[where:])
            if key in self.guesses:
                return self.guesses[key]
            raise _NeedResult(key)
        if len(self.lowering) >= MAX_UNIT_DEPTH:
            chain = " -> ".join(k.describe() for k in self.lowering[-4:] + [key])
            lw.error(node, f"calls are nested more than {MAX_UNIT_DEPTH} deep (... -> {chain})",
                     hint="a recursive function whose argument types change on every call never reaches "
                          "a base case; keep the types the same (index with a parameter instead)")
        self.lowering.append(key)
        try:
            fn, result = self._lower(key)
        except (StaticArgumentNeeded, ArgumentWritten):
            if key in self.cycles:
                raise
            return None                       # inlined: the caller passes the constant
        finally:
            self.lowering.pop()
        recursive = key in self.cycles or any(key in c for c in self.cycles.values())
        plain = isinstance(result, Sym) and isinstance(result.type, Type) and result.type.kind == FLOAT
        # (writing into an argument was refused while lowering: ArgumentWritten, inlined above)
        if recursive and plain and _returns_a_view_of_an_argument(fn):
            _return_a_copy(fn)       # `return x` in a base case: the caller gets an array of its own
        elif not plain or _returns_a_view_of_an_argument(fn):
            if recursive:
                lw.error(node, f"the recursive function {key.func.__name__}() must return one float number or array")
            return None
        if key in self.cycles:
            _check_base_case(fn, self.cycles[key], key)
        self.units[key] = fn
        self.results[key] = result.type
        return result.type

    def _lower(self, key):
        specs = list(key.specs)
        try:
            return lower(key.func, specs, calls=self)
        except _NeedResult as e:
            if e.key != key:
                raise
        first_error = None
        for guess in _guesses(key):
            self.guesses[key] = guess
            before = set(self.results)
            try:
                fn, result = lower(key.func, specs, calls=self)
            except CompileError as e:
                first_error = first_error or e
                result = None
            finally:
                self.guesses.pop(key, None)
            if isinstance(result, Sym) and result.type == guess:
                return fn, result
            # units lowered under a wrong guess (the other functions of a mutual recursion) typed
            # their calls with it: forget them, so the next guess lowers them again
            for k in set(self.results) - before:
                self.results.pop(k, None)
                self.units.pop(k, None)
        if first_error is not None and not isinstance(first_error, (StaticArgumentNeeded, ArgumentWritten)):
            raise first_error
        parsed = parse_function(key.func)
        raise CompileError(f"cannot tell what the recursive function {key.func.__name__}() returns",
                           parsed.loc(parsed.tree),
                           hint="a recursive function must return one float number, or a float array of "
                                "the type of one of its arguments")

    # --- the IR of every unit ---------------------------------------------------------------------
    def result_of(self, key) -> object:
        if not key.chain:
            return self.results[key]
        if key.chain[-1][0] == "fwd":
            fn = self.ir(key)
            return fn.types[_RESULT_TYPE]
        return transformed_result(key, self.result_of)

    def recursive(self, key) -> bool:
        """Whether the function of `key` (whatever its transformations) is in a recursion."""
        root = key.root
        return any(root in c for c in self.cycles.values())

    def split_calls(self, fn, outputs, wrt) -> None:
        """Reverse mode with residuals: each active call to a unit that is not recursive (nor marked
        @ct.checkpoint) becomes
        `res = f_fwd(args)` (the value and what f's adjoint needs) and `y = res[0]`, whose adjoint
        calls f_bwd(args, res, y_bar). Without this, the adjoint calls f's VJP unit, which runs
        f's forward computation again (as it must for recursive units, and under a Hessian)."""
        from .transforms.activity import active
        out = outputs[0]
        act = active(fn.body[:-1], wrt, [out.name] if isinstance(out, Var) else [], fn.types)
        self._split_block(fn, fn.body, act)

    def _split_block(self, fn, stmts, act, nested: bool = False) -> None:
        """`nested`: the statements run on some paths only (a branch or a loop body)."""
        i = 0
        while i < len(stmts):
            s = stmts[i]
            for blk in blocks(s):
                self._split_block(fn, blk, act, True)
            if isinstance(s, Assign) and s.op == "call" and s.target in act and not s.param("unit").chain \
                    and not self.recursive(s.param("unit")) and not _checkpointed(s.param("unit").func):
                key = s.param("unit")
                mask = tuple(isinstance(a, Var) and a.name in act and fn.types[a.name].kind == FLOAT for a in s.args)
                # a call on some paths only needs a placeholder of its residuals on the others
                # when fn is split in turn (Linker._split); a tape has none, so such a call's
                # adjoint runs it again instead. So does a call in a loop whose residuals hold
                # tapes: recording a dozen arrays per trip costs more than computing them again
                if any(mask) and self.ir(key.fwd(mask)) is not None \
                        and not (nested and (_holds_tape(self.result_of(key.fwd(mask)))
                                             or getattr(self.ir(key.fwd(mask)), "tapes", False))):
                    res = fn.names.fresh(f"{s.target}_res", temp=False)
                    fn.types[res] = self.result_of(key.fwd(mask))
                    grads = transformed_result(key.bwd(mask), self.result_of)
                    stmts[i:i + 1] = [
                        Assign(res, "call", s.args, (("result", fn.types[res]), ("unit", key.fwd(mask))), s.loc, s.role),
                        Assign(s.target, "call_value", (Var(res),) + tuple(s.args),
                               (("grads", grads), ("result", s.param("result")), ("unit", key.bwd(mask))), s.loc, s.role)]
                    i += 1
            i += 1

    def ir(self, key):
        if key in self.units:
            return self.units[key]
        kind, mask = key.chain[-1]
        if kind in ("fwd", "bwd"):
            fwd, bwd = self._split(key.parent, mask)
            self.units[key.parent.fwd(mask)], self.units[key.parent.bwd(mask)] = fwd, bwd
            return self.units[key]
        parent = copy.deepcopy(self.ir(key.parent))     # the transforms rename statements in place
        kind, mask = key.chain[-1]
        wrt = [p for p, m in zip(parent.params, mask) if m]
        values = _returned(parent.body[-1].values)
        if kind in ("vjp", "vjpv"):
            fn = reverse(parent, values, wrt, seed="param", suffix=kind)
            ret = fn.body[-1]
            value = tuple(ret.values[0]) if isinstance(ret.values[0], tuple) else (ret.values[0],)
            fn.body[-1] = Return((value if kind == "vjpv" else ()) + tuple(ret.values[1]), ret.loc, role=ret.role)
            fn = eliminate_dead_code(fn)
        else:
            fn = forward(parent, values, wrt, suffix=kind, directions=kind == "vjvp")
        fn.doc = f"Unit: {key.describe()}."
        self.units[key] = fn
        return fn

    def _split(self, pkey, mask):
        """The forward and adjoint sweeps of pkey's VJP as two functions; (None, None) when the
        adjoint needs nothing of the forward computation but the arguments (then the VJP unit
        costs no more)."""
        parent = copy.deepcopy(self.ir(pkey))
        wrt = [p for p, m in zip(parent.params, mask) if m]
        values = _returned(parent.body[-1].values)
        self.split_calls(parent, values, wrt)
        fn = group_tapes(array_tapes(reverse(parent, values, wrt, seed="param", suffix="vjp")))
        body, ret = fn.body[:-1], fn.body[-1]
        k = next((i for i, st in enumerate(body) if st.role == "adjoint"), len(body))
        fwd_body, bwd_body = body[:k], body[k:]
        defined = _assigned(fwd_body, loop_vars=False)
        read = _reads(bwd_body) | {v.name for v in _returned(ret.values[1]) if isinstance(v, Var)}
        out_bar = fn.params[-1]
        assigned = set(_assigned(bwd_body))
        top = set(_assigned(fwd_body, nested=False, loop_vars=False))      # assigned on every path
        # read by the adjoint sweep before it assigns them (a value popped off a tape is not)
        residuals = [n for n in defined if n in read and n not in parent.params and n != out_bar
                     and (n not in assigned or n in top)]
        if not residuals:
            return None, None
        types = fn.types
        # a value made in one branch only: the other branch returns a placeholder of its type
        # (the adjoint sweep reads it in the mirrored branch only)
        b = Builder(types, fn.names, loc=ret.loc, role="primal")
        for n in residuals:
            if n not in top and isinstance(types.get(n), (Type, TupleType)):
                _placeholder(b, types[n], n)
        fwd_body = b.stmts + fwd_body
        for st in walk(fwd_body):
            if isinstance(st, TapeNew):     # an array tape is an array and its count, both residuals
                types[st.tape] = Type(st.kind, 1) if st.top else TapeType(st.holds)
        value = ret.values[0]
        value = value[0] if isinstance(value, tuple) else value
        res_type = TupleType((types[value.name] if isinstance(value, Var) else Type(FLOAT, 0),)
                             + tuple(types[n] for n in residuals))
        names = fn.names
        fwd = Function(f"{parent.name}_fwd", list(parent.params),
                       fwd_body + [Return((value,) + tuple(Var(n) for n in residuals), ret.loc)],
                       parent.filename, dict(types))
        fwd.names = names
        fwd = eliminate_dead_code(fwd)
        fwd.tapes = any(isinstance(st, TapeNew) for st in walk(fwd.body))
        fwd.types[_RESULT_TYPE] = res_type
        res = names.fresh("residuals", temp=False)
        types = dict(types)
        types[res] = res_type
        unpack = [Assign(n, "tuple_getitem", (Var(res),), (("i", j + 1),), None, "primal")
                  for j, n in enumerate(residuals)]
        bwd = Function(f"{parent.name}_bwd", list(parent.params) + [res, out_bar],
                       unpack + bwd_body + [Return(tuple(ret.values[1]), ret.loc, role="adjoint")],
                       parent.filename, types)
        bwd.names = names
        # the shapes the forward sweep knows its residuals have, for the adjoint sweep's loop nests
        bwd.residual_dims = (res, Shapes(fwd).residual_specs(fwd.body[-1].values), out_bar)
        return fwd, eliminate_dead_code(bwd)

    # --- printing and loading ---------------------------------------------------------------------
    def link(self, functions: list, target: str, boundscheck: bool = True) -> list:
        """Print and load every unit the functions call (for a target), name each call's callee,
        and return the lines that bind those names in the functions' own module."""
        roots = _called(functions)
        if not roots:
            return []
        for scc in self._components(roots):
            self._module(scc, target, boundscheck)
        return self._bind(functions, {}, target, boundscheck)

    def reaches_recursion(self, functions) -> bool:
        """Whether these functions call a recursive unit, directly or not (Numba cannot cache
        such code on disk)."""
        seen, todo = set(), list(_called(functions))
        while todo:
            key = todo.pop()
            if key in seen:
                continue
            seen.add(key)
            if self.recursive(key):
                return True
            fn = self.ir(key)
            if fn is not None:
                todo.extend(_called([fn]))
        return False

    def unit_sources(self, target: str, boundscheck: bool = True) -> list:
        """(description, source) of each unit module printed for the target, callees first."""
        return list(self.sources.get((target, boundscheck), []))

    def _components(self, roots) -> list:
        """Strongly connected components of the call graph reachable from roots, callees first
        (Tarjan's algorithm, iterated over a sorted order so the result is deterministic)."""
        index, low, stack, on, out = {}, {}, [], set(), []
        counter = [0]

        def visit(v):
            work = [(v, iter(sorted(_called([self.ir(v)]), key=_order)))]
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on.add(v)
            while work:
                node, children = work[-1]
                advanced = False
                for w in children:
                    if w not in index:
                        index[w] = low[w] = counter[0]
                        counter[0] += 1
                        stack.append(w)
                        on.add(w)
                        work.append((w, iter(sorted(_called([self.ir(w)]), key=_order))))
                        advanced = True
                        break
                    if w in on:
                        low[node] = min(low[node], index[w])
                if advanced:
                    continue
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    out.append(frozenset(comp))

        for r in sorted(roots, key=_order):
            if r not in index:
                visit(r)
        return out

    def _module(self, scc, target, boundscheck):
        slot = (scc, target, boundscheck)
        if slot in self.modules:
            return self.modules[slot]
        keys = sorted(scc, key=_order)
        functions, local, taken = [], {}, set()
        for k in keys:
            fn = copy.deepcopy(self.ir(k))
            if k.chain and k.chain[-1][0] in ("vjp", "vjpv"):
                fn = group_tapes(array_tapes(fn))
            fn.types.pop(_RESULT_TYPE, None)
            fn.name = _fresh(k.name, taken)
            fn.doc = f"Unit: {_describe(k)}."
            local[k] = fn.name
            functions.append(fn)
        links = self._bind(functions, local, target, boundscheck)
        header = (f"Generated by cotangent {VERSION} (compiler {compiler_digest()}): "
                  f"{'; '.join(_describe(k) for k in keys)}.\n"
                  f"A compilation unit: compiled once per signature, called from every call site.")
        src, locmap = module_source(functions, target, header, boundscheck, links,
                                    cache=not self.reaches_recursion(functions), loops=self.loops, proofs=self.proofs)
        module = loader.load(src, functions[0].name)
        LOCMAPS[module.__file__] = locmap
        stem = module.__file__.rsplit("/", 1)[-1][:-3]
        entry = {k: (stem, local[k]) for k in keys}
        self.modules[slot] = entry
        described = "; ".join(_describe(k) for k in keys)
        if (described, src) not in self.sources.get((target, boundscheck), []):
            self.sources.setdefault((target, boundscheck), []).append((described, src))
        return entry

    def _bind(self, functions, local: dict, target, boundscheck) -> list:
        """Set the callee name of each call in `functions`: the function itself when it is in the
        same module (`local`), else a name bound by a `linked(...)` line, returned."""
        taken = {fn.name for fn in functions} | {n for fn in functions for n in _names_in(fn)}
        aliases, lines = {}, []
        for fn in functions:
            for s in walk(fn.body):
                if not (isinstance(s, Assign) and s.op == "call"):
                    continue
                key = s.param("unit")
                if key in local:
                    name = local[key]
                else:
                    where = self._where(key, target, boundscheck)
                    if where not in aliases:       # equal code (forward sweeps) is one module
                        stem, fname = where
                        aliases[where] = _fresh(fname, taken)
                        lines.append(f'{aliases[where]} = linked("{stem}", "{fname}")')
                    name = aliases[where]
                s.params = tuple(sorted({**dict(s.params), "callee": name}.items()))
        return lines

    def _where(self, key, target, boundscheck):
        for (scc, t, bc), entry in self.modules.items():
            if t == target and bc == boundscheck and key in entry:
                return entry[key]
        for scc in self._components([key]):
            self._module(scc, target, boundscheck)
        return self._where(key, target, boundscheck)


# --- helpers ------------------------------------------------------------------------------------

def _placeholder(b: Builder, ty, target: str | None = None):
    """A value of type `ty` that is never read: an empty array, a zero, or (the residuals of a
    call made on another path) a tuple of such values."""
    if isinstance(ty, TupleType):
        return b.op("make_tuple", *[_placeholder(b, t) for t in ty.elts], target=target)
    if ty.rank:
        return b.op("empty", *[b.const(0)] * ty.rank, dtype=ty.kind, target=target)
    return b.op("alias", b.const({FLOAT: 0.0, INT: 0, BOOL: False}[ty.kind]), target=target)


def _holds_tape(ty) -> bool:
    return isinstance(ty, TapeType) or (isinstance(ty, TupleType) and any(_holds_tape(t) for t in ty.elts))


def _checkpointed(pyfunc) -> bool:
    """Marked @ct.checkpoint: its callers' adjoints call its VJP unit, which runs it again, instead
    of keeping its residuals (checkpointing.py)."""
    return bool(getattr(pyfunc, "__cotangent_checkpoint__", False))


def _refuse_checkpoint(lw, node, pyfunc, why: str) -> None:
    lw.error(node, f"{pyfunc.__name__}() is marked @ct.checkpoint but cannot be compiled on its own: it {why}",
             hint="checkpoint a function of numbers and arrays that returns one float number or array "
                  "(make a copy of an argument before writing into it)")


def _describe(key) -> str:
    return key.describe(last_mask=key.chain[-1][0] != "fwd") if key.chain else key.describe()


def _order(key) -> str:
    return f"{key.describe()} {key.chain!r} {getattr(key.func, '__module__', '')}"


def _fresh(base: str, taken: set) -> str:
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _names_in(fn) -> set:
    return set(fn.params) | set(fn.types) | set(_assigned(fn.body))


def _assigned(stmts, nested: bool = True, loop_vars: bool = True) -> list:
    """The names the statements assign (targets, trip counters, new tapes, and loop variables
    unless `loop_vars` is False), in order; with `nested` False only the block's own statements."""
    out: dict = {}
    for st in (walk(stmts) if nested else stmts):
        for name in (getattr(st, "target", None) if not isinstance(st, SetItem) else None,
                     getattr(st, "counter", None), getattr(st, "var", None) if loop_vars else None,
                     st.tape if isinstance(st, TapeNew) else None,
                     st.top if isinstance(st, TapeNew) else None):
            if isinstance(name, str):
                out.setdefault(name)
    return list(out)


def _reads(stmts) -> set:
    out = set()
    for st in walk(stmts):
        out.update(v.name for v in operands(st) if isinstance(v, Var))
        if isinstance(st, SetItem):
            out.add(st.target)
        t = getattr(st, "tape", None)
        if isinstance(t, str) and not isinstance(st, TapeNew):
            out.add(t)
            if getattr(st, "top", None):
                out.add(st.top)             # an array tape's count
    return out


def _called(functions) -> set:
    return {s.param("unit") for fn in functions for s in walk(fn.body)
            if isinstance(s, Assign) and s.op == "call"}


def _returned(values) -> tuple:
    """The values of a Return, flat."""
    out = []
    for v in values:
        out.extend(_returned(v) if isinstance(v, tuple) else [v])
    return tuple(out)


def _guesses(key) -> list:
    out = [Type(FLOAT, 0)]
    for t in key.specs:
        ft = Type(FLOAT, t.rank)
        if ft not in out:
            out.append(ft)
    return out


def _calls_itself(pyfunc) -> bool:
    """Whether the function's source calls a function of its own name (a recursion)."""
    try:
        tree = parse_function(pyfunc).tree
    except CompileError:
        return False
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == pyfunc.__name__
               for n in ast.walk(tree))


def _small(pyfunc, args) -> bool:
    """The cost model's inlining test: a short body without loops, of at most INLINE_STATEMENTS
    statements on numbers, or straight-line code of at most INLINE_ARRAY_STATEMENTS on arrays (a
    docstring is not counted). A call
    costs more than such a body, and inlining lets its arithmetic fold into the caller's: for array
    code (`x @ W + b`, `np.maximum(x, 0.0)`), its elementwise statements join the caller's loop
    nests, and Numba compiles one function fewer (about 0.1-0.3 s each on a cold start)."""
    try:
        tree = parse_function(pyfunc).tree
    except CompileError:
        return not any(a.rank for a in args)
    stmts = [n for n in ast.walk(tree) if isinstance(n, ast.stmt) and n is not tree
             and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    if any(a.rank for a in args):       # straight-line code only: a branch may return an argument itself
        return len(stmts) <= INLINE_ARRAY_STATEMENTS and not any(isinstance(n, _COMPOUND) for n in stmts)
    return len(stmts) <= INLINE_STATEMENTS and not any(isinstance(n, (ast.For, ast.While)) for n in stmts)


def _returns_a_view_of_an_argument(fn) -> bool:
    """Whether the returned array may share memory with an argument (`return a`, `return a.T`):
    such a call is inlined, so the caller knows that writing into the result writes into the
    argument."""
    groups = _view_groups(fn.body, fn.types)
    params = set(fn.params)
    return any(isinstance(v, Var) and (v.name in params or groups.get(v.name, set()) & params)
               and getattr(fn.types.get(v.name), "rank", 0) for v in _returned(fn.body[-1].values))


def _return_a_copy(fn) -> None:
    ret = fn.body[-1]
    (value,) = _returned(ret.values)
    copy_name = fn.names.fresh(f"{value.name}_copy", temp=False)
    fn.types[copy_name] = fn.types[value.name]
    fn.body[-1:] = [Assign(copy_name, "copy", (value,), (), ret.loc, "primal"),
                    Return((Var(copy_name),), ret.loc, role=ret.role)]


def _check_base_case(fn, cycle: set, key) -> None:
    """A recursion must have a path that returns without recursing: the returned value must not
    depend on a call into the cycle on every path."""
    clean = set(fn.params)
    stmts = [s for s in walk(fn.body) if isinstance(s, Assign)]
    changed = True
    while changed:
        changed = False
        for s in stmts:
            if s.target in clean or (s.op == "call" and s.param("unit") in cycle):
                continue
            if all(not isinstance(a, Var) or a.name in clean for a in s.args):
                clean.add(s.target)
                changed = True
    ret = fn.body[-1]
    values = _returned(ret.values)
    if all(isinstance(v, Var) and v.name not in clean for v in values):
        names = " -> ".join(sorted({k.func.__name__ for k in cycle})) + f" -> {key.func.__name__}"
        raise CompileError(f"the recursion {names} never returns without calling itself again",
                           ret.loc, hint="add a base case: a branch that returns without a recursive call")
