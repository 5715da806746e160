"""Sums over data sets too large for one machine, on Ray: `ct.distributed_sum` and `ct.shard`.

`ct.distributed_sum(f)` takes a function summed over a batch (`ct.vmap(..., reduce="sum")`, its
`ct.grad` or `ct.value_and_grad`, or `ct.vmap(ct.grad(f), reduce="sum")`) and returns a function
with the same arguments and results whose batch is split into chunks: each chunk is one Ray task
that runs the same compiled batch loop (the prange target, on the task's CPUs), and the chunks'
results are added in chunk order. `ct.shard(x)` puts a batched argument into Ray's object store
once, already split, for functions called many times on the same data.

Ray is optional (`pip install "cotangent[distributed]"`): it is imported on first use, and without
it these functions say how to install it. This module also holds what the runtime's data-parallel
training shares with it: connecting to Ray, and preparing a worker process (the same cache
directory and settings as the caller, the caller's import path) before anything user-made is
unpickled there."""
from __future__ import annotations

import hashlib
import linecache
import os
import sys
from dataclasses import dataclass
from functools import reduce as _fold
from typing import Any, Callable

import numpy as np

from .config import config
from .errors import CompileError

INSTALL = "pip install 'cotangent[distributed]'"


# --- Ray: importing and connecting ---------------------------------------------------------------

