"""How the NumPy calls of one area lower to primitives: products and matrix helpers (batched matmul,
tensordot, einsum, kron, cross, vdot, triu, tril, diagonal).
Handlers are registered into the dispatch tables of calls.py (NUMPY: np.NAME, METHODS: x.NAME(...),
LINALG: np.linalg.NAME).

Every contraction (np.einsum, np.tensordot, np.inner and np.dot of rank > 2) lowers to one
scheme, so its derivatives are those of the primitives it is made of and differentiate again:
repeated labels of one operand become a diagonal, labels of one operand that no other operand and
not the output has are summed at once, then operands are contracted left to right, each pair as a
(stacked) matrix product or, when the pair shares no summed label, a broadcast product; last, the
result is transposed into the output's order. Numba has no np.einsum; this needs none."""
from __future__ import annotations

import ast
import string

from ..ir.builder import Sym
from .calls import NUMPY, METHODS, bind_args, static, axis_of


# --- contractions -------------------------------------------------------------------------

def _arrange(b, x: Sym, labels: list, order: list) -> Sym:
    """x, whose axes carry `labels`, with its axes in `order` (a transpose, or x itself)."""
    perm = tuple(labels.index(label) for label in order)
    if perm == tuple(range(len(perm))):
        return x
    return b.op("transpose", x, axes=perm)


def _sum_axes(b, x: Sym, axes) -> Sym:
    for axis in sorted(axes, reverse=True):
        x = b.op("sum", x) if x.rank == 1 else b.op("sum", x, axis=axis, keepdims=False)
    return x


def _distinct(b, x: Sym, labels: list):
    """A label repeated in one operand reads its diagonal: 'ii' is np.diagonal's axes 0 and 1."""
    labels = list(labels)
    while len(set(labels)) < len(labels):
        i = next(k for k, label in enumerate(labels) if labels.count(label) > 1)
        j = labels.index(labels[i], i + 1)
        x = b.op("diagonal", x, offset=0, axis1=i, axis2=j, square=True)
        labels = [label for k, label in enumerate(labels) if k not in (i, j)] + [labels[i]]
    return x, labels


def _size(b, parts) -> Sym:
    """The product of some axis lengths (a merged axis)."""
    total = None
    for x, axis in parts:
        d = b.op("dim", x, axis=axis)
        total = d if total is None else total * d
    return total


def _merge(b, x: Sym, lead: int, groups: list) -> Sym:
    """x with each group of consecutive axes after the first `lead` ones merged into one axis (a
    reshape of a contiguous copy); x itself when no group has more than one axis."""
    if all(n <= 1 for n in groups):
        return x
    sizes = [b.op("dim", x, axis=k) for k in range(lead)]
    start = lead
    for n in groups:
        if n:
            sizes.append(_size(b, [(x, k) for k in range(start, start + n)]))
        start += n
    return b.op("reshape", b.op("copy", x), *sizes)


def _broadcast_product(b, x: Sym, lx: list, y: Sym, ly: list, batch: list, af: list, bf: list):
    xa = _arrange(b, x, lx, batch + af)
    for _ in bf:
        xa = b.op("expand_dims", xa, axis=xa.rank)
    ya = _arrange(b, y, ly, batch + bf)
    for _ in af:
        ya = b.op("expand_dims", ya, axis=len(batch))
    return xa * ya


def _matrix_product(b, x: Sym, lx: list, y: Sym, ly: list, batch: list, af: list, summed: list, bf: list):
    """sum over `summed` as a matrix product of stacks: x as (batch, af, summed), y as (batch,
    summed, bf), each group of labels one axis; without batch labels a group that is empty makes
    a vector operand, with them an axis of length 1 that the result drops again."""
    nb = len(batch)
    xm = _merge(b, _arrange(b, x, lx, batch + af + summed), nb, [len(af), len(summed)])
    ym = _merge(b, _arrange(b, y, ly, batch + summed + bf), nb, [len(summed), len(bf)])
    if nb and not af:
        xm = b.op("expand_dims", xm, axis=nb)
    if nb and not bf:
        ym = b.op("expand_dims", ym, axis=ym.rank)
    r = xm @ ym
    if nb and not bf:
        r = b.op("squeeze", r, axis=r.rank - 1)
    if nb and not af:
        r = b.op("squeeze", r, axis=nb)
    if len(af) > 1 or len(bf) > 1:
        sizes = [b.op("dim", r, axis=k) for k in range(nb)]
        sizes += [b.op("dim", x, axis=lx.index(label)) for label in af]
        sizes += [b.op("dim", y, axis=ly.index(label)) for label in bf]
        r = b.op("reshape", r, *sizes)
    return r


