"""A fingerprint of everything that decides the generated code for one call signature, cheap
enough to compute in every process: the function's source and the sources (or values) of the
names it uses, the signature, the transformation, and the compiler's own source. A process that
finds the fingerprint in the cache index loads the generated module without lowering, deriving
or importing SymPy."""
from __future__ import annotations

import hashlib
import os
import types
from pathlib import Path

from .errors import CompileError
from .frontend.source import function_source
from .frontend.resolve import resolve, module_attribute, UserFunc, UserModule, CustomRef

_COMPILER_DIGEST = None


def compiler_digest() -> str:
    global _COMPILER_DIGEST
    if _COMPILER_DIGEST is None:
        h = hashlib.sha256()
        root = Path(__file__).parent
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
        _COMPILER_DIGEST = h.hexdigest()[:16]
    return _COMPILER_DIGEST


def _names(code: types.CodeType):
    yield from code.co_names
    yield from code.co_freevars
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)


def _describe(pyfunc, h, seen: set) -> None:
    if pyfunc in seen:
        return
    seen.add(pyfunc)
    try:
        text, filename, first = function_source(pyfunc)
        # the generated comments name the file and line: equal code from elsewhere is not shared
        h.update(f"{os.path.basename(filename)}:{first}\n{text}".encode())
    except CompileError:                    # no source of its own: never shared through the disk
        h.update(repr(pyfunc).encode())
    names = sorted(set(_names(pyfunc.__code__)))
    for name in names:
        ref = resolve(name, pyfunc)
        _describe_ref(name, ref, h, seen)
        if isinstance(ref, UserModule):         # mod.f(...): what the attributes it names mean
            for attr in names:
                inner = module_attribute(ref, attr)
                if inner is not None:
                    _describe_ref(f"{name}.{attr}", inner, h, seen)


def _describe_ref(name: str, ref, h, seen: set) -> None:
    if isinstance(ref, UserFunc):
        h.update(f"|{name}=fn:".encode())
        _describe(ref.pyfunc, h, seen)
    elif isinstance(ref, CustomRef):
        h.update(f"|{name}=custom:".encode())
        for fn in (ref.custom.pyfunc, ref.custom.vjp_fn, ref.custom.jvp_fn):
            if fn is not None:
                _describe(fn, h, seen)
    else:
        h.update(f"|{name}={ref!r}".encode())


def function_digest(pyfunc) -> str:
    """The digest of a function's source and of everything it reaches (helpers at any depth, the
    values of numeric globals): equal digests mean equal generated code for equal signatures."""
    h = hashlib.sha256()
    _describe(pyfunc, h, set())
    return h.hexdigest()


def of(pyfunc, specs, mode: str, argnums: tuple, has_aux: bool, target: str, digest: str | None = None) -> str:
    """The cache-index key of one transformation of pyfunc for one signature (`digest`, when the
    caller has it, is function_digest(pyfunc))."""
    h = hashlib.sha256()
    h.update(compiler_digest().encode())
    h.update(repr((specs, mode, argnums, has_aux, target)).encode())
    h.update((digest or function_digest(pyfunc)).encode())
    return h.hexdigest()[:24]
