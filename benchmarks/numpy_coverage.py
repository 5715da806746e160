"""How much of the NumPy a user writes cotangent differentiates: each call form the NumPy-coverage
issue lists, written as a user writes it, compiled and checked against central differences
(ct.check_grad: reverse mode against differences, forward mode against reverse mode).

    python benchmarks/numpy_coverage.py              # the Python target (compiles in milliseconds)
    python benchmarks/numpy_coverage.py --target cpu # Numba (about a second per form)

Prints one line per form that fails and the share that works. A form counts as working when its
value equals NumPy's and its gradient passes check_grad."""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import sys
import tempfile
from pathlib import Path

import numpy as np

import cotangent as ct

R = np.random.default_rng(0)
V, W = R.uniform(0.2, 0.9, 5), R.uniform(0.2, 0.9, 5)
M = R.uniform(0.2, 0.9, (3, 4))
S = R.uniform(0.2, 0.9, (3, 3)) + 3 * np.eye(3)          # well conditioned
SPD = S @ S.T
T3 = R.uniform(0.2, 0.9, (2, 3, 4))

# (expression in x (and y), x, y or None): each the body of `return np.sum(EXPR)` or a number
FORMS = [
    # elementwise
    *[(f"np.{f}(x)", V, None) for f in ("exp2", "cbrt", "reciprocal", "sinc", "arcsinh", "arctanh",
                                        "deg2rad", "rad2deg", "degrees", "radians", "real", "nan_to_num")],
    ("np.arccosh(x + 1.5)", V, None), ("np.heaviside(x - 0.5, 0.5) * x", V, None),
    *[(f"np.{f}(x, y)", V, W) for f in ("logaddexp", "logaddexp2", "remainder", "fmax", "fmin", "copysign")],
    *[(f"sc.{f}(x)", V, None) for f in ("expit", "logit", "erf", "erfc", "gammaln", "digamma")],
    ("sc.xlogy(x, y)", V, W), ("sc.logsumexp(x)", M, None), ("sc.log_softmax(x, axis=1)", M, None),
    ("sc.softmax(x, axis=0)", M, None),
    # reductions
    ("np.var(x)", M, None), ("np.std(x, axis=0)", M, None), ("np.var(x, ddof=1, axis=1, keepdims=True)", M, None),
    ("np.sum(x, axis=(0, 2))", T3, None), ("np.mean(x, axis=(1, 2))", T3, None), ("np.max(x, axis=(0, 1))", T3, None),
    ("np.cumprod(x)", V, None), ("np.diff(x)", V, None), ("np.diff(x, n=2, axis=1)", M, None),
    ("np.nansum(x)", V, None), ("np.nanmean(x)", V, None), ("np.average(x, weights=y)", V, W),
    ("x[np.argmax(x)] + x[np.argmin(x)]", V, None), ("sum([x, y, x])", V, W), ("np.mean([x, y], axis=0)", V, W),
    # sorting and selection
    ("np.sort(x)", V, None), ("x[np.argsort(x)]", V, None), ("np.partition(x, 2)", V, None),
    ("np.take(x, [0, 2, 2])", V, None), ("np.take_along_axis(x, np.argsort(x, axis=1), axis=1)", M, None),
    ("np.select([x > 0.5, x <= 0.5], [x, x * x])", V, None), ("x[np.searchsorted(np.sort(y), 0.5)]", V, W),
    # indexing
    ("x[[0, 2, 2]]", V, None), ("x[..., 0]", M, None), ("x[..., None] * x", V, None), ("x[x > 0.5]", V, None),
    ("x[1, [0, 2]]", M, None), ("x[[0, 2], 1]", M, None), ("x[1, 1:, [1, 3]]", T3, None),
    # shapes
    ("np.swapaxes(x, 0, 1)", M, None), ("np.moveaxis(x, 0, -1)", T3, None), ("np.rollaxis(x, 2)", T3, None),
    ("x.transpose((1, 0, 2))", T3, None), ("np.flip(x, axis=1)", M, None), ("np.flipud(x)", M, None),
    ("np.fliplr(x)", M, None), ("np.rot90(x)", M, None), ("np.roll(x, 1)", V, None), ("np.tile(x, 2)", V, None),
    ("np.repeat(x, 2)", V, None), ("np.pad(x, 1)", V, None), ("np.pad(x, 1, mode='edge')", V, None),
    ("np.atleast_2d(x)", V, None), ("np.append(x, y)", V, W), ("np.split(x, [2])[1]", V, None),
    ("np.array_split(x, 2)[0]", V, None), ("np.column_stack((x, y))", V, W), ("np.dstack((x, y))", V, W),
    ("np.broadcast_to(x, (2, 5))", V, None), ("x.astype(float)", V, None), ("np.array([[x[0], x[1]], [x[2], 1.0]])", V, None),
    ("np.r_[x, y]", V, W), ("np.c_[x, y]", V, W), ("np.linspace(0.0, x[0], 4)", V, None),
    # products
    ("x @ y", T3, np.moveaxis(T3, 1, 2)), ("np.matmul(x, y)", T3, M.T), ("np.dot(x, 2.0)", V, None),
    ("np.inner(x, x)", M, None), ("np.tensordot(x, y, axes=1)", M, M.T), ("np.einsum('ij,jk->ik', x, y)", M, M.T),
    ("np.einsum('...ij,...jk', x, y)", T3, np.moveaxis(T3, 1, 2)), ("np.einsum('ii', x)", S, None),
    ("np.kron(x, y)", V, W), ("np.cross(x[:3], y[:3])", V, W), ("np.vdot(x, y)", V, W),
    # matrix helpers
    ("np.triu(x, 1)", S, None), ("np.tril(x)", S, None), ("np.diagonal(x, 1)", M, None), ("np.diag(x, 1)", V, None),
    ("np.trace(x, offset=1)", M, None),
    # linear algebra
    ("np.linalg.inv(x)", S, None), ("np.linalg.solve(x, y[:3])", S, V), ("np.linalg.det(x)", S, None),
    ("np.linalg.slogdet(x)[1]", S, None), ("np.linalg.cholesky(x)", SPD, None), ("np.linalg.eigh(x)[0]", SPD, None),
    ("np.linalg.eigvalsh(x)", SPD, None), ("np.linalg.svd(x, compute_uv=False)", M, None),
    ("np.linalg.pinv(x)", M, None), ("np.linalg.lstsq(x, y[:3], rcond=None)[0]", M, V), ("np.linalg.qr(x)[1]", S, None),
    ("np.linalg.matrix_power(x, 3)", S, None), ("np.linalg.multi_dot([x, x, x])", S, None),
    ("np.linalg.norm(x, ord=1)", V, None), ("np.linalg.norm(x, axis=1)", M, None),
    # lists used as stacks
    ("stack_of(x)", V, None),
]

