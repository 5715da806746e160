"""Command line: `python -m cotangent source FILE.py:FUNCTION` prints generated source."""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

from . import api
from .errors import CompileError


def _load_function(spec: str):
    if ":" not in spec:
        raise SystemExit("give the function as FILE.py:FUNCTION")
    path, name = spec.rsplit(":", 1)
    file = Path(path)
    if not file.exists():
        raise SystemExit(f"{path}: no such file")
    sys.path.insert(0, str(file.resolve().parent))
    mod_spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[file.stem] = module
    mod_spec.loader.exec_module(module)
    if not hasattr(module, name):
        raise SystemExit(f"{path} defines no function {name!r}")
    return getattr(module, name)


def _example_args(fn, text: str | None):
    pyfunc = getattr(fn, "__cotangent_function__", fn)
    n = pyfunc.__code__.co_argcount
    if not text:
        return tuple(1.0 for _ in range(n))
    value = eval(text, {"np": np, "numpy": np})  # the user's own expression, on their machine
    return value if isinstance(value, tuple) and n != 1 else (value,)


def _print_rules(markdown: bool) -> int:
    from . import surface
    print(surface.markdown() if markdown else surface.text(), end="")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cotangent",
                                     description="Print the Python source cotangent generates.")
    sub = parser.add_subparsers(dest="command", required=True)
    src = sub.add_parser("source", help="print generated source for FILE.py:FUNCTION")
    src.add_argument("function", help="FILE.py:FUNCTION")
    src.add_argument("--mode", choices=("reverse", "forward", "primal"), default="reverse")
    src.add_argument("--argnums", default="0", help="comma-separated argument positions, e.g. 0,1")
    src.add_argument("--args", default=None,
                     help="example arguments as a Python expression, e.g. \"np.ones((3, 2)), 1.0\" "
                          "(default: every argument the float 1.0)")
    src.add_argument("--target", choices=("cpu", "python"), default="python")
    rules = sub.add_parser("rules", help="the supported NumPy surface: every function, its forms, and its "
                                         "derivative (derived by SymPy for elementwise functions) or conventions")
    rules.add_argument("--markdown", action="store_true", help="as the table in docs/reference/numpy.md")
    sub.add_parser("derive-rules", help="derive every tabulated elementwise rule with SymPy and rewrite the "
                                        "table of recipes shipped with the package (after changing a definition)")
    ns = parser.parse_args(argv)
    if ns.command == "rules":
        return _print_rules(ns.markdown)
    if ns.command == "derive-rules":
        from .rules import recipes
        print(f"wrote {recipes.write_table()} recipes to {recipes.TABLE_PATH}")
        return 0
    fn = _load_function(ns.function)
    pyfunc = getattr(fn, "__cotangent_function__", fn)
    args = _example_args(fn, ns.args)
    argnums = tuple(int(a) for a in ns.argnums.split(",") if a.strip())
    target_fn = api.differentiable(pyfunc, target=ns.target)
    try:
        if ns.mode == "reverse":
            print(api.source(api.grad(target_fn, argnums=argnums), *args), end="")
        elif ns.mode == "forward":
            tangents = [a if i in argnums else None for i, a in enumerate(args)]
            api.jvp(target_fn, args, tangents)
            t = api._Transform(pyfunc, "jvp", argnums, False, ns.target)
            print(t.last.source, end="")
        else:
            print(api.source(target_fn, *args), end="")
    except CompileError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
