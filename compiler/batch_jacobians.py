"""Per-sample Jacobians and Hessians as one wider batch of JVPs, VJPs or Hessian-vector products.

`ct.vmap(ct.jacfwd(f), in_axes)` needs, per sample, one JVP per input element. Instead of a driver
that loops over directions inside each sample (which allocates its blocks per sample), every
(sample, direction) pair becomes a row of a batch of n·K rows: the batched arguments repeat each
sample K times, the tangents are the basis directions, and the batch runs through the same
compiled, allocation-free loop as any `ct.vmap` (CPU threads or one CUDA thread per row). jacrev
seeds the output's basis (one VJP row per output element), the Hessian the input's (one HVP row
per input element). The rows are then regrouped into the blocks `batching.Result.jacobians`
arranges in JAX's shapes."""
from __future__ import annotations

import numpy as np

from . import specialize as sp
from .ir.types import FLOAT

ROWS_BYTES = 1 << 27       # the repeated arguments and basis directions of one slice of samples: 128 MiB


class ExpandedJacobians:
    """The per-sample Jacobians (or Hessians) of one `Batched` of a jacfwd, jacrev or hessian."""

    def __init__(self, batched):
        self.batched = batched
        self.plan = batched.plan
        self._out_shapes: dict = {}
        self.last = None

    def __call__(self, args: tuple):
        from .arguments import with_defaults
        from .batching import prepare, Result
        b = self.batched
        args = with_defaults(b.pyfunc, args)
        batch = prepare(b.pyfunc, args, b.in_axes)
        n = batch.n
        shapes = [leaf.shape[1:] if bt else np.shape(leaf) for leaf, bt in zip(batch.leaves, batch.batched)]
        wrt = self._wrt_leaves(batch)                 # (leaf index, per-sample shape) per float leaf
        sizes = [int(np.prod(shapes[k])) for k in wrt]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        mode = self.plan.inner
        if mode == "jacrev":
            out_shape = self._out_shape(batch)
            rows = int(np.prod(out_shape))
        else:
            rows = int(offsets[-1])
        in_axes = _rebuild_args(batch, [0 if bt else None for bt in batch.batched])
        inner = {"jacfwd": "jvp", "jacrev": "vjp", "hessian": "hvp"}[mode]
        per_row = sum(sizes) + sum(leaf[0].size for leaf, bt in zip(batch.leaves, batch.batched) if bt)
        step = max(1, ROWS_BYTES // (8 * rows * max(per_row, 1)))
        parts = []
        for lo in range(0, n, step):        # slices of samples, so the rows stay within ROWS_BYTES
            hi = min(n, lo + step)
            leaves = [np.repeat(leaf[lo:hi], rows, axis=0) if bt else leaf
                      for leaf, bt in zip(batch.leaves, batch.batched)]
            if mode == "jacrev":
                directions = [_basis(hi - lo, out_shape, rows, 0, rows)]
            else:
                directions = [_basis(hi - lo, shapes[k], rows, offsets[j], sizes[j]) for j, k in enumerate(wrt)]
            values = self._run(_rebuild_args(batch, leaves), in_axes, inner, directions)
            blocks = _blocks(mode, values, hi - lo, rows, sizes, offsets)
            parts.append([x.sum(axis=0) for x in blocks] if b.reduce else blocks)
        if b.reduce is not None:
            blocks = [sum(p[j] for p in parts) / (n if b.reduce == "mean" else 1) for j in range(len(parts[0]))]
        else:
            blocks = [np.concatenate([p[j] for p in parts]) if len(parts) > 1 else parts[0][j]
                      for j in range(len(parts[0]))]
        return Result(blocks, batch.specs, self.plan.argnums, self.plan, shapes, () if b.reduce else (n,))

    def _wrt_leaves(self, batch) -> list:
        out, start = [], 0
        for i, spec in enumerate(batch.specs):
            types = sp.spec_leaf_types(spec)
            if i in self.plan.argnums:
                out += [start + j for j, t in enumerate(types) if t.kind == FLOAT]
            start += len(types)
        return out

    def _out_shape(self, batch) -> tuple:
        """One sample's output shape (jacrev seeds one row per output element), from one plain
        Python call, remembered per signature."""
        key = batch.specs
        if key not in self._out_shapes:
            sample = [leaf[0] if bt else leaf for leaf, bt in zip(batch.leaves, batch.batched)]
            self._out_shapes[key] = np.shape(self.batched.pyfunc(*_rebuild_args(batch, sample)))
        return self._out_shapes[key]

    def _run(self, expanded: tuple, in_axes: tuple, inner: str, directions: list) -> list:
        from .batching import Batched, BatchedTransform, Plan
        b = self.batched
        rows = Batched(b.pyfunc, in_axes, None, b.target)
        t = BatchedTransform(rows, Plan(inner, self.plan.argnums, summed="none"))
        values = t.run(expanded, tuple(directions)).values
        self.last = t.last
        return values


def _rebuild_args(batch, leaves: list) -> tuple:
    """The arguments' structures filled with `leaves` (in specialize.leaves order)."""
    it = iter(leaves)
    return tuple(sp.rebuild(spec, it) for spec in batch.specs)


def _basis(n: int, shape: tuple, rows: int, offset: int, size: int) -> np.ndarray:
    """Directions for n samples of `rows` rows each: row offset + e of every sample is the e-th
    basis vector of an array of `shape`; the sample's other rows are zero."""
    d = np.zeros((n, rows, size))
    e = np.arange(size)
    d[:, offset + e, e] = 1.0
    return d.reshape((n * rows,) + tuple(shape))


def _blocks(mode: str, values: list, n: int, rows: int, sizes: list, offsets) -> list:
    """The rows regrouped into the driver blocks batching.Result.jacobians reads: jacfwd, the
    value then (n, in, out) per argument leaf; jacrev, the value then (n, out, in); hessian,
    (n, in_s, in_r) for the block of leaves r, s at index s·m + r."""
    m = len(sizes)
    if mode == "hessian":
        dots = values[1 + m:]
        return [dots[r].reshape(n, rows, sizes[r])[:, offsets[s]:offsets[s] + sizes[s]]
                for s in range(m) for r in range(m)]
    value = values[0].reshape((n, rows) + values[0].shape[1:])[:, 0]
    if mode == "jacfwd":
        tangent = values[1].reshape(n, rows, -1)
        return [value] + [tangent[:, offsets[k]:offsets[k] + sizes[k]] for k in range(m)]
    return [value] + [g.reshape(n, rows, sizes[k]) for k, g in enumerate(values[1:])]
