"""Running an example script on a short configuration, as the model tests do."""
import os
import subprocess
import sys
from pathlib import Path

import cotangent as ct

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_script(script: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`python examples/<script> <args>` in `cwd`, sharing this process's cache directory (so code
    compiled by the tests is reused); asserts it exits with 0."""
    env = dict(os.environ, MPLBACKEND="Agg",
               COTANGENT_CACHE_DIR=os.environ.get("COTANGENT_CACHE_DIR", str(ct.config.cache_dir)))
    run = subprocess.run([sys.executable, str(EXAMPLES / script), *args],
                         capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def run_example(script: str, args: list[str], out: Path) -> subprocess.CompletedProcess:
    """`python examples/<script> --out <out> <args>` in `out`, as run_script runs it; also asserts
    that it says where its plots go."""
    run = run_script(script, ["--out", str(out), *args], out)
    assert f"writing plots to {out}" in run.stdout
    return run
