"""Generated lines laid out as the black formatter lays them out, so that `ct.source` output passes
`black --check` and a user who formats their code sees the same text. The printers already space
operators and commas as black does; this module does the rest for the statement forms they print:
`**` between simple operands is written without spaces, and a line over 88 characters is split
where black splits it (a call's arguments, a `def` line, a long condition, a long tuple returned
or unpacked, a long right-hand side). tests/test_layout.py holds each form against black."""
from __future__ import annotations

import contextlib
import io
import keyword
import re
import tokenize

WIDTH = 88
_OPEN, _CLOSE = "([{", ")]}"
_SIMPLE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*|\d[\w.]*")


def lay_out(indent: str, code: str) -> list[str]:
    """The physical lines of one printed statement at `indent`."""
    code = hug_powers(code)
    line = indent + code
    if len(line) <= WIDTH or "\n" in code:
        return [line]
    for split in (_split_def, _split_condition, _split_return, _split_call, _split_targets, _split_value):
        lines = split(indent, code)
        if lines is not None:
            return lines
    return [line]


def lay_out_lines(lines: list[str]) -> list[str]:
    """Lines printed as text (the batch drivers, a model's source) laid out like the rest: a
    trailing comment two spaces after the code, or on a line of its own above a statement that
    has to be split."""
    out = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith(("#", '"""', "@")):
            out.append(line)
            continue
        indent = line[:len(line) - len(line.lstrip())]
        code, comment = _trailing_comment(line.strip())
        laid = lay_out(indent, code)
        if comment and len(laid) == 1 and len(laid[0]) + 2 + len(comment) <= WIDTH:
            out.append(f"{laid[0]}  {comment}")
        else:
            out += ([indent + comment] if comment else []) + laid
    return out


def _trailing_comment(code: str) -> tuple[str, str]:
    """(code, its trailing comment or ""); a line tokenize cannot read has no comment split off."""
    with contextlib.suppress(tokenize.TokenError, IndentationError):
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT:
                return code[:tok.start[1]].rstrip(), tok.string
    return code, ""


def hug_powers(code: str) -> str:
    """`x ** 2` as `x**2` where both operands are simple (a name, a number, an attribute, each
    possibly negated), as black writes them; `x[i] ** 2` and `(a + b) ** 2` keep their spaces."""
    if " ** " not in code:
        return code
    out, rest = [], code
    while " ** " in rest:
        left, right = rest.split(" ** ", 1)
        before = re.search(r"(-?)(" + _SIMPLE_NAME.pattern + r")$", left)
        after = re.match(r"-?(" + _SIMPLE_NAME.pattern + r")", right)
        simple_left = before is not None and not _is_trailer(left[:before.start()]) \
            and not keyword.iskeyword(before.group(2))
        simple_right = after is not None and not right[after.end():after.end() + 1] in ("(", "[") \
            and not keyword.iskeyword(after.group(1))
        out.append(left + ("**" if simple_left and simple_right else " ** "))
        rest = right
    return "".join(out) + rest


def _is_trailer(text: str) -> bool:
    """Whether the operand found before `**` continues something to its left (`f(x).y`, `a.b`)."""
    return bool(text) and (text[-1] in _CLOSE + "." or text[-1].isalnum() or text[-1] == "_")


def _top_level(code: str):
    """(position, token text) of each token at bracket depth 0, with the depth tracking brackets."""
    depth = 0
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
            continue
        pos = tok.start[1]
        if tok.string in _CLOSE:
            depth -= 1
        yield pos, tok.string, depth
        if tok.string in _OPEN:
            depth += 1


def _pieces(body: str, separators: tuple) -> list[str]:
    """`body` cut before (`and`, `or`) or after (`,`) each top-level separator."""
    cuts, out = [], []
    for pos, text, depth in _top_level(body):
        if depth == 0 and text in separators:
            cuts.append((pos, text))
    start = 0
    for pos, text in cuts:
        if text == ",":
            out.append(body[start:pos].strip())
            start = pos + 1
        else:
            out.append(body[start:pos].strip())
            start = pos
    out.append(body[start:].strip())
    return [p for p in out if p]


def _split_condition(indent: str, code: str):
    """`if a or b or c:` over the width: black's parenthesized condition, one operand a line."""
    m = re.match(r"(if|elif|while) (.*):$", code)
    if not m:
        return None
    keyword_, cond = m.groups()
    negated = cond.startswith("not (") and cond.endswith(")") and _balanced(cond[5:-1])
    if negated:                      # `if not (a and b):`, black opens the parentheses it has
        keyword_, cond = f"{keyword_} not", cond[5:-1]
    logic = [t for _, t, d in _top_level(cond) if d == 0 and t in ("and", "or")]
    if not logic:
        return None
    head, tail = f"{indent}{keyword_} (", f"{indent}):"
    if len(indent) + 4 + len(cond) <= WIDTH:
        return [head, indent + "    " + cond, tail]
    return [head] + [indent + "    " + p for p in _pieces(cond, ("and", "or"))] + [tail]


