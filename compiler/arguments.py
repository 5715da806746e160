"""Arguments at the API boundary: defaults filled in, which arguments are differentiated, and
gradients put back into each argument's structure. Shared by the API and by vmap, the
distributed and interop wrappers, which call the API's public entry points."""
from __future__ import annotations

from .ir.types import FLOAT
from . import specialize as sp


def with_defaults(pyfunc, args) -> tuple:
    """`args` completed with the function's defaults for parameters left out at the end."""
    defaults = getattr(pyfunc, "__defaults__", None) or ()
    code = getattr(pyfunc, "__code__", None)
    if code is None or len(args) >= code.co_argcount:
        return tuple(args)
    missing = code.co_argcount - len(args)
    if missing > len(defaults):
        names = code.co_varnames[len(args):code.co_argcount - len(defaults)]
        raise TypeError(f"{pyfunc.__name__}() missing arguments: {', '.join(names)}")
    return tuple(args) + tuple(defaults[len(defaults) - missing:])


def structure_grads(grads, specs, argnums, single):
    """Flat float-leaf gradients back into each differentiated argument's structure."""
    grads = list(grads) if isinstance(grads, tuple) else [grads]
    it = iter(grads)
    per_arg = []
    for i in argnums:
        types = sp.spec_leaf_types(specs[i])
        filled = iter([next(it) if t.kind == FLOAT else None for t in types])
        per_arg.append(sp.rebuild(specs[i], filled))
    return per_arg[0] if single else tuple(per_arg)


def argnums_tuple(argnums) -> tuple:
    """argnums as a tuple (an int is one argument)."""
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def count_float_leaves(specs, argnums) -> int:
    """How many float leaves the differentiated arguments hold."""
    return sum(1 for i in argnums for t in sp.spec_leaf_types(specs[i]) if t.kind == FLOAT)
