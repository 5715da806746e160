"""The errors cotangent raises at a line of the user's source: CompileError when it cannot compile a
function, BoundsError when compiled code indexes outside an array."""
from __future__ import annotations


class Error(Exception):
    """An error at a line of the user's source: names the file, line and column, shows the line with
    a caret, and says what to do."""

    def __init__(self, message: str, loc=None, hint: str = ""):
        self.message, self.loc, self.hint = message, loc, hint
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.loc is not None:
            parts.append(f"{self.loc.filename}:{self.loc.line}:{self.loc.col + 1}: {self.message}")
            raw = self.loc.text
            stripped = raw.lstrip()
            col = max(self.loc.col - (len(raw) - len(stripped)), 0)
            parts.append(f"    {stripped}")
            parts.append("    " + " " * col + "^")
        else:
            parts.append(self.message)
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class CompileError(Error):
    """The one error type a user sees when cotangent cannot compile their function."""


class BoundsError(Error, IndexError):
    """An index out of range in compiled code (primal or adjoint), found on any call: an IndexError
    at the user's line. Raised unless bounds checking is turned off (ct.config.boundscheck)."""


class IndicesUnproven(Exception):
    """Raised on entry by code compiled without index checks when a condition its index proof
    needs does not hold for these arguments (compiler/ir/bounds.py). The caller then runs the
    code compiled with every index checked; a user never sees it."""


class ShapeAssumption(Exception):
    """Raised by compiled loop nests on entry when the arguments' shapes are not the ones the
    nests were written for (an axis of length 1 that broadcasts against a longer one). The caller
    then runs code made without that assumption; a user never sees it."""
