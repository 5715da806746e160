"""Writing generated modules to the cache directory and importing them.

The file name is a hash of the generated source, which already encodes the function's source,
its signature, the transformation and the compiler version (in the header). Numba's cache=True
stores machine code beside the file, so a second process that generates the same source loads
compiled code instead of compiling."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ..config import config

_LOADED: dict = {}


def index_lookup(fingerprint: str):
    """The generated modules recorded for a fingerprint: (function name, python path, path)."""
    entry = Path(config.cache_dir) / "index" / f"{fingerprint}.txt"
    try:
        name, py_path, path = entry.read_text().split("\n")[:3]
    except (OSError, ValueError):
        return None
    if not (Path(py_path).exists() and Path(path).exists()):
        return None
    return name, py_path, path


def index_store(fingerprint: str, name: str, py_path: str, path: str) -> None:
    folder = Path(config.cache_dir) / "index"
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(f"{name}\n{py_path}\n{path}\n")
    os.replace(tmp, folder / f"{fingerprint}.txt")


def module_path(source: str, name: str) -> Path:
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    return Path(config.cache_dir) / f"{name}_{digest}.py"


def load(source: str, name: str):
    """Import `source` as a module from the cache directory (written once, atomically)."""
    path = module_path(source, name)
    key = str(path)
    if key in _LOADED:
        return _LOADED[key]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != source:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, path)
    modname = f"cotangent_generated.{path.stem}"
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    _LOADED[key] = module
    return module


@contextmanager
def numba_opt_level(level: int):
    """LLVM's optimization level for the Numba compiles made inside (a NUMBA_OPT set by the user wins).

    Numba reads its OPT setting each time it builds a pass manager, so it can be set per compile."""
    if "NUMBA_OPT" in os.environ:
        yield
        return
    from numba.core import config as numba_config
    old = numba_config.OPT
    numba_config.OPT = numba_config._OptLevel(level)
    try:
        yield
    finally:
        numba_config.OPT = old
