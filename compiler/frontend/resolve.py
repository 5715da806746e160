"""Name resolution: what a free name in the user's function refers to. NumPy and math under any
alias, their functions imported by name, numeric constants, and other user functions."""
from __future__ import annotations

import builtins
import math
import sys
import types
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ModuleRef:
    name: str                # "np", "np.linalg", "np.random", "math" or "scipy.special"


@dataclass(frozen=True)
class UserModule:
    """A module of the user's (or of cotangent.runtime): its functions can be called as mod.f(...)."""
    module: types.ModuleType


@dataclass(frozen=True)
class FuncRef:
    module: str              # "np", "np.linalg", "math", "builtins" or "scipy.special"
    name: str


@dataclass(frozen=True)
class UserFunc:
    pyfunc: object


@dataclass(frozen=True)
class CustomRef:
    custom: object           # a CustomDerivative


@dataclass(frozen=True)
class Unsupported:
    what: str
    hint: str


MODULES = {id(np): "np", id(np.linalg): "np.linalg", id(math): "math", id(np.random): "np.random"}


def _function_index():
    index = {}
    for modname, mod in (("np", np), ("np.linalg", np.linalg), ("math", math)):
        for name in dir(mod):
            obj = getattr(mod, name)
            if callable(obj) and not isinstance(obj, type):
                index.setdefault(id(obj), FuncRef(modname, name))
    for name in ("abs", "min", "max", "len", "float", "int", "range", "sum", "bool", "print"):
        index[id(getattr(builtins, name))] = FuncRef("builtins", name)
    return index


_INDEX = None
_SCIPY_SPECIAL = None


def _scipy_special_index() -> dict:
    """scipy.special's functions by identity, once the user's code has imported it (the compiler
    never imports SciPy itself)."""
    global _SCIPY_SPECIAL
    if _SCIPY_SPECIAL is None:
        mod = sys.modules.get("scipy.special")
        if mod is None:
            return {}
        _SCIPY_SPECIAL = {}
        for name in dir(mod):
            obj = getattr(mod, name, None)
            if callable(obj) and not isinstance(obj, type):
                _SCIPY_SPECIAL.setdefault(id(obj), FuncRef("scipy.special", name))
    return _SCIPY_SPECIAL


def closure_vars(pyfunc) -> dict:
    names = {}
    code = pyfunc.__code__
    if pyfunc.__closure__:
        for name, cell in zip(code.co_freevars, pyfunc.__closure__):
            try:
                names[name] = cell.cell_contents
            except ValueError:
                pass
    return names


def resolve(name: str, pyfunc):
    """What `name`, free in `pyfunc`, means; None if it is not defined."""
    closure = closure_vars(pyfunc)
    if name in closure:
        value = closure[name]
    elif name in pyfunc.__globals__:
        value = pyfunc.__globals__[name]
    elif hasattr(builtins, name):
        value = getattr(builtins, name)
    else:
        return None
    return classify(value, name)


def module_attribute(mod: UserModule, attr: str):
    """What `mod.attr` means, classified like a global name; None if the module has no such name."""
    if not hasattr(mod.module, attr):
        return None
    return classify(getattr(mod.module, attr), f"{mod.module.__name__}.{attr}")


def classify(value, name: str):
    """What a value bound to `name` is to the compiler (a module, number, function, rule...)."""
    global _INDEX
    if _INDEX is None:
        _INDEX = _function_index()
    if isinstance(value, types.ModuleType):
        if id(value) in MODULES:
            return ModuleRef(MODULES[id(value)])
        if value.__name__ == "scipy.special":
            return ModuleRef("scipy.special")
        return UserModule(value)
    if isinstance(value, (bool, int, float, np.floating, np.integer)) and not isinstance(value, np.ndarray):
        return value.item() if isinstance(value, np.generic) else value
    if id(value) in _INDEX:
        return _INDEX[id(value)]
    special = _scipy_special_index()
    if id(value) in special:
        return special[id(value)]
    primitive = getattr(value, "__cotangent_primitive__", None)    # ct.stop_gradient
    if isinstance(primitive, str):
        return FuncRef("ct", primitive)
    if getattr(value, "__cotangent_custom__", False):            # a ct.custom_derivative
        return CustomRef(value)
    inner = getattr(value, "__cotangent_function__", None)
    if inner is not None:
        return UserFunc(inner)
    if isinstance(value, types.FunctionType):
        return UserFunc(value)
    if isinstance(value, np.ndarray):
        return Unsupported(f"the global array {name!r}",
                           f"pass {name} as an argument, so its gradient and its changes are seen")
    return Unsupported(f"{name!r} (a {type(value).__name__})", "")
