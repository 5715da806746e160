"""check_grad: reverse mode against central differences, and forward mode against reverse mode.

The step is scaled to each input (h = eps**(1/3) * max(1, |x_i|)), which balances truncation
against rounding error for central differences."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from . import api
from . import specialize as sp

EPS_CUBE_ROOT = np.finfo(np.float64).eps ** (1.0 / 3.0)


def _float_leaf_paths(x, path=""):
    """(path, leaf) for every float leaf of a (possibly nested) argument."""
    if isinstance(x, tuple):
        return [p for i, v in enumerate(x) for p in _float_leaf_paths(v, f"{path}[{i}]")]
    if isinstance(x, dict):
        return [p for k in sorted(x) for p in _float_leaf_paths(x[k], f"{path}[{k!r}]")]
    if isinstance(x, (float, np.floating)) or (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        return [(path, x)]
    return []


def _replace(x, path_leaves, new_leaves):
    mapping = {id(old): new for (_, old), new in zip(path_leaves, new_leaves)}

    def go(v):
        if isinstance(v, tuple):
            return tuple(go(e) for e in v)
        if isinstance(v, dict):
            return {k: go(e) for k, e in v.items()}
        return mapping.get(id(v), v)
    return go(x)


def _leaves_of(g, x):
    """The gradient's leaves in the same order as _float_leaf_paths(x)."""
    if isinstance(x, tuple):
        return [l for e, xe in zip(g, x) for l in _leaves_of(e, xe)]
    if isinstance(x, dict):
        return [l for k in sorted(x) for l in _leaves_of(g[k], x[k])]
    if isinstance(x, (float, np.floating)) or (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        return [g]
    return []


def check_grad(f: Callable, *args, argnums: int | Sequence[int] | None = None, rtol: float = 1e-6,
               atol: float = 1e-8, modes: Sequence[str] = ("reverse", "forward"), has_aux: bool = False) -> dict:
    """Compare f's reverse-mode gradient with central differences, and forward mode (a JVP along a
    random direction) with reverse mode. Raises AssertionError naming the argument and index of
    the worst mismatch; returns {argument name: worst relative error}. With has_aux, f returns
    (value, aux...) and only the value is checked. f may be a ct.vmap reduced to one number
    (reduce="sum" or "mean"): its batched gradient is checked against differences of the batch."""
    if has_aux:
        f = ct_first_output(f)
    batched = hasattr(f, "batched_value_and_grad")       # a ct.vmap reduced to one number
    pyfunc = f.pyfunc if batched else api.unwrap(f)[0]
    evaluate = f if batched else pyfunc
    if argnums is None:
        argnums = tuple(i for i, a in enumerate(args) if _float_leaf_paths(a))
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    names = pyfunc.__code__.co_varnames
    grads = api.grad(f, argnums=nums)(*args)
    f0 = float(f(*args) if batched else api.Differentiable(pyfunc, _target(f))(*args))
    scale = max(1.0, abs(f0))
    report = {}
    rng = np.random.default_rng(0)
    for i, g in zip(nums, grads):
        leaves = _float_leaf_paths(args[i])
        gleaves = _leaves_of(g, args[i])
        worst = 0.0
        for (path, leaf), gl in zip(leaves, gleaves):
            arr = np.array(leaf, dtype=np.float64, order="C")   # flat views below write through
            fd = np.zeros_like(arr)
            flat = arr.reshape(-1)
            for k in range(flat.size):
                h = EPS_CUBE_ROOT * max(1.0, abs(flat[k]))
                values = []
                for sign in (1.0, -1.0):
                    bumped = flat.copy()
                    bumped[k] += sign * h
                    new_leaf = bumped.reshape(arr.shape) if arr.ndim else float(bumped[0])
                    new_args = list(args)
                    new_args[i] = _replace(args[i], leaves, [new_leaf if l is leaf else l for _, l in leaves])
                    values.append(float(evaluate(*new_args)))
                fd.reshape(-1)[k] = (values[0] - values[1]) / (2 * h)
            ga = np.asarray(gl, dtype=np.float64)
            if ga.shape != arr.shape:
                raise AssertionError(f"gradient of {names[i]}{path} has shape {ga.shape}, "
                                     f"the argument has shape {arr.shape}")
            err = np.abs(ga - fd) / (np.maximum(np.abs(fd), np.abs(ga)) + atol * scale / rtol)
            k = int(np.argmax(err)) if err.size else 0
            e = float(err.reshape(-1)[k]) if err.size else 0.0
            worst = max(worst, e)
            if e > rtol * 10 ** 3 or not np.all(np.isfinite(ga)):
                idx = np.unravel_index(k, arr.shape) if arr.ndim else ()
                raise AssertionError(
                    f"gradient of {pyfunc.__name__} with respect to {names[i]}{path}"
                    f"{list(idx) if idx else ''} is {ga.reshape(-1)[k]!r}, central differences give "
                    f"{fd.reshape(-1)[k]!r} (relative error {e:.2e})")
        report[names[i]] = worst
    if "forward" in modes:
        _check_forward(f, args, nums, grads, rng, names, pyfunc, rtol, atol, scale)
    return report


def ct_first_output(f) -> "api.Differentiable":
    """A function returning f(...)[0], compiled for f's target: the value of a has_aux function."""
    import linecache
    pyfunc, target = api.unwrap(f)
    params = list(pyfunc.__code__.co_varnames[:pyfunc.__code__.co_argcount])
    name = pyfunc.__name__
    filename = f"<cotangent value of {pyfunc.__module__}.{name}>"
    source = f"def {name}_value({', '.join(params)}):\n    return {name}({', '.join(params)})[0]\n"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {name: pyfunc}
    exec(compile(source, filename, "exec"), namespace)
    fn = namespace[f"{name}_value"]
    fn.__module__ = pyfunc.__module__
    return api.Differentiable(fn, target)


def _target(f):
    return f.target if isinstance(f, api.Differentiable) else "cpu"


def _check_forward(f, args, nums, grads, rng, names, pyfunc, rtol, atol, scale):
    """<grad, v> from reverse mode must equal the JVP along v from forward mode."""
    tangents = []
    expected = 0.0
    for i, a in enumerate(args):
        if i not in nums:
            tangents.append(None)
            continue
        leaves = _float_leaf_paths(a)
        vs = [rng.standard_normal(np.shape(l)) if np.ndim(l) else float(rng.standard_normal()) for _, l in leaves]
        tangents.append(_replace(a, leaves, vs))
        g = grads[nums.index(i)]
        for v, gl in zip(vs, _leaves_of(g, a)):
            expected += float(np.sum(np.asarray(gl) * v))
    _, t_out = api.jvp(f, args, tangents)
    err = abs(float(t_out) - expected) / (max(abs(expected), abs(float(t_out))) + atol * scale / rtol)
    if err > rtol * 10 ** 3:
        raise AssertionError(f"forward mode of {pyfunc.__name__} disagrees with reverse mode: JVP gives "
                             f"{float(t_out)!r}, <grad, v> gives {expected!r} (relative error {err:.2e})")
