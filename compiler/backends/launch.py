"""Running a batch in buffer form (buffers.py) from the host: allocate and zero every output
buffer and the tapes, run the driver (CPU threads) or the kernel (CUDA), run it again with longer
tapes when a tape was too short, and add up the rows of summed outputs.

A summed output has one row per CPU chunk or CUDA thread, a per-sample output one row per sample;
numbers get rows of one element."""
from __future__ import annotations

import math

import numpy as np

from ..errors import CompileError

CUDA_THREADS_PER_BLOCK = 128
CUDA_MAX_BLOCKS = 1024            # enough to fill an H100 (132 SMs) several times
SIM_THREADS_PER_BLOCK = 32        # the simulator runs each thread as a Python thread
SIM_MAX_BLOCKS = 2


class BufferRun:
    """Calls one driver in buffer form; remembers the tape length the batch needed last."""

    def __init__(self, driver, outputs: list, n_tapes: int, target: str, sum_rows=None,
                 scratch_kinds: tuple = (), rows=None):
        self.driver, self.outputs, self.n_tapes, self.target = driver, outputs, n_tapes, target
        # a function of (arguments, buffers, chunk, start, stop) that runs samples start to stop
        # (the fused symbolic loop): one chunk calls it directly, so a run on one thread never
        # compiles the parallel driver, which would optimise the whole loop again
        self.rows = rows
        self.sum_rows = sum_rows
        self.scratch_kinds = scratch_kinds      # per scratch array: "float", "int" or "bool"
        self.capacity = 32

    def scratch(self, rows: int, shapes: tuple) -> list:
        """One scratch array of each kind per CPU chunk or CUDA thread, allocated once per batch
        (the per-sample code fills what it reads before reading it)."""
        dtypes = {"float": np.float64, "int": np.int64, "bool": np.bool_}
        return [np.empty((rows,) + tuple(s), dtypes[k]) for s, k in zip(shapes, self.scratch_kinds)]

    def buffers(self, n: int, rows: int, shapes: list, cuda_layout: bool) -> list:
        """Zeroed output buffers (`rows` rows for a summed output, n for the others), then the tapes
        and the length they need (on CUDA the tapes' last axis is the thread, for coalescing)."""
        bufs = [np.zeros((rows,) + _padded(s or (1,), not cuda_layout)) if o.summed else np.zeros((n,) + (s or (1,)))
                for o, s in zip(self.outputs, shapes)]
        if self.n_tapes:
            shape = (self.n_tapes, self.capacity, rows) if cuda_layout else (rows, self.n_tapes, self.capacity)
            bufs += [np.zeros(shape), np.zeros(1 if cuda_layout else rows, np.int64)]
        return bufs

    def __call__(self, leaves: list, n: int, chunks: int, shapes: list, scratch_shapes: tuple = ()) -> tuple:
        if self.target == "cuda":
            return self._cuda(leaves, n, shapes, scratch_shapes)
        scratch = self.scratch(chunks, scratch_shapes)
        while True:
            bufs = self.buffers(n, chunks, shapes, False)
            if chunks == 1 and self.rows is not None and not scratch:
                self.rows(*leaves, *bufs, 0, 0, n)
            else:
                self.driver(*leaves, *bufs, *scratch, chunks)
            if not self._longer(int(bufs[-1].max()) if self.n_tapes else 0):
                break
        return tuple(self._finish(b.sum(axis=0)[:(s or (1,))[0]] if o.summed else b, s, o.summed)
                     for b, o, s in zip(bufs, self.outputs, shapes))

    def _longer(self, needed: int) -> bool:
        """Whether a tape was too short (then the next run gets tapes of the length needed)."""
        if needed <= self.capacity:
            return False
        self.capacity = needed
        return True

    @staticmethod
    def _finish(b: np.ndarray, shape: tuple, summed: bool):
        if shape:
            return b
        return float(b[0]) if summed else b[:, 0].copy()

    def _cuda(self, leaves: list, n: int, shapes: list, scratch_shapes: tuple) -> tuple:
        cuda = cuda_module()
        sim = simulator()
        tpb = SIM_THREADS_PER_BLOCK if sim else CUDA_THREADS_PER_BLOCK
        blocks = max(1, min(math.ceil(n / tpb), SIM_MAX_BLOCKS if sim else CUDA_MAX_BLOCKS))
        slots = blocks * tpb
        d_leaves = [cuda.to_device(leaf) if isinstance(leaf, np.ndarray) else leaf for leaf in leaves]
        scratch = [cuda.device_array(a.shape, a.dtype) for a in self.scratch(slots, scratch_shapes)]   # one per thread
        while True:
            bufs = [cuda.to_device(b) for b in self.buffers(n, slots, shapes, True)]
            self.driver[blocks, tpb](*d_leaves, *bufs, *scratch)
            if not self._longer(int(bufs[-1].copy_to_host()[0]) if self.n_tapes else 0):
                break
        out = []
        for b, o, s in zip(bufs, self.outputs, shapes):
            if o.summed:
                size = int(np.prod(s or (1,)))
                total = cuda.device_array(size)
                self.sum_rows[math.ceil(size / tpb), tpb](b.reshape(slots, size), total)
                out.append(self._finish(total.copy_to_host().reshape(s or (1,)), s, True))
            else:
                out.append(self._finish(b.copy_to_host(), s, False))
        return tuple(out)

    def ptx(self, leaves: list, n: int, shapes: list, cc: tuple = (9, 0), scratch_shapes: tuple = ()) -> str:
        """The batch kernel compiled to PTX for these arguments: Numba's CUDA compiler checks the
        device code without a GPU (it needs the CUDA toolkit's NVVM, from numba-cuda[cu13])."""
        from unittest import mock
        from numba import cuda, typeof
        from numba.cuda import dispatcher
        args = list(leaves) + self.buffers(n, CUDA_THREADS_PER_BLOCK, shapes, True) \
            + self.scratch(CUDA_THREADS_PER_BLOCK, scratch_shapes)
        device = type("Device", (), {"compute_capability": cc})()
        # Numba asks the current GPU for its compute capability when it compiles a device
        # function; without a GPU the one given here stands in
        with mock.patch.object(dispatcher, "get_current_device", lambda: device):
            return cuda.compile_ptx(self.driver.py_func, tuple(typeof(a) for a in args), cc=cc)[0]


def _padded(shape: tuple, pad: bool) -> tuple:
    """A summed output's row shape on the CPU: its first axis is longer by what puts 64 bytes
    between the end of one chunk's row and the start of the next, so two threads adding into their
    rows never write one cache line (the per-sample code writes inside the first shape[0] only)."""
    if not pad:
        return shape
    inner = int(np.prod(shape[1:]))
    return (shape[0] + -(-8 // inner),) + shape[1:]


def simulator() -> bool:
    """Whether numba.cuda runs on its simulator (NUMBA_ENABLE_CUDASIM=1)."""
    from numba.core import config
    return bool(config.ENABLE_CUDASIM)


def cuda_module():
    """numba.cuda, when a GPU or the simulator can run kernels."""
    try:
        from numba import cuda
    except ImportError as e:     # numba-cuda not installed
        raise CompileError("the CUDA target needs the numba-cuda package",
                           hint='pip install "cotangent[cuda]"') from e
    if not cuda.is_available():
        raise CompileError("the CUDA target found no GPU",
                           hint="run where a CUDA GPU is, or test on Numba's simulator: "
                                "NUMBA_ENABLE_CUDASIM=1 (set before numba is imported)")
    return cuda
