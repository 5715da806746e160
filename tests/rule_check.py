"""Checking derivative rules against central differences: shared by the rule tests of every area.

A rule is written as an expression in its inputs (x, y, ...). `check` turns it into

    def f(x, y, w):
        return np.sum((EXPR) * w)

with a fixed random weight w of the expression's shape, so that every element of the output
matters, and asks ct.check_grad to compare the reverse-mode gradient with central differences and a
JVP along a random direction with the reverse-mode gradient; it also compares the value with NumPy
running f itself. On Numba (target="cpu") the value and gradient must be the Python target's (the
same generated source, checked there): rows are checked in batches, one compiled function summing
many rows (check_batch), because each Numba compile costs about a second. `check_hessian` compares ct.hessian
(forward over reverse) with central differences of the reverse-mode gradient.

A rule table is a list of `row(expr, **inputs)`; `matrix(rows)` makes the pytest parameters, each
row on target="python" and on Numba, and `hessian_matrix(rows)` the Hessian checks (Python target).
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import math
import re
import zlib
from pathlib import Path

import numpy as np
import pytest

import cotangent as ct


# --- functions from expressions -------------------------------------------------------------

def load_module(text: str, prefix: str = "rule"):
    """A module of this source, in a file of its own named after its hash: cotangent reads a
    function's source, so a rule's expression has to live in a real module."""
    name = f"{prefix}_" + hashlib.sha256(text.encode()).hexdigest()[:16]
    path = Path(ct.config.cache_dir) / "test_rules" / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=None)
def define(params: str, expr: str, imports: str = ""):
    """`def f(params): return expr` in a module of its own (with more `imports` lines, if given)."""
    header = "import math\nimport numpy as np\n" + (imports + "\n" if imports else "")
    return load_module(f"{header}\n\ndef f({params}):\n    return {expr}\n").f


def _signs(rng, shape):
    return rng.choice([-1.0, 1.0], shape)


DOMAINS = {  # where each rule is smooth; a domain draws an array of the given shape
    "real": lambda rng, s: rng.uniform(-2.0, 2.0, s),
    "pos": lambda rng, s: rng.uniform(0.5, 2.0, s),
    "unit": lambda rng, s: rng.uniform(-0.8, 0.8, s),
    "log1p": lambda rng, s: rng.uniform(-0.5, 2.0, s),
    "nonzero": lambda rng, s: _signs(rng, s) * rng.uniform(0.3, 2.0, s),
    "small": lambda rng, s: rng.uniform(-0.1, 0.1, s),         # never ties with "nonzero"
    "mod": lambda rng, s: _signs(rng, s) * rng.uniform(1.5, 2.0, s),
    "divisor": lambda rng, s: rng.uniform(1.1, 1.3, s),        # "mod" / "divisor" stays off integers
    "clip": lambda rng, s: rng.choice([-1.2, 0.0, 1.2], s) + rng.uniform(-0.3, 0.3, s),
    "lo": lambda rng, s: rng.uniform(-0.55, -0.45, s),         # bounds that "clip" values avoid
    "hi": lambda rng, s: rng.uniform(0.45, 0.55, s),
}


def sample(spec, rng):
    """An input: (domain, shape) is drawn at random, anything else is used as given."""
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        domain, shape = spec
        v = DOMAINS[domain](rng, shape)
        return float(v) if shape == () else v
    return spec.copy() if isinstance(spec, np.ndarray) else spec


def is_float(v) -> bool:
    return isinstance(v, float) or (isinstance(v, np.ndarray) and v.dtype.kind == "f")


def inputs(expr: str, args: dict, namespace: dict | None = None):
    """The row's inputs and a weight of the expression's shape, the same on every run (`namespace`:
    the module names the expression uses, np and math by default)."""
    rng = np.random.default_rng(zlib.crc32(f"{expr} {args}".encode()))
    values = [sample(s, rng) for s in args.values()]
    out = eval(expr, namespace or {"np": np, "math": math}, dict(zip(args, values)))  # noqa: S307 - test tables
    w = rng.standard_normal(np.shape(out))
    return values, (float(w) if np.ndim(out) == 0 else w)


def check(expr: str, args: dict, target: str) -> None:
    """On the Python target: check_grad over every float input of the row (reverse mode against
    central differences, forward mode against reverse mode), and the value against NumPy's. On
    Numba: that the compiled value and gradient are the Python target's (the same generated
    source, checked there), which compiles one function per row instead of three."""
    if isinstance(expr, tuple):
        return check_batch(expr, args)
    values, w = inputs(expr, args)
    check_function(define(", ".join([*args, "w"]), f"np.sum(({expr}) * w)"), values, w, target)


def _renamed(expr: str, names, k: int) -> str:
    """expr with each of its inputs x renamed x_k."""
    class Rename(ast.NodeTransformer):
        def visit_Name(self, node):
            return ast.copy_location(ast.Name(f"{node.id}_{k}", node.ctx), node) if node.id in names else node
    return ast.unparse(Rename().visit(ast.parse(expr, mode="eval")))


def check_batch(exprs: tuple, argss: tuple, imports: str = "", namespace: dict | None = None,
                alone=None) -> None:
    """Numba's value and gradient of many rows at once, against the Python target's: one function
    sums every row's weighted expression (its inputs renamed apart), so one compile checks them
    all. When it fails, each row is checked alone (`alone(expr, args)`, by default `check` on
    Numba) to name the one that fails. `imports` and `namespace`: other modules the rows use."""
    params, terms, values = [], [], []
    for k, (expr, args) in enumerate(zip(exprs, argss)):
        row_values, w = inputs(expr, args, namespace)
        params += [f"{a}_{k}" for a in args] + [f"w_{k}"]
        values += list(row_values) + [w]
        terms.append(f"np.sum(({_renamed(expr, set(args), k)}) * w_{k})")
    f = define(", ".join(params), " + ".join(terms), imports)
    argnums = tuple(i for i, v in enumerate(values) if is_float(v))
    try:
        value, grads = ct.value_and_grad(ct.differentiable(f, target="cpu"), argnums)(*values)
        np.testing.assert_allclose(value, f(*values), rtol=1e-10, atol=1e-12)
        _, reference = ct.value_and_grad(ct.differentiable(f, target="python"), argnums)(*values)
        grads = grads if len(argnums) > 1 else (grads,)
        reference = reference if len(argnums) > 1 else (reference,)
        for g, r in zip(grads, reference):
            np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12)
    except Exception:
        for expr, args in zip(exprs, argss):
            (alone or (lambda e, a: check(e, a, "cpu")))(expr, args)     # raises for the row that fails
        raise


def check_function(f, values: list, w, target: str) -> None:
    """`check` for a function f(*values, w) written out."""
    fn = ct.differentiable(f, target=target)
    argnums = tuple(i for i, v in enumerate(values) if is_float(v))
    expected = f(*values, w)
    value, grads = ct.value_and_grad(fn, argnums)(*values, w)
    np.testing.assert_allclose(value, expected, rtol=1e-10, atol=1e-12)
    if target == "python":
        report = ct.check_grad(fn, *values, w, argnums=argnums)
        assert len(report) == len(argnums)
        np.testing.assert_allclose(fn(*values, w), expected, rtol=1e-10, atol=1e-12)
        return
    _, reference = ct.value_and_grad(ct.differentiable(f, target="python"), argnums)(*values, w)
    for g, r in zip(grads, reference):
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12)


# --- table rows -----------------------------------------------------------------------------

def row(expr: str, numba: bool = True, **args):
    """A rule's expression and its inputs, each (domain, shape) or a fixed value (ints, indices).
    numba=False: an array row that only repeats a rule on another shape runs on the Python target only."""
    return expr, args, numba


def _describe(spec) -> str:
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        return str(spec[1]).replace(" ", "")
    return "=" + re.sub(r"\s+", "", repr(spec.tolist() if isinstance(spec, np.ndarray) else spec))


def is_scalar_row(args: dict) -> bool:
    return all(np.ndim(sample(s, np.random.default_rng(0))) == 0 for s in args.values())


BATCH = 4      # rows checked on Numba by one compiled function (Numba's compile time grows
               # faster than the function: 16 array rows at once take longer than one at a time)


def matrix(rows, batched: bool = True):
    """pytest parameters: each row on target="python", and on Numba (target="cpu") in batches of
    BATCH rows, each batch one compiled function (check_batch; batched=False: one per row, for
    checks other than `check`). A row that only repeats a rule on another shape
    (`row(..., numba=False)`) runs on the Python target only: Numba runs the same generated source,
    whose every form its own rows check, and each compile costs about a second."""
    params, on_numba = [], []
    for expr, args, numba in rows:
        name = f"{expr} {' '.join(f'{a}{_describe(s)}' for a, s in args.items())}"
        params.append(pytest.param(expr, args, "python", id=f"python {name}"))
        if not (numba or is_scalar_row(args)):
            continue
        if batched:
            on_numba.append((expr, args))
        else:
            params.append(pytest.param(expr, args, "cpu", id=f"cpu {name}"))
    for start in range(0, len(on_numba), BATCH):
        part = on_numba[start:start + BATCH]
        exprs, argss = tuple(e for e, _ in part), tuple(a for _, a in part)
        params.append(pytest.param(exprs, argss, "cpu", id=f"cpu rows {start + 1}-{start + len(part)}: {part[0][0]} ..."))
    return params


def _float_argnums(values) -> tuple:
    return tuple(i for i, v in enumerate(values) if is_float(v))


def numeric_hessian(grad, values, argnums, step=1e-5):
    """H[i][j] (shape of argument i + shape of argument j) by central differences of `grad`, which
    returns the gradient in each argument of argnums."""
    blocks = [[None] * len(argnums) for _ in argnums]
    for jj, j in enumerate(argnums):
        x = np.asarray(values[j], dtype=float)
        cols = [[] for _ in argnums]
        for k in range(x.size):
            moved = []
            for sgn in (1.0, -1.0):
                a = list(values)
                y = x.copy().ravel()
                y[k] += sgn * step
                a[j] = y.reshape(x.shape) if x.ndim else float(y[0])
                moved.append([np.asarray(g, dtype=float) for g in grad(*a)])
            for ii in range(len(argnums)):
                cols[ii].append((moved[0][ii] - moved[1][ii]) / (2 * step))
        for ii, i in enumerate(argnums):
            shape_i = np.shape(values[i])
            stacked = np.stack(cols[ii], axis=-1) if cols[ii] else np.zeros(shape_i + (0,))
            blocks[ii][jj] = stacked.reshape(shape_i + x.shape)
    return blocks


def check_hessian(expr: str, args: dict, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """ct.hessian of np.sum(EXPR * w), forward over reverse on the Python target, against central
    differences of the reverse-mode gradient; blocks for every pair of float inputs."""
    values, w = inputs(expr, args)
    check_function_hessian(define(", ".join([*args, "w"]), f"np.sum(({expr}) * w)"), values, w, expr, rtol, atol)


def check_function_hessian(f, values: list, w, what: str = "", rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """`check_hessian` for a function f(*values, w) written out."""
    fn = ct.differentiable(f, target="python")
    argnums = _float_argnums(values)
    H = ct.hessian(fn, argnums=argnums)(*values, w)
    grad = ct.grad(fn, argnums=argnums)
    expected = numeric_hessian(lambda *a: grad(*a, w), values, argnums)
    for ii in range(len(argnums)):
        for jj in range(len(argnums)):
            np.testing.assert_allclose(np.asarray(H[ii][jj], dtype=float), expected[ii][jj], rtol=rtol, atol=atol,
                                       err_msg=f"Hessian block ({ii}, {jj}) of {what}")


def hessian_matrix(rows):
    """pytest parameters for check_hessian: each row once, on the Python target."""
    return [pytest.param(expr, args, id=f"hessian {expr} {' '.join(f'{a}{_describe(s)}' for a, s in args.items())}")
            for expr, args, _ in rows]
