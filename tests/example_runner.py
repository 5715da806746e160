"""Running an example script on a short configuration, as the model tests do."""
import os
import subprocess
import sys
from pathlib import Path

import cotangent as ct

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(script: str, args: list[str], out: Path) -> subprocess.CompletedProcess:
    """`python examples/<script> --out <out> <args>` in `out`, sharing this process's cache
    directory (so code compiled by the tests is reused); asserts it exits with 0 and says where
    its plots go."""
    env = dict(os.environ, MPLBACKEND="Agg",
               COTANGENT_CACHE_DIR=os.environ.get("COTANGENT_CACHE_DIR", str(ct.config.cache_dir)))
    run = subprocess.run([sys.executable, str(EXAMPLES / script), "--out", str(out), *args],
                         capture_output=True, text=True, env=env, cwd=out, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"writing plots to {out}" in run.stdout
    return run
