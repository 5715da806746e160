"""Settings: where generated modules (and Numba's cache of them) are written."""
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
    """`ct.config.cache_dir = "/path"` moves the cache; COTANGENT_CACHE_DIR sets it for a process."""

    def __init__(self):
        self.cache_dir: Path = default_cache_dir()


config = Config()
