"""Forms and conventions of every function cotangent lowers with a handler of its own, for the
table of the supported surface (surface.py). Each `note(area, spellings, forms, convention)`
covers the spellings that share them: "np.NAME", "x.NAME" (a method), "np.linalg.NAME",
"scipy.special.NAME", "math.NAME", "np.NAME[...]" (np.r_, np.c_), or a fixed row for syntax
("operators ...", "builtin ...", "x[...] ...", "list ..."). A test checks that these name exactly
the functions the frontend's dispatch tables hold."""
from __future__ import annotations

NOTES: dict[str, tuple[str, str, str]] = {}
ELEMENTWISE: dict[str, str] = {}     # primitive -> a convention added to its derived derivative

FIXED: set = set()   # rows for syntax rather than a dispatch-table function: not checked against the tables


def note(area: str, spellings: str, forms: str, convention: str = "") -> None:
    """The row of comma-separated spellings (each a key of a dispatch table, or an elementwise name)."""
    for s in (x.strip() for x in spellings.split(",")):
        if s in NOTES:
            raise ValueError(f"{s} noted twice")
        NOTES[s] = (area, forms, convention)


def syntax(area: str, what: str, forms: str, convention: str = "") -> None:
    """A row for syntax (operators, indexing, builtins, lists, attributes), shown as written."""
    NOTES[what] = (area, forms, convention)
    FIXED.add(what)


# --- operators and builtins -------------------------------------------------------------------
syntax("operators", "+ - * / ** % (and +=, -=, ...)",
     "numbers and arrays, broadcasting",
     "as `np.add`, `np.subtract`, `np.multiply`, `np.divide`, `np.power`, `np.mod` below")
syntax("operators", "// < <= > >= == != and or not, a if c else b",
     "numbers and arrays", "comparisons and // have no derivative; `and`/`or` short-circuit on numbers; a conditional expression differentiates the branch taken")
syntax("builtins", "abs min max float int len sum",
     "`abs(x)`, `min(a, b, ...)`, `max(a, b, ...)` of numbers, `float(x)`, `int(x)`, `len(x)`, `sum(...)` of a list or tuple of arrays or numbers, or of a vector",
     "min/max as `np.minimum`/`np.maximum`; `int` and `len` have no derivative")

# --- elementwise functions with handlers, and conventions of hand-written elementwise rules ----
note("elementwise", "np.maximum, np.minimum",
     "`np.maximum(x, y)`, broadcasting; builtin `max`/`min` of numbers",
     "a tie against a constant goes to the constant (relu'(0) = 0); between two varying operands it "
     "is split 1/2-1/2")
note("elementwise", "np.fmax, np.fmin", "`np.fmax(x, y)`, broadcasting",
     "a NaN operand: the result and the derivative go to the other operand; ties as np.maximum")
note("elementwise", "np.where", "`np.where(c, x, y)`; `np.where(c)` is `np.nonzero(c)`",
     "the derivative follows the branch taken; c has none")
note("elementwise", "np.clip, x.clip", "`np.clip(x, lo, hi)`, either bound None, bounds may vary",
     "derivative 1 strictly inside (lo, hi), 0 on or outside a bound; a bound gets the rest")
note("elementwise", "np.nan_to_num", "`np.nan_to_num(x, nan=0.0, posinf=None, neginf=None)`",
     "1 where x is finite, 0 where replaced (the replacement value gets the derivative there)")
note("elementwise", "np.reciprocal", "`np.reciprocal(x)` of floats", "as `1.0 / x`")
note("elementwise", "np.real, np.conj, np.conjugate", "real numbers and arrays", "the identity")
ELEMENTWISE.update({
    "abs": "abs'(0) = 0",
    "sqrt": "inf at 0, nan below",
    "pow": "d/dy of 0 ** y is 0 (log 0 read as 0, as JAX)",
    "cbrt": "+inf at 0",
    "sinc": "sinc(0) = 1, sinc'(0) = 0 (a series near 0)",
    "arccosh": "+inf at 1",
    "arctanh": "+inf at -1 and 1",
    "logaddexp": "exp(x - out): no overflow",
    "copysign": "0 at x = 0, as abs; none in y",
})

