"""Test session setup: generated modules (and Numba's machine code for them) go to one cache
directory under .pytest_cache, so a second run loads compiled code instead of compiling it.
COTANGENT_CACHE_DIR, when set, wins."""
import os
from pathlib import Path

import cotangent as ct

if not os.environ.get("COTANGENT_CACHE_DIR"):
    ct.config.cache_dir = Path(__file__).resolve().parents[1] / ".pytest_cache" / "cotangent"