def require_ray(what: str = "this"):
    """The ray module, or an ImportError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError(f"{what} runs on Ray, which is not installed: {INSTALL} (or pip install ray)") from None
    return ray


def connect(address: str | None = None, what: str = "this", **init_kwargs):
    """Ray, connected: as it is when `ray.init` was already called in this process; otherwise
    `ray.init(address)`, which joins the cluster at `address` (or at $RAY_ADDRESS) or, with
    neither, starts a local Ray on this machine that stays up until the process exits."""
    ray = require_ray(what)
    if not ray.is_initialized():
        local = address is None and not os.environ.get("RAY_ADDRESS")
        if local:
            init_kwargs.setdefault("include_dashboard", False)
        ray.init(address=address, **init_kwargs)
    return ray


def cluster_cpus(ray) -> int:
    return int(ray.cluster_resources().get("CPU", 0))


# --- what a worker process needs before it builds anything ----------------------------------------

def worker_setup() -> dict:
    """The caller's settings that a worker process copies: the cache directory (so compiled code
    is loaded, not compiled again, where the directory is shared), the bounds-check, index-proof and
    first-call settings, and the import path (so the user's modules import there as they do here)."""
    return {"cache_dir": os.path.abspath(os.fspath(config.cache_dir)),
            "boundscheck": config.boundscheck,
            "index_proofs": config.index_proofs,
            "first_call_check_seconds": config.first_call_check_seconds,
            "sys_path": [os.path.abspath(p or os.curdir) for p in sys.path if os.path.isdir(p or os.curdir)]}


def prepare_worker(setup: dict, cpus: int) -> None:
    """Apply `worker_setup()` in a worker process and limit Numba's threads to its CPUs."""
    config.cache_dir = setup["cache_dir"]
    config.boundscheck = setup["boundscheck"]
    config.index_proofs = setup.get("index_proofs", True)
    config.first_call_check_seconds = setup["first_call_check_seconds"]
    for path in setup["sys_path"]:
        if path not in sys.path and os.path.isdir(path):
            sys.path.append(path)
    import numba
    numba.set_num_threads(max(1, min(int(cpus), numba.config.NUMBA_NUM_THREADS)))


def main_sources(functions) -> dict:
    """The source lines of those `functions` defined in __main__ (a script, a notebook cell): they
    travel to workers by value, and a worker registers their lines (`register_sources`) so that
    cotangent reads the same source there, even where the file is not."""
    out = {}
    for fn in functions:
        code = getattr(fn, "__code__", None)
        if code is not None and getattr(fn, "__module__", None) == "__main__":
            lines = linecache.getlines(code.co_filename, getattr(fn, "__globals__", None))
            if lines:
                out[code.co_filename] = list(lines)
    return out


def register_sources(sources: dict) -> None:
    for filename, lines in sources.items():
        linecache.cache[filename] = (sum(map(len, lines)), None, list(lines), filename)


def pickled(obj) -> tuple[bytes, str]:
    """`obj` pickled by value where it must be (functions of __main__), and the digest of the bytes.
    Workers unpickle it only after prepare_worker, once the caller's modules can be imported."""
    from ray import cloudpickle
    data = cloudpickle.dumps(obj)
    return data, hashlib.sha256(data).hexdigest()


# --- structures of arguments and results ---------------------------------------------------------

def flatten(x, leaves: list):
    """The structure of `x` (tuples and dicts, by sorted key), its leaves appended to `leaves`;
    None stays in the structure (the gradient of an argument that is not a float)."""
    if isinstance(x, tuple):
        return ("tuple", tuple(flatten(v, leaves) for v in x))
    if isinstance(x, dict):
        return ("dict", tuple((k, flatten(x[k], leaves)) for k in sorted(x)))
    if x is None:
        return ("none",)
    leaves.append(x)
    return ("leaf",)


def unflatten(structure, it):
    kind = structure[0]
    if kind == "tuple":
        return tuple(unflatten(s, it) for s in structure[1])
    if kind == "dict":
        return {k: unflatten(s, it) for k, s in structure[1]}
    return None if kind == "none" else next(it)


def _along(a: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    return a[(slice(None),) * (axis % a.ndim) + (slice(start, stop),)]


def bounds(n: int, chunks: int) -> list[tuple[int, int]]:
    """[start, stop) of each of `chunks` nearly equal parts of n (the first ones one longer);
    empty parts are left out."""
    chunks = max(1, min(int(chunks), n))
    q, r = divmod(n, chunks)
    out, start = [], 0
    for k in range(chunks):
        stop = start + q + (k < r)
        out.append((start, stop))
        start = stop
    return out


# --- sharded data ---------------------------------------------------------------------------------

class Shards:
    """A batched argument split along `axis` into chunks that live in Ray's object store, made by
    `ct.shard`; pass it to a `ct.distributed_sum` function where the array would go. It keeps one
    sample here (to learn the result's structure) and the chunks' references."""

    def __init__(self, structure, chunk_refs: list[list], spans: list[tuple[int, int]], axis: int,
                 sample, n: int):
        self.structure, self.chunk_refs, self.spans = structure, chunk_refs, spans
        self.axis, self.sample, self.n = axis, sample, n

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"<cotangent.Shards: {self.n} samples along axis {self.axis} in {len(self.spans)} chunks>"


def shard(x, chunks: int | None = None, axis: int = 0, address: str | None = None) -> Shards:
    """Split `x` (an array, or a tuple or dict of arrays batched along the same axis) into
    `chunks` nearly equal parts along `axis` and put them into Ray's object store once, for a
    `ct.distributed_sum` function called many times on the same data. chunks: by default one per
    CPU of the Ray cluster."""
    ray = connect(address, "ct.shard")
    leaves: list = []
    structure = flatten(x, leaves)
    if not leaves or not all(isinstance(a, np.ndarray) and a.ndim > 0 for a in leaves):
        raise ValueError("ct.shard takes an array, or a tuple or dict of arrays, each with a batch axis")
    sizes = {a.shape[axis % a.ndim] for a in leaves}
    if len(sizes) != 1:
        raise ValueError(f"the arrays have different sizes along axis {axis}: {sorted(sizes)}")
    n = sizes.pop()
    if n == 0:
        raise ValueError("cannot shard an empty batch")
    spans = bounds(n, chunks or max(1, cluster_cpus(ray)))
    refs = [[ray.put(np.ascontiguousarray(_along(a, axis, lo, hi))) for a in leaves] for lo, hi in spans]
    sample = unflatten(structure, iter([np.ascontiguousarray(_along(a, axis, 0, 1)) for a in leaves]))
    return Shards(structure, refs, spans, axis, sample, n)


# --- distributed sums -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Recipe:
    """How a worker rebuilds the batched function: `kind` is "vmap" (the summed values),
    "grad_of_vmap" (value and gradient of the sum) or "vmap_of_grad" (the sum of per-sample values
    and gradients); every kind returns the value first, then the gradients' leaves. `sources`:
    the lines of pyfunc's file when it is defined in __main__."""
    kind: str
    pyfunc: Callable
    in_axes: Any
    argnums: tuple
    target: str
    sources: dict


def _recipe(f) -> tuple[_Recipe, str]:
    """The recipe of a summed batched function, and its reduction ("sum" or "mean")."""
    from .batching import Batched, BatchedTransform
    if isinstance(f, Batched):
        batched, plan = f, f.plan
        kind = "vmap" if plan.inner == "primal" else "vmap_of_grad"
    else:
        t = getattr(f, "_cotangent", None)
        if not isinstance(t, BatchedTransform) or t.plan.summed != "shared":
            raise CompileError("ct.distributed_sum takes a batched function summed over its batch",
                               hint='ct.vmap(f, in_axes, reduce="sum"), ct.grad or ct.value_and_grad of one, '
                                    'or ct.vmap(ct.grad(f), in_axes, reduce="sum")')
        batched, plan, kind = t.batched, t.plan, "grad_of_vmap"
        for i in plan.argnums:
            if _axis(batched.in_axes, i) is not None:
                raise CompileError(f"ct.distributed_sum: the gradient with respect to a batched argument "
                                   f"(argument {i}) has one row per sample, not a sum",
                                   hint="differentiate with respect to shared arguments (in_axes None)")
    if batched.reduce not in ("sum", "mean"):
        raise CompileError("ct.distributed_sum needs a function reduced over its batch",
                           hint='make it with ct.vmap(f, in_axes, reduce="sum") (or "mean")')
    if batched.target not in ("cpu", "python"):
        raise CompileError(f"ct.distributed_sum runs its chunks on CPU workers, not target {batched.target!r}",
                           hint='make the vmap with target="cpu"')
    recipe = _Recipe(kind, batched.pyfunc, batched.in_axes, tuple(plan.argnums), batched.target,
                     main_sources([batched.pyfunc]))
    return recipe, batched.reduce


def _axis(in_axes, i: int):
    if in_axes is None or isinstance(in_axes, int):
        return in_axes
    return in_axes[i] if i < len(in_axes) else None


def _build(recipe: _Recipe) -> Callable:
    """The recipe's function made with the public API, summing over its batch."""
    import cotangent as ct
    if recipe.kind == "vmap":
        return ct.vmap(recipe.pyfunc, recipe.in_axes, reduce="sum", target=recipe.target)
    if recipe.kind == "grad_of_vmap":
        return ct.value_and_grad(ct.vmap(recipe.pyfunc, recipe.in_axes, reduce="sum", target=recipe.target),
                                 recipe.argnums)
    return ct.vmap(ct.value_and_grad(recipe.pyfunc, recipe.argnums), recipe.in_axes, reduce="sum",
                   target=recipe.target)


_BUILT: dict = {}       # in a worker process: recipe digest -> its function, built once per process


def _sum_chunk(setup: dict, cpus: int, payload: bytes, key: str, structure, *leaves) -> list:
    """One Ray task: the summed values and gradients of one chunk, flat (value first)."""
    prepare_worker(setup, cpus)
    fn = _BUILT.get(key)
    if fn is None:
        from ray import cloudpickle
        recipe = cloudpickle.loads(payload)
        register_sources(recipe.sources)
        fn = _BUILT[key] = _build(recipe)
    # the object store hands out read-only arrays; Numba would compile those as another type
    args = unflatten(structure, iter([np.array(a) if isinstance(a, np.ndarray) else a for a in leaves]))
    out: list = []
    flatten(fn(*args), out)
    return out


_REMOTE: dict = {}


def _remote_chunk(ray):
    if "chunk" not in _REMOTE:
        _REMOTE["chunk"] = ray.remote(_sum_chunk)
    return _REMOTE["chunk"]


class DistributedSum:
    """A summed batched function whose batch is split into chunks, one Ray task each (see
    `distributed_sum`). Called like the function it was made from, it returns the same structure."""

    def __init__(self, f: Callable, chunks: int | None = None, cpus_per_chunk: int = 1,
                 address: str | None = None):
        self.recipe, self.reduce = _recipe(f)
        if chunks is not None and (not isinstance(chunks, int) or chunks < 1):
            raise ValueError(f"chunks must be a positive integer, got {chunks!r}")
        if not isinstance(cpus_per_chunk, int) or cpus_per_chunk < 1:
            raise ValueError(f"cpus_per_chunk must be a positive integer, got {cpus_per_chunk!r}")
        self.f, self.chunks, self.cpus, self.address = f, chunks, cpus_per_chunk, address
        self._payload = None
        self.__name__ = getattr(self.recipe.pyfunc, "__name__", "f")
        self.__doc__ = getattr(self.recipe.pyfunc, "__doc__", None)

    def __repr__(self) -> str:
        return f"<cotangent.distributed_sum of {self.recipe.kind} {self.__name__} chunks={self.chunks}>"

    def __call__(self, *args):
        from .arguments import with_defaults
        ray = connect(self.address, "ct.distributed_sum")
        if self._payload is None:
            self._payload = pickled(self.recipe)
        args = with_defaults(self.recipe.pyfunc, args)
        n, spans = self._spans(ray, args)
        probe = self.f(*[self._slice(a, i, 0, 1) for i, a in enumerate(args)])     # one sample: the structure
        setup, (payload, key) = worker_setup(), self._payload
        shared: dict = {}
        task = _remote_chunk(ray).options(num_cpus=self.cpus)
        refs = []
        for c, (lo, hi) in enumerate(spans):
            leaves: list = []
            chunk_args = tuple(self._chunk_arg(ray, a, i, c, lo, hi, shared) for i, a in enumerate(args))
            structure = flatten(chunk_args, leaves)
            refs.append(task.remote(setup, self.cpus, payload, key, structure, *leaves))
        parts = ray.get(refs)           # in chunk order, whatever order they finished in
        totals = [_fold(np.add, column) for column in zip(*parts)]
        if self.reduce == "mean":
            totals = [t / n for t in totals]
        wanted: list = []
        shape = flatten(probe, wanted)
        totals = totals[len(totals) - len(wanted):]     # grad alone: the value is left out
        return unflatten(shape, iter(float(t) if isinstance(w, float) else t for t, w in zip(totals, wanted)))

    # --- splitting the arguments ---
    def _spans(self, ray, args) -> tuple[int, list]:
        sharded = [a for a in args if isinstance(a, Shards)]
        sizes = set()
        for i, a in enumerate(args):
            axis = _axis(self.recipe.in_axes, i)
            if isinstance(a, Shards):
                if axis is None:
                    raise ValueError(f"argument {i} is sharded but shared by every sample (in_axes None)")
                if a.axis != axis:
                    raise ValueError(f"argument {i} is sharded along axis {a.axis} but batched along axis {axis}")
                sizes.add(a.n)
            elif axis is not None:
                leaves: list = []
                flatten(a, leaves)
                sizes |= {np.shape(x)[axis] for x in leaves if np.ndim(x) > 0}
        if len(sizes) != 1:
            raise CompileError("batched arguments have different batch sizes: " + ", ".join(map(str, sorted(sizes)))
                               if sizes else "ct.distributed_sum needs at least one batched argument")
        n = sizes.pop()
        if sharded:
            if any(s.spans != sharded[0].spans for s in sharded):
                raise ValueError("the sharded arguments are split differently; shard them with the same chunks")
            return n, sharded[0].spans
        return n, bounds(n, self.chunks or max(1, cluster_cpus(ray) // self.cpus))

    def _slice(self, a, i: int, lo: int, hi: int):
        axis = _axis(self.recipe.in_axes, i)
        if axis is None:
            return a
        if isinstance(a, Shards):
            return a.sample
        leaves: list = []
        structure = flatten(a, leaves)
        return unflatten(structure, iter(_along(np.asarray(x), axis, lo, hi) for x in leaves))

    def _chunk_arg(self, ray, a, i: int, c: int, lo: int, hi: int, shared: dict):
        """Argument i for chunk c: its chunk's object references, a slice put into the object
        store, or (shared by every sample) the same reference for every chunk."""
        if isinstance(a, Shards):
            return unflatten(a.structure, iter(a.chunk_refs[c]))
        if _axis(self.recipe.in_axes, i) is not None:
            part = self._slice(a, i, lo, hi)
            leaves: list = []
            structure = flatten(part, leaves)
            return unflatten(structure, iter(ray.put(np.ascontiguousarray(x)) for x in leaves))
        if i not in shared:
            leaves = []
            structure = flatten(a, leaves)
            shared[i] = unflatten(structure, iter(ray.put(x) if isinstance(x, np.ndarray) and x.nbytes > 65536
                                                  else x for x in leaves))
        return shared[i]


def distributed_sum(f: Callable, chunks: int | None = None, cpus_per_chunk: int = 1,
                    address: str | None = None) -> DistributedSum:
    """f, a function summed over a batch, computed on Ray: the batch is split into `chunks`
    nearly equal parts (by default one per `cpus_per_chunk` CPUs of the cluster), each part is one
    Ray task that runs f's compiled batch loop on `cpus_per_chunk` threads, and the parts' results
    are added in chunk order (divided by the batch size for reduce="mean").

        g = ct.grad(ct.vmap(point_loglik, (None, None, None, 0), reduce="sum"), argnums=(0, 1, 2))
        dg = ct.distributed_sum(g)
        dalphas, dmeans, dicf = dg(alphas, means, icf, x)      # what g(...) returns, summed on Ray

    f is `ct.vmap(h, in_axes, reduce="sum" | "mean")`, `ct.grad` or `ct.value_and_grad` of one
    (with respect to shared arguments), or `ct.vmap(ct.grad(h), in_axes, reduce=...)`. A batched
    argument may be a `ct.shard(x)` (already in the object store) instead of an array. Ray is
    joined as `ray.init(address)` does (a local Ray when there is no address and no $RAY_ADDRESS)."""
    return DistributedSum(f, chunks, cpus_per_chunk, address)
