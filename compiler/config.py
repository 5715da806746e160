"""Settings: where generated modules (and Numba's cache of them) are written, and the first-call check."""
from __future__ import annotations

import os
from pathlib import Path

VERSION = "0.1.0"


def default_cache_dir() -> Path:
    env = os.environ.get("COTANGENT_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cotangent"


class Config:
    """`ct.config.cache_dir = "/path"` moves the cache; COTANGENT_CACHE_DIR sets it for a process.
    `ct.config.first_call_check_seconds` bounds the plain-Python check before a first call;
    `ct.config.boundscheck = False` leaves the index checks out of compiled code;
    `ct.config.index_proofs = False` checks every index, even those proven in range."""

    def __init__(self):
        self.cache_dir: Path = default_cache_dir()
        # Before the first call of each signature of code compiled without index checks
        # (boundscheck = False), the generated code also runs as plain Python for up to this many
        # seconds, so that an index out of range is reported at the user's line instead of reading
        # the wrong memory; 0 turns the check off.
        self.first_call_check_seconds: float = 0.25
        # Compiled code checks every index against the array's shape (Numba's boundscheck), so an
        # index out of range raises ct.BoundsError (an IndexError) at the user's line on every
        # call. False leaves the checks out of code compiled or called from then on (the setting
        # is part of the generated source and of the cache key), for code known to be safe.
        self.boundscheck: bool = True
        # With the checks on, indices that compiler/ir/bounds.py proves in range (from the loops'
        # ranges and conditions tested once on entry) are not checked again at every access.
        # False runs code in which Numba checks every index (to compare, or to rule the proofs out).
        self.index_proofs: bool = True


config = Config()
