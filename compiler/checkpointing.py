"""The two ways to ask reverse mode to recompute instead of store (docs/guide/checkpointing.md):
`@ct.checkpoint` on a called function, and `ct.checkpointed(range(n), snapshots=s)` on a loop.
Both are markers the compiler reads; in plain Python they do nothing."""
from __future__ import annotations

from typing import Callable, Iterable


def checkpoint(f: Callable) -> Callable:
    """Mark a function (as jax.checkpoint does): where a differentiated function calls it, the
    forward sweep keeps only its arguments, and the reverse sweep runs it again, recording then,
    to get its adjoint. Returns f itself."""
    target = getattr(f, "__cotangent_function__", f)
    target.__cotangent_checkpoint__ = True          # how units.Linker recognizes it
    if target is not f:
        f.__cotangent_checkpoint__ = True
    return f


def checkpointed(loop_range: Iterable[int], snapshots: int = 20) -> Iterable[int]:
    """Mark a `for` loop's range: reverse mode keeps at most `snapshots` copies of the loop's state
    and runs trips again (binomial checkpointing, about log(n) times each) instead of recording
    every trip. In plain Python it is the range itself."""
    return loop_range


checkpointed.__cotangent_primitive__ = "checkpointed"     # how the frontend recognizes it
