"""MkDocs hooks: the tutorials' code runs when the site is built (markdown-exec), and cotangent
reads the source of the functions it differentiates. Each executed block is therefore registered
in linecache under a readable file name (`<session>_<n>.py`), which the generated code's comments
then cite, as they cite a user's file."""
import linecache
import re

from markdown_exec._internal.formatters import python as _python

_original = _python.exec_python


def _exec_with_source(code: str, filename: str, exec_globals=None):
    m = re.match(r"<code block: session ([\w-]+); n(\d+)", filename)
    name = f"{m.group(1)}_{m.group(2)}.py" if m else filename
    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    return _original(code, name, exec_globals)


def on_startup(**kwargs):
    _python.exec_python = _exec_with_source