HEADER = '''import numpy as np
import scipy.special as sc


def stack_of(x):
    stack = []
    for i in range(x.shape[0]):
        stack.append(x[i] * (i + 1))
    total = 0.0
    while len(stack) > 0:
        total = total * 0.5 + stack.pop()
    return total

'''


def module_of(forms, directory: Path):
    body = [HEADER]
    for k, (expr, _, y) in enumerate(forms):
        params = "x, y" if y is not None else "x"
        body.append(f"def f{k}({params}):\n    return np.sum({expr})\n\n")
    text = "\n".join(body)
    path = directory / f"coverage_{hashlib.sha256(text.encode()).hexdigest()[:12]}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("python", "cpu"), default="python")
    ns = parser.parse_args(argv)
    module = module_of(FORMS, Path(tempfile.mkdtemp()))
    works = 0
    for k, (expr, x, y) in enumerate(FORMS):
        # arrays of their own (check_grad moves one element at a time: views of one array would move together)
        args = tuple(np.array(a) for a in ((x,) if y is None else (x, y)))
        pyf = getattr(module, f"f{k}")
        f = ct.differentiable(pyf, target=ns.target)
        try:
            np.testing.assert_allclose(f(*args), pyf(*args), rtol=1e-9, atol=1e-12)
            ct.check_grad(f, *args, argnums=tuple(range(len(args))), rtol=1e-5, atol=1e-7)
            works += 1
        except Exception as e:  # noqa: BLE001 - reported, the run goes on
            print(f"fails: {expr}: {type(e).__name__}: {str(e).splitlines()[0][:120]}")
    print(f"{works} of {len(FORMS)} call forms work on target={ns.target!r} ({100 * works / len(FORMS):.0f}%)")
    return 0 if works == len(FORMS) else 1


if __name__ == "__main__":
    sys.exit(main())
