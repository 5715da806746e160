"""How each NumPy, math and builtin call, method and attribute lowers to primitives.

Every name here maps to a primitive of the rule table; anything not listed is a CompileError that
names the function, so an unsupported call can never reach Numba or give a wrong gradient."""
from __future__ import annotations

import ast
import math
from typing import NamedTuple

from ..errors import CompileError
from ..ir.nodes import Const
from ..ir.types import Type, TupleType, FLOAT, INT, BOOL
from ..ir.builder import Sym
from . import resolve as _resolve
from . import lists
from .resolve import ModuleRef, FuncRef, UserFunc, UserModule, CustomRef, Unsupported

BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv", ast.Pow: "pow",
          ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.MatMult: "matmul"}
COMPARE = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}

UNARY = {name: name for name in ("exp", "log", "log1p", "expm1", "log2", "log10", "sqrt", "square",
                                 "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh",
                                 "tanh", "abs", "sign", "floor", "ceil")}
UNARY.update({"absolute": "abs", "fabs": "abs", "negative": "neg", "asin": "arcsin", "acos": "arccos",
              "atan": "arctan", "rint": "round", "logical_not": "logical_not"})
BINARY = {"arctan2": "arctan2", "atan2": "arctan2", "hypot": "hypot", "power": "pow", "pow": "pow",
          "maximum": "maximum", "minimum": "minimum", "add": "add", "subtract": "sub",
          "multiply": "mul", "divide": "truediv", "true_divide": "truediv", "mod": "mod",
          "fmod": "fmod", "floor_divide": "floordiv", "logical_and": "logical_and",
          "logical_or": "logical_or"}
CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}
DTYPES = {"float64": FLOAT, "float32": FLOAT, "float_": FLOAT, "int64": INT, "int32": INT,
          "intp": INT, "bool_": BOOL, "float": FLOAT, "int": INT, "bool": BOOL}


def binop(lw, node, op, a, b):
    return lw.b.op(op, a, b)


# --- argument helpers ---
def bind_args(lw, e, fname, names, required, args=None):
    """Map a call's positional and keyword arguments to parameter names (AST nodes)."""
    args = list(e.args) if args is None else args
    if any(isinstance(a, ast.Starred) for a in args):
        lw.error(e, "*args in calls is not supported")
    if len(args) > len(names):
        lw.error(e, f"{fname}() takes at most {len(names)} arguments here, got {len(args)}")
    bound = dict(zip(names, args))
    for kw in e.keywords:
        if kw.arg not in names:
            lw.error(e, f"{fname}() does not support the keyword {kw.arg!r} here",
                     hint=f"supported: {', '.join(names)}")
        bound[kw.arg] = kw.value
    for r in names[:required]:
        if r not in bound:
            lw.error(e, f"{fname}() needs the argument {r!r}")
    return bound


def static(lw, node, what):
    """A compile-time constant (an axis, keepdims): literal ints, bools, None, tuples of ints."""
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except ValueError:
        pass
    if isinstance(node, ast.Name):      # a parameter of a called function, bound to a constant
        v = _constant_of(lw.lookup(node.id, node))
        if v is not _NOT_CONSTANT:
            return v
    if isinstance(node, ast.Name) and node.id in lw.env:
        raise StaticArgumentNeeded(f"{what} must be a constant written in the source", lw.parsed.loc(node),
                                   "write it as a literal, e.g. axis=0, or pass a literal to the function's parameter")
    lw.error(node, f"{what} must be a constant written in the source",
             hint="write it as a literal, e.g. axis=0, or pass a literal to the function's parameter")


class StaticArgumentNeeded(CompileError):
    """A separately compiled function uses a parameter where a constant is needed (an axis): the
    call is inlined instead, with the constant the caller passes."""


class ArgumentWritten(CompileError):
    """A function writes into an argument: an error for the function being differentiated, and
    for a called function a reason to inline the call (the caller may pass an array it owns)."""


_NOT_CONSTANT = object()


def _constant_of(v):
    if isinstance(v, Sym) and isinstance(v.value, Const):
        return v.value.value
    if isinstance(v, tuple):
        items = tuple(_constant_of(x) for x in v)
        return _NOT_CONSTANT if _NOT_CONSTANT in items else items
    return _NOT_CONSTANT


