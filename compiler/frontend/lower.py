"""Lowering a Python function's AST to typed three-address IR, for one signature.

Lowering happens when a function is specialized for its argument types (as Numba specializes), so
every statement is typed as it is built and a type error is reported at its source line. Reassigned
names get versions (x, x_1, ...) so that straight-line code is in SSA form and the reverse sweep
can read any earlier value."""
from __future__ import annotations

import ast
from dataclasses import dataclass

from ..errors import CompileError
from ..ir.nodes import Function, Return, Var, SetItem
from ..ir.types import Type, TupleType
from ..ir.builder import Builder, NameAllocator, Sym
from ..rules.table import HELPERS, KERNELS
from .source import parse_function
from .resolve import resolve, ModuleRef, FuncRef, UserFunc, UserModule, Unsupported
from . import calls, lists
from .control import ControlFlow

MAX_INLINE_DEPTH = 20


@dataclass
class Struct:
    """A tuple or dict argument (or tuple value), flattened: its items are Syms or Structs."""
    kind: str                # "tuple" or "dict"
    items: dict              # key (int or str) -> Sym | Struct


def flatten_spec(name: str, spec, out: list) -> object:
    """Parameter names for the leaves of an argument spec, and the binding for the body."""
    if isinstance(spec, Type):
        out.append((name, spec))
        return name
    kind, items = spec
    return Struct(kind, {k: flatten_spec(f"{name}_{k}", s, out) for k, s in items})


