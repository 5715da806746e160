"""Numba versions of the helpers in support_products.py (products and matrix helpers). Each overload
generates loops for its operands' ranks (and its constant offset and axes): Numba's `@` and np.dot
take only vectors and matrices, and it has no np.diagonal or np.cross."""
from __future__ import annotations

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload

from . import support_products


def _compile(src: str, name: str = "impl"):
    ns = {"np": np, "__name__": __name__}
    exec(src, ns)
    return ns[name]


def _literal(v, what: str) -> int:
    if isinstance(v, types.IntegerLiteral):
        return v.literal_value
    raise TypingError(f"{what} must be a constant")


def _constants(what: str, offset, axis1, axis2) -> tuple:
    named = ((offset, "offset"), (axis1, "axis1"), (axis2, "axis2"))
    return tuple(_literal(v, f"{what}: {name}") for v, name in named)


def _index(items) -> str:
    items = list(items)
    return ", ".join(items) + ("," if len(items) == 1 else "")


def _matmul_stack_code(ra: int, rb: int, a_int: bool, b_int: bool) -> str:
    """A loop over the broadcast leading axes, one np.dot per pair of matrices; a vector operand is
    a matrix of one row (a) or one column (b) whose axis the result drops, as np.matmul does."""
    RA, RB = max(ra, 2), max(rb, 2)
    nb = max(RA, RB) - 2
    lines = ["def impl(a, b):"]
    operands = (("a", ra, a_int, "(1, a.shape[0])"), ("b", rb, b_int, "(b.shape[0], 1)"))
    for name, rank, is_int, vec_shape in operands:
        value = f"np.ascontiguousarray({name})"
        if is_int:
            value += ".astype(np.float64)"
        if rank == 1:
            value += f".reshape({vec_shape})"
        lines.append(f"    {name}2 = {value}")
    lines.append(f"    if a2.shape[{RA - 1}] != b2.shape[{RB - 2}]:")
    lines.append("        raise ValueError(\"matmul: the inner dimensions of the operands differ\")")
    a_idx, b_idx = [], []
    for k in range(nb):
        ka, kb = k - (nb - (RA - 2)), k - (nb - (RB - 2))
        da = f"a2.shape[{ka}]" if ka >= 0 else "1"
        db = f"b2.shape[{kb}]" if kb >= 0 else "1"
        lines.append(f"    da{k}, db{k} = {da}, {db}")
        lines.append(f"    if da{k} != db{k} and da{k} != 1 and db{k} != 1:")
        lines.append("        raise ValueError(\"matmul: the leading axes of the operands do not broadcast\")")
        lines.append(f"    n{k} = max(da{k}, db{k})")
        if ka >= 0:
            a_idx.append(f"min(i{k}, da{k} - 1)")
        if kb >= 0:
            b_idx.append(f"min(i{k}, db{k} - 1)")
    p, q = f"a2.shape[{RA - 2}]", f"b2.shape[{RB - 1}]"
    lines.append(f"    out = np.empty(({''.join(f'n{k}, ' for k in range(nb))}{p}, {q}))")
    indent = "    "
    for k in range(nb):
        lines.append(f"{indent}for i{k} in range(n{k}):")
        indent += "    "
    a_part = f"a2[{_index(a_idx)}]" if a_idx else "a2"
    b_part = f"b2[{_index(b_idx)}]" if b_idx else "b2"
    lines.append(f"{indent}out[{_index(f'i{k}' for k in range(nb))}] = np.dot({a_part}, {b_part})")
    dims = [f"n{k}" for k in range(nb)] + ([] if ra == 1 else [p]) + ([] if rb == 1 else [q])
    if ra == 1 or rb == 1:
        lines.append(f"    return out.reshape(({_index(dims)}))")
    else:
        lines.append("    return out")
    return "\n".join(lines)


@overload(support_products.matmul_stack)
def _ol_matmul_stack(a, b):
    if not isinstance(a, types.Array) or not isinstance(b, types.Array):
        raise TypingError("matmul_stack needs two arrays")
    return _compile(_matmul_stack_code(a.ndim, b.ndim, isinstance(a.dtype, types.Integer),
                                       isinstance(b.dtype, types.Integer)))