def _pair(b, x: Sym, lx: list, y: Sym, ly: list, keep: set):
    """The contraction of two operands over the labels they share that are not kept."""
    if x.rank == 0 or y.rank == 0:
        return x * y, lx + ly
    batch = [label for label in lx if label in ly and label in keep]
    summed = [label for label in lx if label in ly and label not in keep]
    af = [label for label in lx if label not in ly]
    bf = [label for label in ly if label not in lx]
    if summed:
        return _matrix_product(b, x, lx, y, ly, batch, af, summed, bf), batch + af + bf
    return _broadcast_product(b, x, lx, y, ly, batch, af, bf), batch + af + bf


def contract(b, operands: list, output: list) -> Sym:
    """The sum over every label not in `output` of the product of the operands, each a pair
    (value, the labels of its axes); the result's axes are `output`, in that order."""
    terms = [_distinct(b, x, labels) for x, labels in operands]
    reduced = []
    for i, (x, labels) in enumerate(terms):
        others = set(output).union(*[set(ls) for j, (_, ls) in enumerate(terms) if j != i])
        lone = [k for k, label in enumerate(labels) if label not in others]
        reduced.append((_sum_axes(b, x, lone), [label for label in labels if label in others]))
    x, labels = reduced[0]
    for k in range(1, len(reduced)):
        keep = set(output).union(*[set(ls) for _, ls in reduced[k + 1:]])
        x, labels = _pair(b, x, labels, reduced[k][0], reduced[k][1], keep)
    return _arrange(b, x, labels, output)


# --- np.einsum ------------------------------------------------------------------------------

def _einsum_term(lw, e, term: str, rank: int, what: str):
    """The letters of one term and how many axes its '...' stands for."""
    if term.count("...") > 1:
        lw.error(e, f"np.einsum: {what} {term!r} has more than one '...'")
    letters = term.replace("...", "")
    bad = [c for c in letters if c not in string.ascii_letters]
    if bad:
        lw.error(e, f"np.einsum: {what} {term!r} has the character {bad[0]!r}",
                 hint="subscripts are letters, ',' between operands, '->' before the output and '...'")
    if "..." not in term:
        if rank is not None and len(letters) != rank:
            lw.error(e, f"np.einsum: {what} {term!r} has {len(letters)} labels for an operand of rank {rank}")
        return 0
    if rank is not None and len(letters) > rank:
        lw.error(e, f"np.einsum: {what} {term!r} has more labels than its operand's rank {rank}")
    return None if rank is None else rank - len(letters)


def _with_ellipsis(term: str, ellipsis: list) -> list:
    if "..." not in term:
        return list(term)
    before, after = term.split("...")
    return list(before) + ellipsis + list(after)