def axis_of(lw, node, rank, what="axis", many=False):
    """A constant axis, counted from 0; many=True also takes a tuple of axes (a reduction's), given
    back sorted, an int when it names one axis and None when it names them all."""
    v = static(lw, node, what)
    if v is None:
        return None
    if isinstance(v, (tuple, list)):
        if not many:
            lw.error(node, f"a tuple of axes is not supported for {what}", hint="give one axis")
        axes = sorted(_one_axis(lw, node, k, rank, what) for k in v)
        if len(set(axes)) != len(axes):
            lw.error(node, f"{what}={tuple(v)!r} names an axis twice")
        if not axes:
            lw.error(node, f"{what}=() reduces no axis", hint="leave the reduction out")
        if len(axes) == rank:
            return None
        return axes[0] if len(axes) == 1 else tuple(axes)
    return _one_axis(lw, node, v, rank, what)


def _one_axis(lw, node, v, rank, what):
    if isinstance(v, bool) or not isinstance(v, int) or not -rank <= v < rank:
        lw.error(node, f"{what}={v!r} is out of range for an array of rank {rank}")
    return v % rank


def dims(lw, node):
    """Integer sizes from a shape argument: an int, a tuple/list of ints, or x.shape."""
    if isinstance(node, (ast.Tuple, ast.List)):
        vals = [lw.value(x) for x in node.elts]
    else:
        v = lw.expr(node)
        if isinstance(v, tuple):
            vals = list(v)
        elif isinstance(v, Sym) and isinstance(v.type, TupleType):
            vals = [lw.b.op("tuple_getitem", v, i=i) for i in range(len(v.type.elts))]
        else:
            vals = [v]
    for v in vals:
        if not isinstance(v, Sym) or v.type != Type(INT, 0):
            lw.error(node, "array sizes must be integers", hint="use int(...) or sizes from x.shape")
    return vals


def sequence(lw, node, what):
    if not isinstance(node, (ast.Tuple, ast.List)):
        v = lw.expr(node)
        if isinstance(v, tuple):
            return list(v)
        lw.error(node, f"{what} needs a literal tuple or list of arrays, e.g. {what}((a, b))")
    return [lw.value(x) for x in node.elts]


def dtype_of(lw, node):
    if node is None:
        return None
    v = lw.expr(node) if not isinstance(node, ast.Name) or node.id not in ("float", "int", "bool") else \
        FuncRef("builtins", node.id)
    if isinstance(v, FuncRef) and v.name in DTYPES:
        return DTYPES[v.name]
    lw.error(node, "dtype must be float, int, bool or a NumPy float64/int64 type")


# --- calls ---
def call(lw, e):
    f = e.func
    if isinstance(f, ast.Attribute):
        base = lw.expr(f.value)
        if isinstance(base, Sym):
            return method(lw, e, base, f.attr)
        if isinstance(base, lists.ListRef):
            return lists.method(lw, e, base, f.attr)
        if isinstance(base, ModuleRef):
            target = module_attribute(lw, f, base, f.attr)
        elif isinstance(base, UserModule):
            target = user_module_attribute(lw, f, base, f.attr)
        else:
            lw.error(e, f"cannot call .{f.attr} on {type(base).__name__}")
    else:
        target = lw.expr(f)
    if isinstance(target, CustomRef):      # its own rules, which it lowers itself (custom.py)
        return target.custom.lower_call(lw, e, user_call_args(lw, e, target.custom.pyfunc))
    if isinstance(target, UserFunc):
        return lw.inline(e, target, user_call_args(lw, e, target.pyfunc))
    if not isinstance(target, FuncRef):
        lw.error(e, f"{ast.unparse(f)} is not a function cotangent knows")
    return call_function(lw, e, target)


def user_call_args(lw, e, pyfunc) -> list:
    """The values bound to each parameter of a called user function: positional arguments, then
    keywords, then the function's defaults (constants: numbers, bools, None, tuples of them)."""
    from .source import parse_function
    tree = parse_function(pyfunc).tree
    params = [a.arg for a in tree.args.args]
    fname = pyfunc.__name__
    for a in e.args:
        if isinstance(a, ast.Starred):
            lw.error(e, "*args in calls is not supported")
    if len(e.args) > len(params):
        lw.error(e, f"{fname}() takes {len(params)} arguments, got {len(e.args)}")
    bound: dict = dict(zip(params, e.args))
    for kw in e.keywords:
        if kw.arg is None:
            lw.error(e, "**kwargs in calls is not supported")
        if kw.arg not in params:
            lw.error(e, f"{fname}() has no parameter {kw.arg!r}", hint=f"its parameters: {', '.join(params)}")
        if kw.arg in bound:
            lw.error(e, f"{fname}() got two values for {kw.arg!r}")
        bound[kw.arg] = kw.value
    defaults = dict(zip(params[len(params) - len(pyfunc.__defaults__ or ()):], pyfunc.__defaults__ or ()))
    values = []
    for p in params:
        if p in bound:
            values.append(lw.expr(bound[p]))
        elif p in defaults:
            values.append(lw.expr(_default_node(lw, e, fname, p, defaults[p])))
        else:
            lw.error(e, f"{fname}() needs the argument {p!r}")
    return values


