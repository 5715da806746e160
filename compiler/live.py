"""Live definitions: what a compiled function was generated from, checked before every call.

In a notebook a helper is redefined, or a global reassigned, between two calls of the same
gradient. Numba and JAX freeze such values when they compile; cotangent does not, so a gradient
never runs code generated from definitions that are gone.

When a function is compiled, `Watch` collects, for every user function reached from it (through
globals, closures, modules of the user's and custom derivatives), the objects its free names refer
to: each global's value (or its absence, so that a later definition shadowing a builtin counts),
each closure cell's contents, and each function's code and defaults. It turns them into one
generated predicate of `is` comparisons, about 30 ns a name, run on every call.

When an identity has changed, the slow check compares the source fingerprint of the function and
everything it reaches (fingerprint.function_digest): the same fingerprint (a cell re-run without
edits, a global rebound to an equal number) refreshes the identities and keeps the code; any other
change means the caller compiles again, or loads the new definitions' code from the disk cache."""
from __future__ import annotations

import dis
import types
from typing import Callable

from . import fingerprint
from .frontend.resolve import classify, UserFunc, UserModule, CustomRef

MISSING = object()           # the value of a name that is not defined (yet)


class Watch:
    """The live objects one compiled function depends on, and a cheap test that they are unchanged."""

    __slots__ = ("pyfunc", "digest", "holds", "names", "entries")

    def __init__(self, pyfunc, digest: str | None = None):
        self.pyfunc = pyfunc
        self.digest = digest if digest is not None else fingerprint.function_digest(pyfunc)
        self._watch()

    def _watch(self) -> None:
        self.entries = dependencies(self.pyfunc)
        self.holds: Callable[[], bool] = predicate(self.entries)
        self.names = len(self.entries)

    def changed(self) -> list[str]:
        """The names whose values are no longer the ones the code was generated from."""
        out = []
        for kind, holder, name, value in self.entries:
            if kind == "global":
                now = holder.get(name, MISSING)
            elif kind == "cell":
                try:
                    now = holder.cell_contents
                except ValueError:
                    now = MISSING
            else:
                now = getattr(holder, name, MISSING)
                name = f"{getattr(holder, '__name__', '?')}.{name}"
            if now is not value and name not in out:
                out.append(name)
        return out

    def current(self) -> bool:
        """Whether the compiled code still matches the definitions (refreshing the identities when
        only they changed, not what they mean)."""
        if self.holds():
            return True
        try:
            same = fingerprint.function_digest(self.pyfunc) == self.digest
        except Exception:  # noqa: BLE001 - a definition that cannot be read any more: compile again
            same = False
        if same:
            self._watch()
        return same


def _global_names(code: types.CodeType):
    """Names the code (and the code nested in it) reads as globals."""
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            yield ins.argval
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _global_names(const)


def _all_names(code: types.CodeType):
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _all_names(const)


def dependencies(pyfunc) -> list:
    """(kind, holder, name, value) for every live object the compiled code of pyfunc depends on:
    kind "global" (holder a namespace dict), "cell" (a closure cell) or "attr" (a function's
    __code__ or __defaults__)."""
    entries: dict = {}
    seen: set = set()

    def follow(ref, code) -> None:
        if isinstance(ref, UserFunc):
            visit(ref.pyfunc)
        elif isinstance(ref, CustomRef):
            for fn in (ref.custom.pyfunc, ref.custom.vjp_fn, ref.custom.jvp_fn):
                if fn is not None:
                    visit(fn)
        elif isinstance(ref, UserModule):       # mod.f(...): the attributes the code names
            namespace = vars(ref.module)
            for attr in sorted(set(_all_names(code))):
                if attr in namespace:
                    entries.setdefault(("global", id(namespace), attr), ("global", namespace, attr, namespace[attr]))
                    follow(classify(namespace[attr], f"{ref.module.__name__}.{attr}"), code)

    def visit(fn) -> None:
        if fn in seen or not isinstance(fn, types.FunctionType):
            return
        seen.add(fn)
        code = fn.__code__
        entries[("attr", id(fn), "__code__")] = ("attr", fn, "__code__", code)
        entries[("attr", id(fn), "__defaults__")] = ("attr", fn, "__defaults__", fn.__defaults__)
        namespace = fn.__globals__
        for name in sorted(set(_global_names(code))):
            value = namespace.get(name, MISSING)
            entries.setdefault(("global", id(namespace), name), ("global", namespace, name, value))
            if value is not MISSING:
                follow(classify(value, name), code)
        for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:
                value = MISSING
            entries[("cell", id(cell), name)] = ("cell", cell, name, value)
            if value is not MISSING:
                follow(classify(value, name), code)

    visit(pyfunc)
    return list(entries.values())


def predicate(entries: list) -> Callable[[], bool]:
    """One generated function that tests every entry's identity: cheaper than a loop over them
    (a dictionary subscript and an `is` per name, about 25 ns)."""
    namespace = {}
    tests = []
    for k, (kind, holder, name, value) in enumerate(entries):
        namespace[f"v{k}"] = value
        if kind == "global":
            namespace[f"ns{k}"] = holder
            tests.append(f"{name!r} not in ns{k}" if value is MISSING else f"ns{k}[{name!r}] is v{k}")
        elif kind == "cell":
            namespace[f"cell{k}"] = holder
            tests.append(f"cell{k}.cell_contents is v{k}")
        else:
            namespace[f"obj{k}"] = holder
            tests.append(f"obj{k}.{name} is v{k}")
    body = " and\n            ".join(tests) or "True"
    source = ("def holds():\n"
              "    try:\n"
              f"        return ({body})\n"
              "    except (KeyError, ValueError):      # a name deleted, a closure cell emptied\n"
              "        return False\n")
    exec(compile(source, "<cotangent watch>", "exec"), namespace)
    return namespace["holds"]