def einsum_labels(lw, e, subscripts: str, ranks: list):
    """The labels of each operand's axes and of the output, as np.einsum reads `subscripts`: the
    axes of '...' broadcast, aligned at the right; the implicit output is the '...' axes, then the
    letters used once, in alphabetical order."""
    text = subscripts.replace(" ", "")
    lhs, arrow, rhs = text.partition("->")
    if "->" in rhs:
        lw.error(e, "np.einsum: the subscripts have more than one '->'")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        lw.error(e, f"np.einsum: the subscripts name {len(terms)} operands, the call passes {len(ranks)}")
    counts = [_einsum_term(lw, e, t, r, "the term") for t, r in zip(terms, ranks)]
    n = max(counts, default=0)
    ellipsis = [f"...{k}" for k in range(n)]
    labels = [_with_ellipsis(t, ellipsis[n - c:] if c else []) for t, c in zip(terms, counts)]
    letters = [c for t in terms for c in t.replace("...", "")]
    if not arrow:
        return labels, ellipsis + sorted(c for c in set(letters) if letters.count(c) == 1)
    _einsum_term(lw, e, rhs, None, "the output")
    out = rhs.replace("...", "")
    for c in out:
        if c not in letters:
            lw.error(e, f"np.einsum: the output label {c!r} is not in any operand's subscripts")
        if out.count(c) > 1:
            lw.error(e, f"np.einsum: the output label {c!r} appears more than once")
    if n and "..." not in rhs:
        lw.error(e, "np.einsum: the operands have '...' axes but the output has no '...'",
                 hint="NumPy does not sum '...' axes: write '...' in the output, or sum afterwards")
    return labels, _with_ellipsis(rhs, ellipsis)


def _einsum(lw, e, qual):
    for kw in e.keywords:
        if kw.arg != "optimize":
            lw.error(e, f"np.einsum() does not support the keyword {kw.arg!r}",
                     hint="supported: optimize (ignored)")
    if not e.args or any(isinstance(a, ast.Starred) for a in e.args):
        lw.error(e, "np.einsum needs its subscripts and operands written out", hint="np.einsum('ij,jk->ik', a, b)")
    subscripts = e.args[0]
    if not (isinstance(subscripts, ast.Constant) and isinstance(subscripts.value, str)):
        lw.error(e, "np.einsum needs its subscripts as a string literal",
                 hint="the interleaved form np.einsum(a, [0, 1], ...) is not supported; write 'ij,jk->ik'")
    xs = [lw.value(a) for a in e.args[1:]]
    if not xs:
        lw.error(e, "np.einsum needs at least one operand")
    labels, output = einsum_labels(lw, e, subscripts.value, [x.rank for x in xs])
    return contract(lw.b, list(zip(xs, labels)), output)


# --- np.tensordot, np.dot, np.inner, np.vdot -------------------------------------------------

def _axes_list(lw, node, v, rank: int, what: str) -> list:
    items = [v] if isinstance(v, int) else list(v) if isinstance(v, (tuple, list)) else None
    if items is None or not all(isinstance(k, int) and not isinstance(k, bool) for k in items):
        lw.error(node, f"np.tensordot: {what} must be an int or a sequence of ints, got {v!r}")
    for k in items:
        if not -rank <= k < rank:
            lw.error(node, f"np.tensordot: axis {k} is out of range for {what}, an array of rank {rank}")
    axes = [k % rank for k in items]
    if len(set(axes)) < len(axes):
        lw.error(node, f"np.tensordot: {what} repeats an axis: {v!r}")
    return axes


def _tensordot(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "b", "axes"], 2)
    x, y = lw.value(a["a"]), lw.value(a["b"])
    axes = static(lw, a.get("axes"), "np.tensordot's axes")
    axes = 2 if axes is None else axes
    if isinstance(axes, bool):
        lw.error(a["axes"], "np.tensordot: axes must be an int or a pair of sequences of axes")
    if isinstance(axes, int):
        if not 0 <= axes <= min(x.rank, y.rank):
            lw.error(e, f"np.tensordot: axes={axes} needs operands of rank at least {axes}, "
                        f"got ranks {x.rank} and {y.rank}")
        ax, ay = list(range(x.rank - axes, x.rank)), list(range(axes))
    elif isinstance(axes, (tuple, list)) and len(axes) == 2:
        ax = _axes_list(lw, a["axes"], axes[0], x.rank, "the first operand's axes")
        ay = _axes_list(lw, a["axes"], axes[1], y.rank, "the second operand's axes")
        if len(ax) != len(ay):
            lw.error(e, f"np.tensordot: {len(ax)} axes of the first operand against {len(ay)} of the second")
    else:
        lw.error(e, f"np.tensordot: axes must be an int or a pair of sequences of axes, got {axes!r}")
    lx, ly = [f"a{k}" for k in range(x.rank)], [f"b{k}" for k in range(y.rank)]
    for i, j in zip(ax, ay):
        ly[j] = lx[i]
    output = [lx[k] for k in range(x.rank) if k not in ax] + [ly[k] for k in range(y.rank) if k not in ay]
    return contract(lw.b, [(x, lx), (y, ly)], output)


