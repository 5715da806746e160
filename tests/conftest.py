"""Test session setup.

Generated modules, and Numba's machine code for them, go to one cache directory under
.pytest_cache, so a second run loads compiled code instead of compiling it (COTANGENT_CACHE_DIR,
when set, wins). LLVM's optimizer is off (NUMBA_OPT=0, unless set): the tests check what the
generated code computes, not how fast, and Numba compiles about five times faster without it."""
import os
from pathlib import Path

os.environ.setdefault("NUMBA_OPT", "0")

import cotangent as ct  # noqa: E402  (after NUMBA_OPT, which Numba reads when it is imported)

if not os.environ.get("COTANGENT_CACHE_DIR"):
    ct.config.cache_dir = Path(__file__).resolve().parents[1] / ".pytest_cache" / "cotangent"

