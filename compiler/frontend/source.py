"""Getting a function's source and AST, with locations that point back into the user's file."""
from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass

from ..errors import CompileError
from ..ir.nodes import Loc


@dataclass
class ParsedFunction:
    pyfunc: object
    tree: ast.FunctionDef
    filename: str
    first_line: int          # line number of the `def` (or decorator) in the file
    lines: list              # source lines, dedented
    source: str

    def loc(self, node) -> Loc:
        row = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        text = self.lines[row - 1] if 0 < row <= len(self.lines) else ""
        return Loc(self.filename, self.first_line + row - 1, col, text)


_CACHE: dict = {}


def parse_function(pyfunc) -> ParsedFunction:
    """Parse once per function object; the source is read when the function is first compiled."""
    key = pyfunc
    if key in _CACHE:
        return _CACHE[key]
    try:
        raw = inspect.getsource(pyfunc)
        filename = inspect.getsourcefile(pyfunc) or "<unknown>"
        _, first = inspect.getsourcelines(pyfunc)
    except (OSError, TypeError) as e:
        raise CompileError(f"cannot read the source of {getattr(pyfunc, '__name__', pyfunc)!r}: {e}",
                           hint="define the function in a file (not in an interactive prompt or exec)") from None
    source = textwrap.dedent(raw)
    module = ast.parse(source)
    tree = next((n for n in module.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if tree is None:
        if isinstance(module.body[0], ast.Assign) and isinstance(module.body[0].value, ast.Lambda):
            raise CompileError("lambdas are not supported", Loc(filename, first, 0, source.splitlines()[0]),
                               hint="define the function with def")
        raise CompileError(f"{pyfunc!r} is not a function defined with def")
    parsed = ParsedFunction(pyfunc, tree, filename, first, source.splitlines(), source)
    if isinstance(tree, ast.AsyncFunctionDef):
        raise CompileError("async functions are not supported", parsed.loc(tree))
    _CACHE[key] = parsed
    return parsed
