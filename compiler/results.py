"""Results shaped like dicts. A differentiable function may return a dict literal with string keys
(`return {"loss": l, "parts": (a, b)}`, or a tuple holding one: `return loss, {"acc": acc}`).
The frontend lowers it as a tuple of its values in sorted key order, the order of a dict
argument's leaves, so generated code only ever returns tuples; the API gives the caller dicts
back (values, tangents, Jacobians, aux) and takes dict cotangents, using the template read here
from the function's return statements."""
from __future__ import annotations

import ast
from typing import Any

from .errors import CompileError

# a template: None (a leaf), ("tuple", (templates...)) or ("dict", (keys...), (templates...))
_TEMPLATES: dict = {}        # code object -> template, or False when no return holds a dict


def template(pyfunc) -> tuple | None:
    """The structure of what pyfunc returns when it holds a dict literal, else None."""
    code = getattr(pyfunc, "__code__", None)
    if code is None:
        return None
    found = _TEMPLATES.get(code)
    if found is None:
        found = _read(pyfunc) or False
        _TEMPLATES[code] = found
    return found or None


def _read(pyfunc):
    from .frontend.source import parse_function
    try:
        parsed = parse_function(pyfunc)
    except CompileError:
        return None          # the compiler reports it where it compiles the function
    shapes = [_shape(node.value) for node in _returns(parsed.tree) if node.value is not None]
    if not shapes or not any(_has_dict(s) for s in shapes):
        return None
    if any(s != shapes[0] for s in shapes[1:]):
        raise CompileError(f"every return of {pyfunc.__name__} must return a dict with the same keys, "
                           "in the same place")
    return shapes[0]


def _returns(tree):
    """The return statements of a function, not of functions defined inside it."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            yield node
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def _shape(e):
    if isinstance(e, ast.Tuple):
        return ("tuple", tuple(_shape(x) for x in e.elts))
    if isinstance(e, ast.Dict) and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in e.keys):
        pairs = sorted(zip((k.value for k in e.keys), e.values), key=lambda kv: kv[0])
        return ("dict", tuple(k for k, _ in pairs), tuple(_shape(v) for _, v in pairs))
    return None


def _has_dict(t) -> bool:
    return t is not None and (t[0] == "dict" or any(_has_dict(x) for x in t[-1]))


def shaped(value: Any, tmpl) -> Any:
    """A result as generated code returns it (tuples), with its dicts put back."""
    if tmpl is None:
        return value
    items = tmpl[-1]
    if len(items) == 1 and not (isinstance(value, tuple) and len(value) == 1):
        value = (value,)          # a returned 1-tuple comes back as its item (pysource._returned)
    if not isinstance(value, tuple):
        return value
    if tmpl[0] == "dict":
        return {k: shaped(v, t) for k, v, t in zip(tmpl[1], value, items)}
    return tuple(shaped(v, t) for v, t in zip(value, items))


def flat(value: Any, tmpl, where: str = "the cotangent") -> Any:
    """The inverse of `shaped`: a caller's structure (a cotangent) with its dicts as tuples in
    sorted key order; keys that differ from the result's are a ValueError naming them."""
    if tmpl is None:
        return value
    if tmpl[0] == "dict":
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be a dict with keys {list(tmpl[1])}, like the result")
        if set(value) != set(tmpl[1]):
            raise ValueError(f"{where} has keys {sorted(value)}, but the result has keys {list(tmpl[1])}")
        return tuple(flat(value[k], t, f"{where}[{k!r}]") for k, t in zip(tmpl[1], tmpl[2]))
    if not isinstance(value, (tuple, list)) or len(value) != len(tmpl[1]):
        return value         # the caller's own check of a tuple cotangent reports it
    return tuple(flat(v, t, f"{where}[{j}]") for j, (v, t) in enumerate(zip(value, tmpl[1])))


def flat_like(value: Any, tmpl, raw: Any) -> Any:
    """`flat(value)` shaped like `raw`, the generated code's own result (a 1-tuple is its item)."""
    out = flat(value, tmpl)
    if not isinstance(raw, tuple) and isinstance(out, tuple) and len(out) == 1:
        return out[0]
    return out


def item(tmpl, index: int):
    """The template of one item of a returned tuple (has_aux: the aux is item 1)."""
    if tmpl is None or tmpl[0] != "tuple" or index >= len(tmpl[1]):
        return None
    return tmpl[1][index]