def dot(lw, x: Sym, y: Sym) -> Sym:
    """np.dot: a product with a number; the matrix product of vectors and matrices; of higher ranks
    the sum over the last axis of x and the second-to-last of y (the last, for a vector)."""
    b = lw.b
    if x.rank == 0 or y.rank == 0:
        return x * y
    if x.rank <= 2 and y.rank <= 2:
        return b.op("dot", x, y)
    lx, ly = [f"a{k}" for k in range(x.rank)], [f"b{k}" for k in range(y.rank)]
    ly[max(y.rank - 2, 0)] = lx[-1]
    output = lx[:-1] + [label for label in ly if label != lx[-1]]
    return contract(b, [(x, lx), (y, ly)], output)


def _dot(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "b"], 2)
    return dot(lw, lw.value(a["a"]), lw.value(a["b"]))


def _dot_method(lw, e, qual, args, base):
    a = bind_args(lw, e, qual, ["b"], 1, args)
    return dot(lw, base, lw.value(a["b"]))


def _inner(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "b"], 2)
    x, y = lw.value(a["a"]), lw.value(a["b"])
    if x.rank == 0 or y.rank == 0:
        return x * y
    if x.rank == 1 and y.rank == 1:
        return lw.b.op("dot", x, y)
    lx, ly = [f"a{k}" for k in range(x.rank)], [f"b{k}" for k in range(y.rank)]
    ly[-1] = lx[-1]
    return contract(lw.b, [(x, lx), (y, ly)], lx[:-1] + ly[:-1])


def _vdot(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "b"], 2)
    x, y = lw.value(a["a"]), lw.value(a["b"])
    if x.rank == 0 and y.rank == 0:
        return x * y
    if x.rank == 0 or y.rank == 0:
        lw.error(e, "np.vdot needs two arrays of the same size, or two numbers")
    flat = [v if v.rank == 1 else lw.b.op("ravel", v) for v in (x, y)]
    return lw.b.op("dot", *flat)


def _kron(lw, e, qual):
    """np.kron: each operand gets an axis of length 1 beside each of its axes (the lower rank padded
    in front), their broadcast product interleaves the axes, and a reshape merges each pair."""
    a = bind_args(lw, e, qual, ["a", "b"], 2)
    b = lw.b
    x, y = lw.value(a["a"]), lw.value(a["b"])
    if x.rank == 0 or y.rank == 0:
        return x * y
    r = max(x.rank, y.rank)
    while x.rank < r:
        x = b.op("expand_dims", x, axis=0)
    while y.rank < r:
        y = b.op("expand_dims", y, axis=0)
    xe, ye = x, y
    for k in range(r):
        xe = b.op("expand_dims", xe, axis=2 * k + 1)
        ye = b.op("expand_dims", ye, axis=2 * k)
    sizes = [b.op("dim", x, axis=k) * b.op("dim", y, axis=k) for k in range(r)]
    return b.op("reshape", xe * ye, *sizes)


def _cross(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "b", "axisa", "axisb", "axisc", "axis"], 2)
    for k in ("axisa", "axisb", "axisc", "axis"):
        if k in a and static(lw, a[k], k) not in (None, -1):
            lw.error(e, f"np.cross with {k}= is not supported",
                     hint="move the vectors' axis last with a transpose")
    x, y = lw.value(a["a"]), lw.value(a["b"])
    if x.rank == 0 or y.rank == 0:
        lw.error(e, "np.cross needs vectors (arrays), got a number")
    return lw.b.op("cross", x, y)