def _diagonal_loops(nd: int, offset: int, axis1: int, axis2: int, shape: str, body: str) -> list[str]:
    """Loops over the axes other than axis1 and axis2 of an array of rank nd with shape `shape`, then
    over the diagonal (index d); `body` is formatted with `other` (the other indices) and `full`."""
    others = [k for k in range(nd) if k not in (axis1, axis2)]
    r0, c0 = max(-offset, 0), max(offset, 0)
    full = ", ".join(f"d + {r0}" if k == axis1 else f"d + {c0}" if k == axis2 else f"i{k}" for k in range(nd))
    lines, indent = [], "    "
    for k in others:
        lines.append(f"{indent}for i{k} in range({shape}[{k}]):")
        indent += "    "
    lines.append(f"{indent}for d in range(n):")
    lines.append(indent + "    " + body.format(other="".join(f"i{k}, " for k in others), full=full))
    return lines


@overload(support_products.diagonal_of)
def _ol_diagonal_of(x, offset, axis1, axis2, square=False):
    nd = x.ndim
    off, a1, a2 = _constants("diagonal_of", offset, axis1, axis2)
    others = [k for k in range(nd) if k not in (a1, a2)]
    lines = ["def impl(x, offset, axis1, axis2, square=False):",
             f"    if square and x.shape[{a1}] != x.shape[{a2}]:",
             "        raise ValueError(\"np.einsum: a label repeated in one operand's subscripts \""
             "\"stands for axes of different lengths\")",
             f"    n = max(0, min(x.shape[{a1}] - {max(-off, 0)}, x.shape[{a2}] - {max(off, 0)}))",
             f"    out = np.empty(({''.join(f'x.shape[{k}], ' for k in others)}n), x.dtype)"]
    lines += _diagonal_loops(nd, off, a1, a2, "x.shape", "out[{other}d] = x[{full}]")
    lines.append("    return out")
    return _compile("\n".join(lines))


@overload(support_products.diagonal_put)
def _ol_diagonal_put(g, like, offset, axis1, axis2):
    off, a1, a2 = _constants("diagonal_put", offset, axis1, axis2)
    is_shape = isinstance(like, types.BaseTuple)
    nd = len(like) if is_shape else like.ndim
    shape = "like" if is_shape else "like.shape"
    lines = ["def impl(g, like, offset, axis1, axis2):",
             f"    out = np.zeros({shape})",
             f"    n = g.shape[{g.ndim - 1}]"]
    lines += _diagonal_loops(nd, off, a1, a2, shape, "out[{full}] = g[{other}d]")
    lines.append("    return out")
    return _compile("\n".join(lines))


@overload(support_products.cross3)
def _ol_cross3(a, b):
    ra, rb = a.ndim, b.ndim
    r = max(ra, rb)
    lead_a, lead_b = ":, " * (ra - 1), ":, " * (rb - 1)
    lines = ["def impl(a, b):",
             f"    if a.shape[{ra - 1}] != 3 or b.shape[{rb - 1}] != 3:",
             "        raise ValueError(\"np.cross in a differentiable function needs vectors of length 3 \""
             "\"along the last axis; give 2-vectors a zero third component\")"]
    for k in range(3):
        lines.append(f"    a{k} = a[{lead_a}{k}]")
        lines.append(f"    b{k} = b[{lead_b}{k}]")
    lines += ["    c0 = a1 * b2 - a2 * b1", "    c1 = a2 * b0 - a0 * b2", "    c2 = a0 * b1 - a1 * b0"]
    lines.append("    out = np.empty(3)" if r == 1 else "    out = np.empty(c0.shape + (3,))")
    lead = ":, " * (r - 1)
    for k in range(3):
        lines.append(f"    out[{lead}{k}] = c{k}")
    lines.append("    return out")
    return _compile("\n".join(lines))
