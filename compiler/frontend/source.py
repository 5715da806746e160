"""Getting a function's source and AST, with locations that point back into the user's file."""
from __future__ import annotations

import __future__
import ast
import dis
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
_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)
_FUTURE_FLAGS = sum(getattr(__future__, name).compiler_flag for name in __future__.all_feature_names)


def function_source(pyfunc) -> tuple[str, str, int]:
    """(source, file name, line of the `def`) of pyfunc, checked against its compiled code.

    inspect finds a function's lines by file name and first line number, which can point at other
    lines: a file edited since it was imported, a notebook cell or `exec` whose name was reused for
    other source. The lines found are compiled again and their bytecode compared with the
    function's own, so a gradient is never generated from another function's source."""
    name = getattr(pyfunc, "__name__", repr(pyfunc))
    try:
        code = pyfunc.__code__
        raw = inspect.getsource(pyfunc)
        filename = inspect.getsourcefile(pyfunc) or code.co_filename or "<unknown>"
        _, first = inspect.getsourcelines(pyfunc)
    except (OSError, TypeError, AttributeError) as e:
        where = getattr(getattr(pyfunc, "__code__", None), "co_filename", "?")
        raise CompileError(
            f"cannot read the source of {name!r} (defined in {where}): {e}",
            hint="define the function in a file or a notebook cell; for code run with exec, register its "
                 "source first: linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)"
        ) from None
    if not _matches(pyfunc, textwrap.dedent(raw)):
        raise CompileError(
            f"the source found for {name!r} at {filename}:{first} is not the code it was defined with",
            hint="the file (or the cell name given to exec) now holds other lines; re-run the definition, "
                 "or importlib.reload its module")
    return raw, filename, first


def _matches(pyfunc, source: str) -> bool:
    """Whether `source` compiles to pyfunc's bytecode. Free variables are bound in a wrapper
    function so that they compile as they did (closure reads, not globals)."""
    code = pyfunc.__code__
    if code.co_name == "<lambda>":          # reported as unsupported by the parser
        return True
    frees = code.co_freevars
    text = source
    if frees:
        text = ("def __cotangent_enclosing__():\n"
                + "".join(f"    {v} = None\n" for v in frees)
                + textwrap.indent(source, "    ")
                + f"\n    return {code.co_name}\n")
    try:
        module = compile(text, code.co_filename, "exec", dont_inherit=True)
    except SyntaxError:
        return False
    flags = code.co_flags & _FUTURE_FLAGS     # compiled as the function was
    if flags:
        module = compile(text, code.co_filename, "exec", flags=flags, dont_inherit=True)
    shape = _shape(code)
    return any(_shape(c) == shape for c in _code_objects(module) if c.co_name == code.co_name)


def _shape(code) -> tuple:
    """The instructions of `code` with what compiling it elsewhere may change taken out: jump
    offsets, and LOAD_METHOD, which the compiler avoids for names the module imports."""
    ops = []
    for ins in dis.get_instructions(code):
        if ins.opname in ("CACHE", "EXTENDED_ARG", "NOP"):
            continue
        arg = ins.argval
        if ins.opcode in _JUMPS or hasattr(arg, "co_code"):
            arg = getattr(arg, "co_name", None)
        ops.append(("LOAD_ATTR" if ins.opname == "LOAD_METHOD" else ins.opname, repr(arg)))
    return code.co_varnames, code.co_argcount, code.co_kwonlyargcount, tuple(ops)


def _code_objects(code):
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            yield const
            yield from _code_objects(const)


def parse_function(pyfunc) -> ParsedFunction:
    """Parse once per function object; the source is read when the function is first compiled."""
    key = pyfunc
    if key in _CACHE:
        return _CACHE[key]
    raw, filename, first = function_source(pyfunc)
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