class Lowerer(ControlFlow):
    def __init__(self, parsed, names: NameAllocator, types: dict, depth: int = 0):
        self.parsed = parsed
        self.names = names
        self.types = types
        self.depth = depth
        self.env: dict = {}
        self.b = Builder(types, names)
        self.stmts = self.b.stmts
        self.result = None
        self.loops: list = []        # LoopContext of each enclosing loop
        self.returns: list = []      # ReturnPoint of each return lowered
        self.undefined: dict = {}    # name -> why it is not defined here
        self.enclosing_loops = 0     # loops around the call site, for an inlined function
        self.call_stack = (parsed.pyfunc,)   # the functions being inlined, outermost first
        self.calls = None            # (lowerer, node, pyfunc, args) -> result of a call to a unit, or None to inline
        self.list_names = lists.list_names(parsed.tree)   # names used as stacks (lists.py)

    # --- errors ---
    def error(self, node, message, hint=""):
        raise CompileError(message, self.parsed.loc(node), hint)

    # --- statements ---
    def lower_body(self, body):
        """Lower a function body; every path must end in a return."""
        top = self.b.stmts
        if self.lower_seq(body):
            last = body[-1] if body else self.parsed.tree
            self.error(last, "the function must end with a return statement" if not self.returns else
                       "not every path through the function returns a value",
                       hint="differentiable functions return the value to differentiate")
        self.result = self.finish_returns(top)

    def lower_stmt(self, s):
        if isinstance(s, ast.Assign):
            if isinstance(s.value, ast.List) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name) \
                    and s.targets[0].id in self.list_names:
                lists.make(self, s.targets[0].id, s.value)
                return
            value = self.expr(s.value)
            for target in s.targets:
                self.bind(target, value)
                if isinstance(target, ast.Name):
                    value = self.env[target.id]
        elif isinstance(s, ast.AnnAssign) and s.value is not None:
            self.bind(s.target, self.expr(s.value))
        elif isinstance(s, ast.AugAssign):
            op = calls.BINOPS.get(type(s.op))
            if op is None:
                self.error(s, f"operator {type(s.op).__name__} is not supported")
            if isinstance(s.target, ast.Subscript):
                self.assign_subscript(s.target, self.value(s.value), aug_op=op, node=s)
                return
            if not isinstance(s.target, ast.Name):
                self.error(s, f"cannot assign to {_describe(s.target)}")
            current = self.lookup(s.target.id, s.target)
            self.bind(s.target, calls.binop(self, s, op, current, self.expr(s.value)))
        elif isinstance(s, ast.Expr):
            if isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
                return  # docstring
            if isinstance(s.value, ast.Call) and isinstance(s.value.func, ast.Attribute) \
                    and s.value.func.attr in lists.METHODS:
                base = self.expr(s.value.func.value)
                if isinstance(base, lists.ListRef):
                    lists.method(self, s.value, base, s.value.func.attr)
                    return
                self.error(s, f"{ast.unparse(s.value.func)}() needs a list made in this function",
                           hint=f"start it empty: {ast.unparse(s.value.func.value)} = [] (arrays have no .{s.value.func.attr})")
            self.error(s, "an expression statement has no effect here",
                       hint="assign its value to a name, or remove it")
        elif isinstance(s, ast.Pass):
            return
        elif isinstance(s, ast.If):
            self.lower_if(s)
        elif isinstance(s, (ast.For, ast.While)):
            self.lower_loop(s)
        else:
            self.error(s, f"{_describe(s)} is not supported in a differentiable function",
                       hint=_HINTS.get(type(s), ""))

    def lower_return(self, s):
        if s.value is None:
            self.error(s, "return needs a value")
        return self.returned(s.value)

    def returned(self, e):
        """A returned value; a tuple literal stays a tuple, nested ones too (`return loss, (a, b)`),
        and a dict literal becomes the tuple of its values in sorted key order."""
        if isinstance(e, ast.Tuple):
            return tuple(self.returned(x) for x in e.elts)
        if isinstance(e, ast.Dict):      # returned as a tuple in sorted key order (results.py)
            if not all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in e.keys):
                self.error(e, "a returned dict needs its keys written out as strings",
                           hint='return {"loss": loss, "grad_norm": g}; ** and computed keys are not supported')
            keys = [k.value for k in e.keys]
            if len(set(keys)) != len(keys):
                self.error(e, "a returned dict has a key twice")
            return tuple(self.returned(v) for _, v in sorted(zip(keys, e.values), key=lambda kv: kv[0]))
        v = self.expr(e)
        if isinstance(v, lists.ListRef):
            self.error(e, f"a list ({v.name}) cannot be returned", hint=f"return np.array({v.name})")
        return v

    def bind(self, target, value):
        if isinstance(target, ast.Name):
            self.env[target.id] = self.named(value, target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = self.unpack(value, len(target.elts), target)
            for t, v in zip(target.elts, items):
                self.bind(t, v)
        elif isinstance(target, ast.Subscript):
            self.assign_subscript(target, value)
        else:
            self.error(target, f"cannot assign to {_describe(target)}")

    def named(self, value, name):
        """Give a value the user's name, versioned if the name was used before."""
        if isinstance(value, Sym) and isinstance(value.value, Var) and self.names.is_temp(value.value.name) \
                and self.b.stmts and getattr(self.b.stmts[-1], "target", None) == value.value.name \
                and not isinstance(self.b.stmts[-1], SetItem) and value.value.name not in self.b.pinned:
            return self.b.name(value, self.names.fresh(name, temp=False))
        return value

    def unpack(self, value, n, node):
        if isinstance(value, tuple):
            items = list(value)
        elif isinstance(value, Struct):
            items = [value.items[k] for k in sorted(value.items, key=str)] if value.kind == "dict" else \
                [value.items[k] for k in range(len(value.items))]
        elif isinstance(value, Sym) and isinstance(value.type, TupleType):
            items = [self.b.op("tuple_getitem", value, i=i) for i in range(len(value.type.elts))]
        else:
            self.error(node, "only tuples and x.shape can be unpacked")
        if len(items) != n:
            self.error(node, f"cannot unpack {len(items)} values into {n} names")
        return items

    # --- names ---
    def lookup(self, name, node):
        if name in self.env:
            return self.env[name]
        if name in self.undefined:
            self.error(node, f"{name!r} may be undefined here: {self.undefined[name]}",
                       hint="assign it before the if or loop")
        ref = resolve(name, self.parsed.pyfunc)
        if ref is None:
            self.error(node, f"name {name!r} is not defined")
        if isinstance(ref, Unsupported):
            self.error(node, f"{ref.what} cannot be used in a differentiable function", hint=ref.hint)
        if isinstance(ref, (bool, int, float)):
            return self.b.const(ref)
        return ref

    # --- expressions ---
    def expr(self, e):
        method = getattr(self, "expr_" + type(e).__name__, None)
        if method is None:
            self.error(e, f"{_describe(e)} is not supported in a differentiable function",
                       hint=_HINTS.get(type(e), ""))
        return method(e)

    def value(self, e):
        """An expression that must be a single number or array."""
        v = self.expr(e)
        if isinstance(v, lists.ListRef):
            self.error(e, f"the list {v.name!r} is used where a number or an array is needed",
                       hint=f"np.array({v.name}) makes an array of its items")
        if not isinstance(v, Sym):
            self.error(e, f"expected a number or an array here, got {_kind_of(v)}")
        return v

    def expr_Constant(self, e):
        if isinstance(e.value, (bool, int, float)):
            return self.b.const(e.value)
        if e.value is None:
            return self.b.const(None)
        self.error(e, f"constant {e.value!r} is not a number")

    def expr_Name(self, e):
        return self.lookup(e.id, e)

    def expr_Tuple(self, e):
        return tuple(self.expr(x) for x in e.elts)

    expr_List = expr_Tuple

    def expr_BinOp(self, e):
        op = calls.BINOPS.get(type(e.op))
        if op is None:
            self.error(e, f"operator {type(e.op).__name__} is not supported")
        return calls.binop(self, e, op, self.value(e.left), self.value(e.right))

    def expr_UnaryOp(self, e):
        v = self.value(e.operand)
        if isinstance(e.op, ast.USub):
            return self.b.op("neg", v)
        if isinstance(e.op, ast.UAdd):
            return v
        if isinstance(e.op, ast.Not):
            return self.b.op("not" if v.rank == 0 else "logical_not", v)
        self.error(e, "bitwise ~ is not supported", hint="use np.logical_not")

    def expr_BoolOp(self, e):
        op = "logical_and" if isinstance(e.op, ast.And) else "logical_or"
        first = self.value(e.values[0])
        if first.rank == 0:
            return self.short_circuit(e, first)
        acc = first
        for x in e.values[1:]:
            acc = self.b.op(op, acc, self.value(x))
        return acc

    def expr_Compare(self, e):
        left, acc = self.value(e.left), None
        for op, right_node in zip(e.ops, e.comparators):
            name = calls.COMPARE.get(type(op))
            if name is None:
                self.error(e, f"comparison {type(op).__name__} is not supported")
            right = self.value(right_node)
            c = self.b.op(name, left, right)
            acc = c if acc is None else self.b.op("logical_and", acc, c)
            left = right
        return acc

    def expr_IfExp(self, e):
        scratch = []
        with self.block(scratch):
            test = self.value(e.test)
        if test.rank == 0:
            self.b.stmts.extend(scratch)
            return self.if_expression(e, test)
        self.b.stmts.extend(scratch)
        return self.b.op("where", test, self.value(e.body), self.value(e.orelse))

    def expr_Attribute(self, e):
        base = self.expr(e.value)
        if isinstance(base, ModuleRef):
            return calls.module_attribute(self, e, base, e.attr)
        if isinstance(base, UserModule):
            return calls.user_module_attribute(self, e, base, e.attr)
        if isinstance(base, Sym):
            return calls.array_attribute(self, e, base, e.attr)
        self.error(e, f"attribute .{e.attr} of {_kind_of(base)} is not supported")

    def expr_Subscript(self, e):
        base = self.expr(e.value)
        if isinstance(base, Struct):
            key = _constant_key(e.slice)
            if key is None or key not in base.items:
                self.error(e, f"index a tuple or dict argument with a constant key; {ast.unparse(e.slice)!r} "
                           f"is not one of {sorted(base.items, key=str)}")
            return base.items[key]
        if isinstance(base, tuple):
            key = _constant_key(e.slice)
            if not isinstance(key, int) or not -len(base) <= key < len(base):
                self.error(e, "index a tuple with a constant integer")
            return base[key]
        if isinstance(base, Sym) and isinstance(base.type, TupleType):
            key = _constant_key(e.slice)
            if not isinstance(key, int):
                self.error(e, "index x.shape with a constant integer")
            return self.b.op("tuple_getitem", base, i=key)
        if isinstance(base, Sym):
            return calls.getitem(self, e, base, e.slice)
        if isinstance(base, lists.ListRef):
            return lists.read(self, base, e)
        if isinstance(base, FuncRef) and base.module == "np" and base.name in calls.INDEXED:
            return calls.INDEXED[base.name](self, e)
        self.error(e, f"cannot index {_kind_of(base)}")

    def expr_Call(self, e):
        return calls.call(self, e)

    # --- user functions, inlined ---
    def inline(self, node, user: UserFunc, args):
        if self.calls is not None:
            result = self.calls(self, node, user.pyfunc, args)
            if result is not None:
                return result
        stack = self.call_stack
        if user.pyfunc in stack:
            chain = " -> ".join(f.__name__ for f in stack + (user.pyfunc,))
            self.error(node, f"recursive calls are not supported ({chain})",
                       hint="write the recursion as a loop, e.g. with a while loop and an explicit stack array")
        if self.depth >= MAX_INLINE_DEPTH:
            self.error(node, f"calls are nested more than {MAX_INLINE_DEPTH} deep")
        n_params = len(parse_function(user.pyfunc).tree.args.args)
        if n_params != len(args):
            self.error(node, f"{user.pyfunc.__name__}() takes {n_params} arguments, got {len(args)}")
        for a in args:
            if isinstance(a, lists.ListRef):
                self.error(node, f"the list {a.name!r} cannot be passed to {user.pyfunc.__name__}()",
                           hint=f"pass np.array({a.name})")
            if isinstance(a, Sym) and isinstance(a.value, Var):
                self.b.pinned.add(a.value.name)     # bound to a parameter: keep its name
        return lower_inlined(self.b, user.pyfunc, args, self.depth + 1,
                             self.enclosing_loops + len(self.loops), stack, self.calls)


def lower_inlined(b: Builder, pyfunc, args, depth: int = 0, enclosing_loops: int = 0, call_stack: tuple = (),
                  calls=None):
    """Lower `pyfunc`'s body into `b`'s current block with its parameters bound to `args`; its
    result (a Sym or a tuple). Calls the cost model inlines, and custom derivative rules, are
    lowered this way; `calls` decides for the calls inside it."""
    parsed, params = _parsed_with_params(pyfunc, len(args))
    sub = Lowerer(parsed, b.names, b.types, depth)
    sub.calls = calls
    sub.b = b
    sub.stmts = b.stmts
    sub.env = dict(zip(params, args))
    sub.enclosing_loops = enclosing_loops
    sub.call_stack = call_stack + (pyfunc,)
    saved = b.loc
    sub.lower_body(parsed.tree.body)
    b.loc = saved
    return sub.result


def _constant_key(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, str)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value
    return None


def _kind_of(v):
    if isinstance(v, Struct):
        return f"a {v.kind} argument"
    if isinstance(v, tuple):
        return "a tuple"
    if isinstance(v, ModuleRef):
        return f"the module {v.name}"
    if isinstance(v, (FuncRef, UserFunc)):
        return "a function"
    return type(v).__name__


def _describe(node) -> str:
    return {ast.Try: "try/except", ast.With: "a with block", ast.ClassDef: "a class definition",
            ast.FunctionDef: "a nested function definition", ast.Lambda: "a lambda",
            ast.Yield: "yield (a generator)", ast.YieldFrom: "yield from", ast.Global: "global",
            ast.Nonlocal: "nonlocal", ast.Delete: "del", ast.Raise: "raise", ast.Assert: "assert",
            ast.Import: "import", ast.ImportFrom: "import", ast.ListComp: "a list comprehension",
            ast.GeneratorExp: "a generator expression", ast.Dict: "a dict literal",
            ast.Set: "a set literal", ast.JoinedStr: "an f-string", ast.Await: "await",
            ast.Starred: "*unpacking", ast.NamedExpr: "the walrus operator"}.get(type(node),
                                                                                 type(node).__name__)


_HINTS = {
    ast.Try: "errors cannot be caught in differentiated code; check inputs before calling",
    ast.ListComp: "use a NumPy array expression, or np.stack([...]) of a fixed list",
    ast.GeneratorExp: "use a NumPy reduction such as np.sum",
    ast.Lambda: "define a function with def at module level",
    ast.FunctionDef: "define the helper at module level and call it",
    ast.ClassDef: "pass parameters as arrays, tuples or dicts",
    ast.Import: "import at module level",
    ast.ImportFrom: "import at module level",
    ast.Yield: "return an array instead",
    ast.With: "move it outside the differentiated function",
    ast.Global: "pass the value as an argument",
    ast.Assert: "check inputs before calling the differentiated function",
    ast.Raise: "check inputs before calling the differentiated function",
}


def check_signature(parsed):
    a = parsed.tree.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
        raise CompileError("only plain parameters are supported (no *args, **kwargs or keyword-only ones)",
                           parsed.loc(parsed.tree), hint="pass every argument by position or by name")


def _parsed_with_params(pyfunc, n_args: int):
    """The parsed function and its parameter names, checked against the number of arguments."""
    parsed = parse_function(pyfunc)
    check_signature(parsed)
    params = [a.arg for a in parsed.tree.args.args]
    if len(params) != n_args:
        raise CompileError(f"{parsed.tree.name}() takes {len(params)} arguments, got {n_args}",
                           parsed.loc(parsed.tree))
    return parsed, params


def lower(pyfunc, specs, calls=None) -> tuple[Function, object]:
    """IR for `pyfunc` specialized to argument specs (Types, or ('tuple'|'dict', items) trees).
    Returns the function and the structure of its result (a Sym or a tuple of Syms). `calls`
    decides, for each call to a user function, whether it is a call to a separately compiled unit
    (it returns the result) or is inlined (it returns None); without it every call is inlined."""
    parsed, params = _parsed_with_params(pyfunc, len(specs))
    names = NameAllocator(_all_names(parsed.tree))
    for helper in HELPERS + KERNELS:   # generated code calls these: a user's `mean = ...` becomes mean_1
        names.reserve(helper)
    types: dict = {}
    lowerer = Lowerer(parsed, names, types)
    lowerer.calls = calls
    leaves: list = []
    for p, spec in zip(params, specs):
        binding = flatten_spec(f"{p}_arg" if p in HELPERS + KERNELS else p, spec, leaves)
        lowerer.env[p] = binding
    for leaf, ty in leaves:
        names.reserve(leaf)
        types[leaf] = ty
    for p in params:
        lowerer.env[p] = _bind_leaves(lowerer.env[p], lowerer.b)
    lowerer.lower_body(parsed.tree.body)
    lowerer.stmts = lowerer.b.stmts
    result = lowerer.result
    _check_result(lowerer, result)
    values = _values(result) if isinstance(result, tuple) else (result.value,)
    body = lowerer.stmts + [Return(values, parsed.loc(parsed.tree.body[-1]))]
    fn = Function(parsed.tree.name, [leaf for leaf, _ in leaves], body, parsed.filename, types)
    fn.names = names
    return fn, result


def _values(result):
    """The IR values of a (possibly nested) tuple of returned Syms."""
    return tuple(_values(r) if isinstance(r, tuple) else r.value for r in result)


def _bind_leaves(binding, b):
    if isinstance(binding, str):
        return b.sym(Var(binding))
    return Struct(binding.kind, {k: _bind_leaves(v, b) for k, v in binding.items.items()})


def _check_result(lowerer, result):
    items = result if isinstance(result, tuple) else (result,)
    for r in items:
        if isinstance(r, tuple) and r:
            _check_result(lowerer, r)
        elif not isinstance(r, Sym) or isinstance(r.type, TupleType):
            lowerer.error(lowerer.parsed.tree.body[-1],
                          "return numbers or arrays, or tuples of them written out (`return loss, (a, b)`)")


def _all_names(tree) -> set:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {a.arg for a in ast.walk(tree)
                                                                         if isinstance(a, ast.arg)}