def _split_return(indent: str, code: str):
    """`return a, b, c, ...` over the width: black's parenthesized tuple, one value a line."""
    if not code.startswith("return "):
        return None
    values = code[len("return "):]
    if not any(d == 0 and t == "," for _, t, d in _top_level(values)):
        return None
    return _bracketed(indent, f"{indent}return (", values, ")", atom=True)


def _split_call(indent: str, code: str):
    """`target = f(a, b, ...)` (or `return f(...)`, `raise E(...)`, `f(...)`) over the width: the
    arguments on a line of their own, or one a line with a trailing comma when they do not fit."""
    m = re.match(r"((?:[\w, ]+? (?:=|\+=|-=|\*=) )|raise |return )?([A-Za-z_][\w.]*)\((.*)\)$", code)
    if not m or not _balanced(m.group(3)):
        return None
    before, callee, args = m.groups()
    head = f"{indent}{before or ''}{callee}("
    if len(head) > WIDTH:
        return None
    return _bracketed(indent, head, args, ")", atom=False)


def _split_def(indent: str, code: str):
    """`def f(a, b, ...):` over the width: the parameters on a line of their own, or one a line."""
    m = re.match(r"def (\w+)\((.*)\):$", code)
    if not m:
        return None
    return _bracketed(indent, f"{indent}def {m.group(1)}(", m.group(2), "):", atom=False)


def _split_targets(indent: str, code: str):
    """`a, b, c = tape.pop()` over the width: black's parenthesized targets, one a line."""
    m = re.match(r"([\w, ]+?) = (.*)$", code)
    if not m or "," not in m.group(1):
        return None
    if "(" in m.group(2) and not m.group(2).endswith("()"):
        return None                 # a call with arguments: black splits those (_split_call)
    targets = [t.strip() for t in m.group(1).split(",") if t.strip()]
    return [f"{indent}("] + [f"{indent}    {t}," for t in targets] + [f"{indent}) = {m.group(2)}"]


def _split_value(indent: str, code: str):
    """`x[i] = a[i] + b[i]` over the width: black's parenthesized right-hand side."""
    m = re.match(r"(.+?) (=|\+=|-=|\*=) (.*)$", code)
    if not m or m.group(3).endswith(")") or not _balanced(m.group(3)):
        return None
    value = m.group(3)
    if len(indent) + 4 + len(value) > WIDTH:
        return None
    return [f"{indent}{m.group(1)} {m.group(2)} (", f"{indent}    {value}", f"{indent})"]


def _bracketed(indent: str, head: str, body: str, tail: str, atom: bool) -> list[str]:
    """`head` (ending in an opening bracket), the bracket's contents, and `tail` at `indent`: the
    contents on one line if they fit (a tuple or list of several items never stays on one line),
    else one item a line, each ending in a comma; an item that does not fit is split the same way."""
    inner = indent + "    "
    pieces = _pieces(body, (",",))
    several = len(pieces) > 1 or body.rstrip().endswith(",")
    if len(inner) + len(body) <= WIDTH and not (atom and several):
        return [head, inner + body, indent + tail]
    lines = [head]
    for piece in pieces:
        lines += _item(inner, piece + ("," if several else ""))
    return lines + [indent + tail]


def _item(indent: str, text: str) -> list[str]:
    """One item of a split bracket: as it is if it fits, else split at its last bracket pair."""
    if len(indent) + len(text) <= WIDTH:
        return [indent + text]
    comma = "," if text.endswith(",") else ""
    core = text[:len(text) - len(comma)]
    if not core or core[-1] not in _CLOSE:
        return [indent + text]
    opening = _opening_of_last(core)
    if opening is None:
        return [indent + text]
    head, body = core[:opening + 1], core[opening + 1:-1]
    return _bracketed(indent, indent + head, body, core[-1] + comma, atom=opening == 0)


def _opening_of_last(text: str):
    """The position of the bracket that the last character of `text` closes."""
    depth = 0
    for k in range(len(text) - 1, -1, -1):
        if text[k] in _CLOSE:
            depth += 1
        elif text[k] in _OPEN:
            depth -= 1
            if depth == 0:
                return k
    return None


def _balanced(text: str) -> bool:
    """Whether `text` closes every bracket it opens, and none it does not (`a), (b`)."""
    depth = 0
    try:
        for _, t, d in _top_level(text):
            if d < 0:
                return False
            depth = d + (t in _OPEN)
    except (tokenize.TokenError, IndentationError):
        return False
    return depth == 0