# --- matrix helpers -------------------------------------------------------------------------

def _int_constant(lw, node, what: str, default: int = 0) -> int:
    v = static(lw, node, what)
    if v is None:
        return default
    if not isinstance(v, int) or isinstance(v, bool):
        lw.error(node, f"{what} must be an integer, got {v!r}")
    return v


def _triangle(name):
    def handler(lw, e, qual):
        a = bind_args(lw, e, qual, ["m", "k"], 1)
        x = lw.value(a["m"])
        if x.rank == 0:
            lw.error(e, f"np.{name} needs an array, got a number")
        return lw.b.op(name, x, k=_int_constant(lw, a.get("k"), f"np.{name}'s k"))
    return handler


def diagonal(lw, e, x: Sym, a: dict, what: str) -> Sym:
    """np.diagonal(x, offset, axis1, axis2): the other axes, then the diagonal."""
    if x.rank < 2:
        lw.error(e, f"{what} needs an array of rank 2 or more, got rank {x.rank}")
    offset = _int_constant(lw, a.get("offset"), f"{what}'s offset")
    a1 = axis_of(lw, a.get("axis1"), x.rank, "axis1")
    a2 = axis_of(lw, a.get("axis2"), x.rank, "axis2")
    a1, a2 = 0 if a1 is None else a1, 1 if a2 is None else a2
    if a1 == a2:
        lw.error(e, f"{what}: axis1 and axis2 are the same axis ({a1})")
    return lw.b.op("diagonal", x, offset=offset, axis1=a1, axis2=a2)


def _diagonal(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "offset", "axis1", "axis2"], 1)
    return diagonal(lw, e, lw.value(a["a"]), a, "np.diagonal")


def _diagonal_method(lw, e, qual, args, base):
    return diagonal(lw, e, base, bind_args(lw, e, qual, ["offset", "axis1", "axis2"], 0, args), "x.diagonal")


def _diag(lw, e, qual):
    a = bind_args(lw, e, qual, ["v", "k"], 1)
    x = lw.value(a["v"])
    k = _int_constant(lw, a.get("k"), "np.diag's k")
    if x.rank not in (1, 2):
        lw.error(e, f"np.diag needs a vector or a matrix, got rank {x.rank}",
                 hint="np.diagonal takes the diagonal of a stack of matrices")
    if x.rank == 2 and k:
        return lw.b.op("diagonal", x, offset=k, axis1=0, axis2=1)
    return lw.b.op("diag", x, k=k) if k else lw.b.op("diag", x)


def trace(lw, e, x: Sym, a: dict, what: str) -> Sym:
    """np.trace: the sum of np.diagonal over its last axis (the trace primitive for a matrix)."""
    if x.rank < 2:
        lw.error(e, f"{what} needs an array of rank 2 or more, got rank {x.rank}")
    if x.rank == 2 and not any(a.get(k) is not None for k in ("offset", "axis1", "axis2")):
        return lw.b.op("trace", x)
    d = diagonal(lw, e, x, a, what)
    return lw.b.op("sum", d) if d.rank == 1 else lw.b.op("sum", d, axis=d.rank - 1, keepdims=False)


def _trace(lw, e, qual):
    a = bind_args(lw, e, qual, ["a", "offset", "axis1", "axis2"], 1)
    return trace(lw, e, lw.value(a["a"]), a, "np.trace")


def _trace_method(lw, e, qual, args, base):
    return trace(lw, e, base, bind_args(lw, e, qual, ["offset", "axis1", "axis2"], 0, args), "x.trace")


NUMPY.update({"einsum": _einsum, "tensordot": _tensordot, "dot": _dot, "inner": _inner, "vdot": _vdot,
              "kron": _kron, "cross": _cross, "triu": _triangle("triu"), "tril": _triangle("tril"),
              "diagonal": _diagonal, "diag": _diag, "trace": _trace})
METHODS.update({"dot": _dot_method, "diagonal": _diagonal_method, "trace": _trace_method})