# --- scipy.special (where the user imports SciPy) -----------------------------------------------
note("special functions", "scipy.special.expit", "`expit(x)`", "out * (1 - out)")
note("special functions", "scipy.special.logit", "`logit(x)`", "1 / (x - x**2): +inf at 0 and 1")
note("special functions", "scipy.special.erf, scipy.special.erfc, math.erf, math.erfc",
     "numbers and arrays (`math.` on numbers)", "±2/sqrt(pi) * exp(-x**2)")
note("special functions", "scipy.special.gammaln, math.lgamma", "numbers and arrays",
     "log|Γ(x)|; derivative digamma(x)")
note("special functions", "scipy.special.digamma, scipy.special.psi, scipy.special.polygamma",
     "`digamma(x)`, `polygamma(n, x)` with a constant n >= 0",
     "each derivative is the next polygamma; poles and infinities as SciPy (own implementation on Numba)")
note("special functions", "scipy.special.xlogy", "`xlogy(x, y)`, broadcasting",
     "0 where x = 0; derivatives log(y) and x/y (JAX's), so at (0, 0): -inf and nan")
note("special functions", "scipy.special.logsumexp", "`logsumexp(a, axis=None, keepdims=False)`, axis an int or a tuple",
     "max-shifted (the max held constant); a non-finite max is read as 0, as SciPy does")
note("special functions", "scipy.special.softmax, scipy.special.log_softmax", "`softmax(x, axis=None)`",
     "max-shifted, as logsumexp")

# --- indexing -------------------------------------------------------------------------------------
syntax("indexing", "x[i], x[a:b:s], x[..., None]",
     "ints (negative too), slices with steps, `...`, `None`/`np.newaxis`, in any combination",
     "reads are views; the adjoint writes into zeros")
syntax("indexing", "x[idx], x[[0, 2, 2]], x[i, j], x[3, 2:, [1, 3]]",
     "integer arrays and list literals, several broadcast together, mixed with ints and slices "
     "(NumPy's placement of the indexed axes)",
     "repeated elements add up in the adjoint")
syntax("indexing", "x[mask], x[x > 0]", "a boolean mask of x's shape, a row mask, masks with other indices",
     "the result's length is known at run time; a mask of the wrong shape is an IndexError")
syntax("indexing", "x[...] = v, x[...] += v",
     "writes through every index form above into arrays the function made",
     "`+=` is NumPy's buffered form (`y[[0, 0]] += 1` adds once); with a repeated element the last "
     "write stays and only it has a derivative")
note("indexing", "np.nonzero, np.flatnonzero", "`np.nonzero(m)`, `np.where(m)`, as values or as an index",
     "0 (positions have no derivative)")

# --- shapes ---------------------------------------------------------------------------------------
note("shapes", "np.reshape, x.reshape", "`x.reshape(2, -1)`, `np.reshape(x, shape)`, sizes from `x.shape`")
note("shapes", "np.ravel", "`np.ravel(x)`, `x.ravel()`, `x.flatten()`")
note("shapes", "np.transpose, x.transpose", "`x.T`, `x.transpose(1, 0, 2)`, `np.transpose(x, axes)`")
note("shapes", "np.swapaxes, x.swapaxes, np.moveaxis, np.rollaxis",
     "constant axes (ints or tuples for moveaxis)", "a transpose (a view)")
note("shapes", "np.expand_dims, np.squeeze, x.squeeze", "`np.expand_dims(x, axis)`, `np.squeeze(x, axis=k)`",
     "squeeze needs axis= (which axes have length 1 is known at run time only)")
note("shapes", "np.concatenate, np.stack, np.hstack, np.vstack, np.column_stack, np.dstack, np.append",
     "tuples or lists of arrays and numbers, `axis`", "the adjoint slices each part back")
note("shapes", "np.split, np.array_split", "int sections or a list of indices; unpack or index the result",
     "an uneven np.split is NumPy's error")
note("shapes", "np.flip, np.flipud, np.fliplr, np.rot90", "axis an int, a tuple or None; rot90's k and axes")
note("shapes", "np.roll", "shift an int, a tuple or an integer variable; axis None, an int or a tuple",
     "the adjoint rolls back")
note("shapes", "np.tile, np.repeat, x.repeat", "constant reps; repeat counts an int or an integer variable, "
     "with or without axis", "the adjoint sums the copies")
note("shapes", "np.pad", "`mode='constant'` (with constant_values, which may vary) and `mode='edge'`; "
     "pad_width an int, a pair or per-axis pairs", "edge padding adds each copy's adjoint to the edge element")