def _default_node(lw, e, fname, param, value):
    """A default value as the AST of a constant, so it lowers like a literal written at the call."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return ast.copy_location(ast.Constant(value), e)
    if isinstance(value, tuple):
        return ast.copy_location(ast.Tuple([_default_node(lw, e, fname, param, v) for v in value], ast.Load()), e)
    lw.error(e, f"the default of {fname}()'s parameter {param!r} is {type(value).__name__}",
             hint="defaults must be numbers, bools, None or tuples of them; pass arrays explicitly")


def call_function(lw, e, ref: FuncRef):
    b, mod, name = lw.b, ref.module, ref.name
    qual = f"{mod}.{name}" if mod != "builtins" else name
    if mod == "math":
        return call_math(lw, e, name)
    if mod == "builtins":
        return call_builtin(lw, e, name)
    if mod == "ct" and name == "checkpointed":
        lw.error(e, "ct.checkpointed marks the range of a for loop and is used nowhere else",
                 hint="for t in ct.checkpointed(range(n), snapshots=20):")
    if mod == "ct":                 # ct.stop_gradient(x): the value, as a constant
        a = bind_args(lw, e, "stop_gradient", ["x"], 1)
        return b.op("stop_gradient", lw.value(a["x"]))
    if mod == "np.linalg":
        handler = LINALG.get(name)
        if handler is None:
            lw.error(e, f"{qual} is not supported", hint=f"supported from np.linalg: {', '.join(sorted(LINALG))}")
        return handler(lw, e, qual)
    if mod == "scipy.special":
        handler = SCIPY_SPECIAL.get(name)
        if handler is None:
            lw.error(e, f"{qual} is not supported: cotangent has no derivative rule for it",
                     hint=f"supported from scipy.special: {', '.join(sorted(SCIPY_SPECIAL))}")
        return handler(lw, e, qual)
    if name in UNARY:
        a = bind_args(lw, e, qual, ["x"], 1)
        return b.op(UNARY[name], lw.value(a["x"]))
    if name in BINARY:
        a = bind_args(lw, e, qual, ["x1", "x2"], 2)
        return b.op(BINARY[name], lw.value(a["x1"]), lw.value(a["x2"]))
    handler = NUMPY.get(name)
    if handler is None:
        lw.error(e, f"{qual} is not supported: cotangent has no derivative rule for it",
                 hint="write it with supported NumPy functions (see docs/guide/supported-python.md)")
    return handler(lw, e, qual)


def call_math(lw, e, name):
    b = lw.b
    if name == "log" and len(e.args) == 2:
        return b.op("truediv", b.op("log", lw.value(e.args[0])), b.op("log", lw.value(e.args[1])))
    op = MATH.get(name) or UNARY.get(name) or BINARY.get(name)
    # math.remainder is IEEE's (rounds the quotient to nearest), not NumPy's remainder
    if op is None or not hasattr(math, name) or name == "remainder":
        lw.error(e, f"math.{name} is not supported", hint="use the NumPy function of that name")
    vals = [lw.value(a) for a in e.args]
    for v in vals:
        if v.rank > 0:
            lw.error(e, f"math.{name} takes numbers, not arrays", hint=f"use np.{name} for arrays")
    return b.op(op, *vals)


def call_builtin(lw, e, name):
    b = lw.b
    if name == "sum":
        return calls_reductions.builtin_sum(lw, e)
    vals = [lw.expr(a) for a in e.args]
    if e.keywords:
        lw.error(e, f"keyword arguments to {name}() are not supported")
    if name == "abs" and len(vals) == 1:
        return b.op("abs", vals[0])
    if name in ("min", "max") and len(vals) >= 2:
        acc = vals[0]
        for v in vals[1:]:
            if acc.rank or v.rank:
                lw.error(e, f"builtin {name}() takes numbers", hint=f"use np.{name}imum for arrays")
            acc = b.op("maximum" if name == "max" else "minimum", acc, v)
        return acc
    if name == "len" and len(vals) == 1:
        if isinstance(vals[0], lists.ListRef):
            return lists.length(lw, vals[0])
        if vals[0].rank == 0:
            lw.error(e, "len() of a number")
        return b.op("dim", vals[0], axis=0)
    if name in ("float", "int", "bool") and len(vals) == 1:
        if vals[0].rank:
            lw.error(e, f"{name}() of an array", hint="index a single element first")
        return b.op(name, vals[0])
    if name == "range":
        lw.error(e, "range() is only meaningful in a for loop, which is not supported yet")
    lw.error(e, f"builtin {name}() is not supported here")


# --- NumPy functions with their own argument conventions ---
def _reduction(op):
    def handler(lw, e, qual, args=None, base=None):
        names = ["a", "axis", "keepdims"] if base is None else ["axis", "keepdims"]
        a = bind_args(lw, e, qual, names, 1 if base is None else 0, args)
        x = base if base is not None else array_of(lw, a["a"])
        keep = bool(static(lw, a.get("keepdims"), "keepdims") or False)
        return reduce(lw, op, x, a.get("axis"), keep)
    return handler


def reduce(lw, op, x, axis_node, keep):
    """sum, mean, max, min or prod of x over the axis (or tuple of axes) the node names."""
    axis = axis_of(lw, axis_node, max(x.rank, 1), many=True)
    if x.rank == 0 and axis is None:
        return x        # sum, mean, max, min and prod of a number are the number
    if x.rank == 1:
        axis = None     # the same reduction; Numba's np.sum(v, axis=0) is a number, not an array
    if op == "prod" and isinstance(axis, tuple):    # one axis at a time, the last first: exact
        for k in reversed(axis):
            x = lw.b.op(op, x, axis=k, keepdims=keep)
        return x
    return lw.b.op(op, x, axis=axis, keepdims=keep)


def array_of(lw, node):
    """An array argument: a value, a list used as a stack, or a list or tuple of numbers and arrays
    (stacked along a new first axis, as np.array does)."""
    v = lw.expr(node)
    if isinstance(v, lists.ListRef):
        return lists.as_array(lw, v, node)
    if isinstance(v, tuple):
        return _stacked(lw, node, v)
    return lw.value(node)


def _stacked(lw, node, v):
    if isinstance(v, Sym):
        return v
    if not isinstance(v, tuple):
        lw.error(node, "expected numbers and arrays in this list")
    if not v:
        lw.error(node, "an empty list or tuple has no elements to work on")
    items = [_stacked(lw, node, x) for x in v]
    if len({x.rank for x in items}) > 1:
        lw.error(node, "the items of this list have different ranks",
                 hint="np.array needs items of one shape")
    return lw.b.op("stack", *items, axis=0)


def _two(op):
    def handler(lw, e, qual):
        a = bind_args(lw, e, qual, ["a", "b"], 2)
        return lw.b.op(op, lw.value(a["a"]), lw.value(a["b"]))
    return handler


def _inner(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "b"], 2)
    x, y = lw.value(a["a"]), lw.value(a["b"])
    if x.rank != 1 or y.rank != 1:
        lw.error(e, "np.inner is supported for two vectors", hint="use x @ y.T for matrices")
    return lw.b.op("dot", x, y)


def _one(op):
    def handler(lw, e, qual):
        a = bind_args(lw, e, qual, ["a"], 1)
        return lw.b.op(op, lw.value(a["a"]))
    return handler


def _transpose(lw, e, qual, args=None, base=None):
    a = bind_args(lw, e, qual, ["a", "axes"] if base is None else ["axes"], 1 if base is None else 0, args)
    x = base if base is not None else lw.value(a["a"])
    axes = static(lw, a.get("axes"), "axes")
    if axes is not None:
        axes = tuple(int(k) % x.rank for k in axes)
    return lw.b.op("transpose", x, axes=axes)


def _reshape(lw, e, qual, args=None, base=None):
    if base is None:
        a = bind_args(lw, e, qual, ["a", "newshape"], 2)
        x, shape = lw.value(a["a"]), dims(lw, a["newshape"])
    else:
        x = base
        nodes = list(e.args)
        shape = dims(lw, nodes[0]) if len(nodes) == 1 else [s for n in nodes for s in dims(lw, n)]
    if sum(1 for s in shape if s.const_value() == -1) > 1:
        lw.error(e, "reshape: at most one size can be -1")
    return lw.b.op("reshape", x, *shape)


def _concatenate(lw, e, qual):
    a = bind_args(lw, e, qual, ["arrays", "axis"], 1)
    xs = sequence(lw, a["arrays"], "np.concatenate")
    return lw.b.op("concatenate", *xs, axis=axis_of(lw, a.get("axis"), max(xs[0].rank, 1)) or 0)


def _stack(lw, e, qual):
    a = bind_args(lw, e, qual, ["arrays", "axis"], 1)
    if isinstance(a["arrays"], ast.Name) and isinstance(lw.env.get(a["arrays"].id), lists.ListRef):
        if a.get("axis") is not None and static(lw, a["axis"], "axis") != 0:
            lw.error(e, "np.stack of a list is supported along axis 0", hint="transpose the result")
        return lists.as_array(lw, lw.env[a["arrays"].id], e)
    xs = sequence(lw, a["arrays"], "np.stack")
    return lw.b.op("stack", *xs, axis=axis_of(lw, a.get("axis"), xs[0].rank + 1) or 0)


def _hstack(lw, e, qual):
    a = bind_args(lw, e, qual, ["tup"], 1)
    xs = sequence(lw, a["tup"], "np.hstack")
    if all(x.rank == 0 for x in xs):
        return lw.b.op("stack", *xs, axis=0)
    return lw.b.op("concatenate", *xs, axis=0 if xs[0].rank == 1 else 1)


def _vstack(lw, e, qual):
    a = bind_args(lw, e, qual, ["tup"], 1)
    xs = sequence(lw, a["tup"], "np.vstack")
    if all(x.rank == 0 for x in xs):      # numbers become rows of one element: shape (n, 1)
        return lw.b.op("expand_dims", lw.b.op("stack", *xs, axis=0), axis=1)
    if xs[0].rank == 1:
        return lw.b.op("stack", *xs, axis=0)
    return lw.b.op("concatenate", *xs, axis=0)


def _expand_dims(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "axis"], 2)
    x = lw.value(a["a"])
    return lw.b.op("expand_dims", x, axis=axis_of(lw, a["axis"], x.rank + 1))


def _squeeze(lw, e, qual, args=None, base=None):
    a = bind_args(lw, e, qual, ["a", "axis"] if base is None else ["axis"], 1 if base is None else 0, args)
    x = base if base is not None else lw.value(a["a"])
    if a.get("axis") is None:
        lw.error(e, "squeeze needs axis=: which axes have size 1 is only known at run time",
                 hint="write np.squeeze(x, axis=k)")
    return lw.b.op("squeeze", x, axis=axis_of(lw, a["axis"], x.rank))


def _clip(lw, e, qual, args=None, base=None):
    names = ["a", "a_min", "a_max"] if base is None else ["a_min", "a_max"]
    a = bind_args(lw, e, qual, names, len(names), args)
    x = base if base is not None else lw.value(a["a"])
    return lw.b.op("clip", x, lw.value(a["a_min"]), lw.value(a["a_max"]))


def _where(lw, e, qual):
    if len(e.args) == 1 and not e.keywords:
        return _nonzero(lw, e, qual)        # np.where(condition): np.nonzero(condition)
    if len(e.args) != 3:
        lw.error(e, "np.where needs three arguments (condition, x, y)",
                 hint="the one-argument form returns indices, which have no derivative")
    c, x, y = (lw.value(v) for v in e.args)
    return lw.b.op("where", c, x, y)


def _constructor(op):
    def handler(lw, e, qual):
        a = bind_args(lw, e, qual, ["shape", "dtype"], 1)
        return lw.b.op(op, *dims(lw, a["shape"]), dtype=dtype_of(lw, a.get("dtype")))
    return handler


def _full(lw, e, qual):
    a = bind_args(lw, e, qual, ["shape", "fill_value", "dtype"], 2)
    return lw.b.op("full", *dims(lw, a["shape"]), lw.value(a["fill_value"]), dtype=dtype_of(lw, a.get("dtype")))


def _like(op):
    def handler(lw, e, qual):
        a = bind_args(lw, e, qual, ["a", "dtype"], 1)
        return lw.b.op(op, lw.value(a["a"]), dtype=dtype_of(lw, a.get("dtype")))
    return handler


def _full_like(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "fill_value"], 2)
    return lw.b.op("full_like", lw.value(a["a"]), lw.value(a["fill_value"]))


def _eye(lw, e, qual):
    a = bind_args(lw, e, qual, ["N", "M"], 1)
    return lw.b.op("eye", *[lw.value(a[k]) for k in ("N", "M") if k in a])


def _arange(lw, e, qual):
    vals = [lw.value(v) for v in e.args]
    if not 1 <= len(vals) <= 3 or e.keywords:
        lw.error(e, "np.arange takes 1 to 3 positional arguments")
    return lw.b.op("arange", *vals)


def _array(lw, e, qual):
    a = bind_args(lw, e, qual, ["object", "dtype"], 1)
    node = a["object"]
    dtype = dtype_of(lw, a.get("dtype"))
    try:
        value = _literal(ast.literal_eval(node))
        return lw.b.op("array_literal", value=value, dtype=dtype)
    except (ValueError, TypeError):
        pass
    if isinstance(node, (ast.List, ast.Tuple)):
        return _nested(lw, node)
    v = lw.expr(node)
    if isinstance(v, lists.ListRef):
        return lists.as_array(lw, v, node)
    if not isinstance(v, Sym):
        lw.value(node)          # the error that says what it is
    return lw.b.op("copy", v)


def _nested(lw, node):
    """np.array([[a, b], [c, d]]) of numbers and names: rows stacked from stacked numbers."""
    if not isinstance(node, (ast.List, ast.Tuple)):
        return lw.value(node)
    if not node.elts:
        lw.error(node, "np.array of an empty list", hint="use np.zeros(0)")
    return lw.b.op("stack", *[_nested(lw, x) for x in node.elts], axis=0)


def _literal(v):
    if isinstance(v, (list, tuple)):
        return tuple(_literal(x) for x in v)
    if isinstance(v, (bool, int, float)):
        return v
    raise TypeError(v)


def _copy(lw, e, qual):
    a = bind_args(lw, e, qual, ["a"], 1)
    return lw.b.op("copy", lw.value(a["a"]))


NUMPY = {
    "sum": _reduction("sum"), "mean": _reduction("mean"), "max": _reduction("max"),
    "amax": _reduction("max"), "min": _reduction("min"), "amin": _reduction("min"),
    "prod": _reduction("prod"),
    "dot": _two("dot"), "matmul": _two("matmul"), "outer": _two("outer"), "inner": _inner,
    "trace": _one("trace"), "diag": _one("diag"), "transpose": _transpose,
    "reshape": _reshape, "ravel": _one("ravel"), "concatenate": _concatenate, "stack": _stack,
    "hstack": _hstack, "vstack": _vstack, "expand_dims": _expand_dims, "squeeze": _squeeze,
    "copy": _copy, "clip": _clip, "where": _where,
    "zeros": _constructor("zeros"), "ones": _constructor("ones"), "empty": _constructor("empty"),
    "full": _full, "zeros_like": _like("zeros_like"), "ones_like": _like("ones_like"),
    "empty_like": _like("empty_like"), "full_like": _full_like, "eye": _eye, "arange": _arange,
    "array": _array, "asarray": _array,
}

def _norm(lw, e, qual):
    a = bind_args(lw, e, qual, ["x"], 1)
    return lw.b.op("norm", lw.value(a["x"]))


LINALG = {"norm": _norm}     # np.linalg.NAME
SCIPY_SPECIAL: dict = {}      # scipy.special.NAME, once the user imports SciPy (calls_special.py)
MATH: dict = {}               # math.NAME where NumPy has no function of that name (calls_special.py)
INDEXED: dict = {}            # np.NAME[...] (np.r_, np.c_): handler(lw, subscript node)

METHODS = {
    "sum": _reduction("sum"), "mean": _reduction("mean"), "max": _reduction("max"),
    "min": _reduction("min"), "prod": _reduction("prod"),
    "transpose": _transpose, "reshape": _reshape, "squeeze": _squeeze, "clip": _clip,
}


def method(lw, e, base, name):
    b = lw.b
    if isinstance(base.type, TupleType):
        lw.error(e, f".{name}() on a tuple is not supported")
    if name in METHODS:
        return METHODS[name](lw, e, f"x.{name}", list(e.args), base)
    if name in ("ravel", "flatten") and not e.args:
        return b.op("ravel", base)
    if name == "copy" and not e.args:
        return b.op("copy", base)
    if name == "dot" and len(e.args) == 1:
        return b.op("dot", base, lw.value(e.args[0]))
    if name == "item" and not e.args:
        lw.error(e, "x.item() is not supported", hint="index the element, e.g. x[0]")
    lw.error(e, f"the array method .{name}() is not supported",
             hint="see docs/guide/supported-python.md for the supported methods")


def array_attribute(lw, e, base, attr):
    b = lw.b
    if attr == "T":
        return b.op("transpose", base, axes=None)
    if attr == "shape":
        if base.rank == 0:
            lw.error(e, "a number has no .shape")
        return b.op("shape", base)
    if attr == "size":
        return b.op("size", base)
    if attr == "ndim":
        return b.const(base.rank)
    lw.error(e, f"the array attribute .{attr} is not supported")


def module_attribute(lw, e, mod, attr):
    if attr in CONSTANTS and mod.name in ("np", "math"):
        return lw.b.const(CONSTANTS[attr])
    if mod.name == "np" and attr == "newaxis":
        return lw.b.const(None)
    if mod.name == "np" and attr == "linalg":
        return ModuleRef("np.linalg")
    if mod.name == "np" and attr == "random":
        lw.error(e, "random numbers inside a differentiated function are not supported",
                 hint="draw them outside and pass them as an argument")
    return FuncRef(mod.name, attr)     # a function or dtype; calls check that they know it


def user_module_attribute(lw, e, mod, attr):
    """`mod.attr` for a module other than numpy and math: a function, a submodule or a number."""
    ref = _resolve.module_attribute(mod, attr)
    if ref is None:
        lw.error(e, f"module {mod.module.__name__!r} has no attribute {attr!r}")
    if isinstance(ref, Unsupported):
        lw.error(e, f"{ref.what} cannot be used in a differentiable function", hint=ref.hint)
    if isinstance(ref, (bool, int, float)):
        return lw.b.const(ref)
    return ref


# --- indexing ---
def getitem(lw, e, base, node):
    index = index_pattern(lw, node, base)
    return lw.b.op("getitem", base, *index.operands, index=index.pattern)


class Index(NamedTuple):
    """An index as the rules see it: the static pattern (int, slice parts, newaxis), the values
    it reads (integers and integer arrays; a boolean mask becomes the arrays of its nonzero
    positions), and whether no element can be named twice (no arrays, or arrays from one mask or
    one literal without repeats): a write through an index that may repeat keeps the last value."""
    pattern: tuple
    operands: list
    unique: bool


def index_pattern(lw, node, base=None) -> Index:
    """The static pattern of `base[node]` and the values it reads. `...` becomes the full slices it
    stands for, a list literal an integer (or boolean) array, and a boolean mask over k axes the
    k integer arrays of its nonzero positions (checked against those axes' lengths)."""
    items = _index_items(lw, node)
    rank = base.rank if base is not None else None
    items = _expand_ellipsis(lw, node, items, rank)
    pattern, operands, sources, axis = [], [], [], 0
    for x, item in items:
        if item == "newaxis":
            pattern.append(("newaxis",))
            continue
        if isinstance(item, ast.Slice):
            parts = [item.lower, item.upper, item.step]
            pattern.append(("slice",) + tuple(p is not None for p in parts))
            for p in parts:
                if p is not None:
                    v = lw.value(p)
                    if v.type != Type(INT, 0):
                        lw.error(p, "slice bounds must be integers")
                    operands.append(v)
            axis += 1
            continue
        v, unique = item
        if v.type.kind == FLOAT:
            lw.error(x, "array indices must be integers, got a float", hint="convert with int(...) or .astype(int)")
        if v.type.kind == BOOL and v.rank == 0:
            lw.error(x, "a boolean number as an index is not supported", hint="use an if, or np.where")
        if v.type.kind == BOOL:
            if base is None:
                lw.error(x, "a boolean mask needs the array it indexes")
            found = lw.b.op("mask_nonzero", v, base, axis=axis)
            for k in range(v.rank):
                pattern.append(("int",))
                operands.append(lw.b.op("tuple_getitem", found, i=k))
            sources.append(True)
            axis += v.rank
            continue
        pattern.append(("int",))
        operands.append(v)
        if v.rank:
            sources.append(unique)
        axis += 1
    if rank is not None and axis > rank:
        lw.error(node, f"too many indices ({axis}) for an array of rank {rank}")
    unique = len(sources) <= 1 and all(sources)
    if unique and sources:      # the adjoint of a read can write where it would add up
        pattern = _mark_unique(pattern, operands)
    return Index(tuple(pattern), operands, unique)


def _mark_unique(pattern, operands) -> list:
    """The pattern with its integer-array entries marked as naming no element twice."""
    from ..rules.indexing import operand_count
    out, k = [], 0
    for entry in pattern:
        if entry[0] == "int" and operands[k].rank:
            entry = entry + ("unique",)
        out.append(entry)
        k += operand_count(entry)
    return out


def _index_items(lw, node) -> list:
    """The entries of an index, each (AST node, item): an ast.Slice, "newaxis", "ellipsis", or
    (value, unique) for a number or an array; a tuple value (`x[np.nonzero(m)]`) is its items."""
    if isinstance(node, ast.Tuple):
        elts = node.elts
    elif isinstance(node, (ast.Slice, ast.Constant, ast.List)):
        elts = [node]
    else:
        v = lw.expr(node)
        if isinstance(v, tuple):
            return [(node, _index_value(lw, node, x)) for x in v]
        return [(node, _index_value(lw, node, v))]
    items = []
    for x in elts:
        if isinstance(x, ast.Slice):
            items.append((x, x))
        elif isinstance(x, ast.Constant) and x.value is Ellipsis:
            items.append((x, "ellipsis"))
        elif isinstance(x, ast.Constant) and x.value is None:
            items.append((x, "newaxis"))
        elif isinstance(x, (ast.List, ast.Tuple)):
            items.append((x, _index_list(lw, x)))
        else:
            items.append((x, _index_value(lw, x, lw.expr(x))))
    return items


def _index_value(lw, node, v):
    if isinstance(v, tuple) or not isinstance(v, Sym) or isinstance(v.type, TupleType):
        lw.error(node, "an index must be a number, an array, a slice, None or ...",
                 hint="a tuple inside an index is not supported; write its items out")
    if v.is_const and v.const_value() is None:
        return "newaxis"
    return (v, False)


def _index_list(lw, node):
    """A list written in an index: an array of its integers (or booleans, a mask); unique when it
    is a literal without repeats (of one sign: -1 and 2 may name one element)."""
    try:
        value = ast.literal_eval(node)
    except ValueError:
        value = None
    if value is not None:
        flat = list(_flat_items(value))
        if not flat:
            lw.error(node, "an empty list as an index is not supported")
        if not all(isinstance(v, (bool, int)) for v in flat):
            lw.error(node, "array indices must be integers or booleans")
        kinds = {isinstance(v, bool) for v in flat}
        if len(kinds) > 1:
            lw.error(node, "an index list mixes booleans and integers")
        same_sign = all(v >= 0 for v in flat) or all(v < 0 for v in flat)   # x[[-1, 2]] may repeat
        return (lw.b.op("array_literal", value=_literal(value), dtype=None), same_sign and len(set(flat)) == len(flat))
    v = _nested(lw, node)
    if v.type.kind == FLOAT:
        lw.error(node, "array indices must be integers, got a float", hint="convert with int(...)")
    return (v, False)


def _flat_items(v):
    if isinstance(v, (list, tuple)):
        for x in v:
            yield from _flat_items(x)
    else:
        yield v


def _expand_ellipsis(lw, node, items, rank) -> list:
    """The items with `...` replaced by as many full slices as the axes it stands for."""
    at = [k for k, (_, item) in enumerate(items) if item == "ellipsis"]
    if not at:
        return items
    if len(at) > 1:
        lw.error(node, "an index can only have a single ellipsis ('...')")
    if rank is None:
        lw.error(node, "... in an index needs the array it indexes")
    k = at[0]
    consumed = sum(_axes_of(item) for _, item in items)
    n = rank - consumed
    if n < 0:
        lw.error(node, f"too many indices ({consumed}) for an array of rank {rank}")
    arrays = [j for j, (_, item) in enumerate(items) if isinstance(item, tuple) and item[0].rank]
    scalars = [j for j, (_, item) in enumerate(items) if isinstance(item, tuple)]
    if n == 0 and arrays and any(j < k for j in scalars) and any(j > k for j in scalars) \
            and any(not isinstance(item, tuple) for _, item in items[:scalars[0]]):
        # NumPy puts the advanced axes first, as if the ... kept them apart; written out, they
        # would stay after the slices in front of them
        lw.error(node, "a ... that stands for no axes between advanced indices is not supported here",
                 hint="write the index without ...")
    full = ast.Slice(lower=None, upper=None, step=None)
    return items[:k] + [(items[k][0], full)] * n + items[k + 1:]


def _nonzero(lw, e, qual):
    """np.nonzero(a): the integer arrays of a's nonzero positions, one per axis, as a tuple (which
    indexes an array: x[np.nonzero(m)]); positions have no derivative."""
    v = _nonzero_operand(lw, e, qual)
    found = lw.b.op("nonzero", v)
    return tuple(lw.b.op("tuple_getitem", found, i=k) for k in range(v.rank))


def _flatnonzero(lw, e, qual):
    return lw.b.op("flatnonzero", _nonzero_operand(lw, e, qual))


def _nonzero_operand(lw, e, qual):
    a = bind_args(lw, e, qual, ["a"], 1)
    v = lw.value(a["a"])
    if v.rank == 0:
        lw.error(e, f"{qual} of a number is not supported", hint="pass an array")
    return v if v.type.kind == BOOL else lw.b.op("ne", v, lw.b.const(0))


NUMPY.update({"nonzero": _nonzero, "flatnonzero": _flatnonzero})


def _axes_of(item) -> int:
    """How many axes of the indexed array an index item consumes."""
    if item in ("newaxis", "ellipsis"):
        return 0
    if isinstance(item, ast.Slice):
        return 1
    v = item[0]
    return v.rank if v.type.kind == BOOL else 1


# NumPy areas with handlers of their own register them into NUMPY, METHODS and LINALG when imported
from . import calls_reductions, calls_shapes, calls_products, calls_linalg, calls_special  # noqa: E402,F401