note("shapes", "np.atleast_1d, np.atleast_2d, np.atleast_3d", "one or several arguments")
note("shapes", "np.broadcast_to", "a shape tuple, an int or `y.shape`", "a copy; the adjoint sums over "
     "the broadcast axes")
note("shapes", "x.astype", "`float`, `np.float64`, `int`, `np.int64`, `bool`",
     "to float: a copy with its derivative; to int or bool: none")
note("shapes", "np.copy", "`np.copy(x)`, `x.copy()`")
syntax("shapes", "x.shape, x.size, x.ndim", "integers from shapes", "no derivative")

# --- constructors -------------------------------------------------------------------------------
note("constructors", "np.zeros, np.ones, np.empty, np.full, np.eye",
     "shapes from ints, tuples or `x.shape`; `dtype`", "no derivative, except np.full's fill value")
note("constructors", "np.zeros_like, np.ones_like, np.empty_like, np.full_like", "`dtype`",
     "no derivative, except full_like's fill value")
note("constructors", "np.arange, np.linspace", "`np.arange(start, stop, step)`; "
     "`np.linspace(start, stop, num, endpoint=True)` with num constant or an integer variable",
     "float start and step (arange), start and stop (linspace) move the elements")
note("constructors", "np.array, np.asarray",
     "nested lists of numbers and names (`np.array([[a, b], [c, d]])`), an array, a list used as a "
     "stack; `dtype`", "stacked from its items: each item gets its part of the adjoint")
note("constructors", "np.r_[...], np.c_[...]", "arrays, numbers and constant slices (`np.r_[0:5]`, "
     "`np.r_[0:1:5j]`)", "joined: each part gets its slice of the adjoint")

# --- products and matrix helpers ----------------------------------------------------------------
note("products", "np.matmul", "`x @ y`, `np.matmul`: vectors, matrices, stacks with broadcast leading axes",
     "the adjoint of a broadcast operand is summed over the broadcast axes")
note("products", "np.dot, x.dot", "numbers, vectors, matrices, higher ranks (NumPy's dot: the last axis "
     "of a with the second-to-last of b)")
note("products", "np.inner, np.vdot, np.outer", "any ranks (inner: the last axes; vdot flattens)")
note("products", "np.tensordot", "`axes=int` or a pair of sequences")
note("products", "np.einsum", "any subscripts, implicit or explicit output, `...`, repeated labels, "
     "any number of operands", "lowered to diagonals, sums, stacked matmuls and transposes, so the "
     "gradient is an einsum too; a summed label may not broadcast")
note("products", "np.kron", "any ranks")
note("products", "np.cross", "3-vectors and stacks of them (last axis)", "2-vectors: a ValueError at run time")
note("matrix helpers", "np.triu, np.tril", "`k`; matrices and stacks (the last two axes)",
     "the gradient is the mask")
note("matrix helpers", "np.diagonal, x.diagonal", "`offset`, `axis1`, `axis2`", "a new array, not a view")
note("matrix helpers", "np.diag", "a vector onto diagonal k, or diagonal k of a matrix")
note("matrix helpers", "np.trace, x.trace", "`offset`, `axis1`, `axis2`")

# --- lists used as stacks -------------------------------------------------------------------------
syntax("lists", "s = [], s.append(v), s.pop(), s[i], len(s)",
     "`s = []`, `s.append(v)`, `s.pop()`, `s[i]`, `len(s)`, `np.array(s)`, `np.stack(s)`",
     "items are numbers or arrays of one shape; an empty pop or an index past the end is Python's "
     "IndexError")

# --- linear algebra (square matrices of floats; stacks of matrices are a CompileError) -----------
note("linear algebra", "np.linalg.inv", "`inv(A)`", "singular A: NumPy's LinAlgError, at the user's line")
note("linear algebra", "np.linalg.solve", "`solve(A, b)`, b a vector or a matrix",
     "the adjoint solves with A.T; no inverse is formed")
note("linear algebra", "np.linalg.det, np.linalg.slogdet", "`det(A)`; `sign, logdet = slogdet(A)`, `slogdet(A)[1]`",
     "d logdet = inv(A).T; the sign has no derivative; det's gradient at a singular A is a LinAlgError")
note("linear algebra", "np.linalg.cholesky", "`cholesky(A)`, `upper=True`",
     "Murray (2016); A is read from its lower triangle, as LAPACK reads it")
note("linear algebra", "np.linalg.eigh, np.linalg.eigvalsh", "`w, v = eigh(A)`, `UPLO='L'` or `'U'`; `eigvalsh(A)`",
     "Giles (2008); eigenvector derivatives at eigenvalues closer than 1e-10 max|w| are a LinAlgError; "
     "eigenvalue derivatives need no gap")
note("linear algebra", "np.linalg.svd", "`svd(A, compute_uv=False)`; `U, s, Vt = svd(A, full_matrices=False)`",
     "singular values need no gap; U and Vt need distinct (and, for non-square A, nonzero) ones, else LinAlgError")
note("linear algebra", "np.linalg.qr", "`Q, R = qr(A)` (reduced), `mode='r'`; square or tall A",
     "a wide A is a LinAlgError")
note("linear algebra", "np.linalg.pinv, np.linalg.lstsq", "`pinv(A)`; `lstsq(A, b, rcond=None)[0]`",
     "the fixed-rank derivative (Golub and Pereyra); lstsq is pinv(A) @ b")
note("linear algebra", "np.linalg.matrix_power, np.linalg.multi_dot",
     "`matrix_power(A, n)` with a literal integer n (0 and negative too); `multi_dot([A, B, C])`",
     "n = 0: the identity, no derivative")
note("linear algebra", "np.linalg.norm", "vectors: `ord` None, 1, 2, ±inf, 0, any p > 0; matrices: None, "
     "'fro', ±1, ±2, ±inf, 'nuc'; `axis` an int or a pair; `keepdims`",
     "the 2-norm's gradient at 0 is nan (undefined, as JAX); the 1-norm's is 0; ties in max and min split evenly")

# --- reductions -----------------------------------------------------------------------------------
note("reductions", "np.sum, x.sum, np.mean, x.mean, np.prod, x.prod",
     "axis an int, a tuple or None; keepdims; of an array, or of a list or tuple of arrays (stacked first)",
     "prod's gradient is exact where elements are zero (products of the others)")
note("reductions", "np.max, np.amax, x.max, np.min, np.amin, x.min", "axis an int, a tuple or None; keepdims",
     "tied maxima share the derivative equally")
note("reductions", "np.var, x.var, np.std, x.std", "axis an int, a tuple or None; ddof; keepdims",
     "sum((x - mean)**2) / max(n - ddof, 0); std's derivative where the variance is 0 is nan (its value is 0)")
note("reductions", "np.nansum, np.nanmean", "axis an int, a tuple or None; keepdims",
     "a NaN element has derivative 0; an all-NaN lane's mean is nan with zero gradient")
note("reductions", "np.cumsum, x.cumsum, np.cumprod, x.cumprod", "axis, or none (flattened)",
     "cumprod's derivatives are exact where elements are zero")
note("reductions", "np.diff", "`n`, `axis`, `prepend`, `append`")
note("reductions", "np.average", "`weights` (of a's shape, or 1-D along the axis), `axis`, `returned`, `keepdims`",
     "the weights are differentiated too; weights summing to 0 give inf or nan")
note("reductions", "np.argmax, x.argmax, np.argmin, x.argmin", "`axis`, `keepdims`",
     "integers, no derivative; the first of equal values wins, as in NumPy")

# --- sorting and selection ------------------------------------------------------------------------
note("sorting and selection", "np.sort", "`axis` (-1; None flattens)",
     "through the permutation of a stable sort: equal elements keep their order, and each output's "
     "derivative goes to the element placed there")
note("sorting and selection", "np.argsort, x.argsort, np.argpartition, x.argpartition", "`axis`, `kth`",
     "stable order, no derivative")
note("sorting and selection", "np.partition", "`kth` an int or a tuple, `axis`",
     "the fully sorted order (a valid partition; inside each part it may differ from NumPy's)")
note("sorting and selection", "np.take, x.take, np.take_along_axis",
     "`take(a, indices, axis=None)` with indices of any rank; `take_along_axis(a, indices, axis)`",
     "repeated indices add up in the adjoint; an index out of range is an IndexError")
note("sorting and selection", "np.select", "`select(condlist, choicelist, default=0)`",
     "a chain of np.where: the first true condition wins")
note("sorting and selection", "np.searchsorted, x.searchsorted", "a 1-D sorted array; `side`",
     "integers, no derivative")
note("sorting and selection", "x.sort, x.partition", "refused: they work in place",
     "write `x = np.sort(x)` (`np.partition(x, k)`)")
