"""What index checks cost: each workload's cotangent gradient with the index proofs (the default:
indices proven in range, conditions checked once on entry, the rest tested at the access), with
Numba checking every index (`ct.config.index_proofs = False`), and with no checks at all
(`ct.config.boundscheck = False`), against JAX's `jit(value_and_grad)` in the same process.

    python benchmarks/index_checks.py                  # full sizes, one core
    python benchmarks/index_checks.py --scale tiny     # seconds
    python benchmarks/index_checks.py --workloads springs dlstm

The three settings are timed in alternation (`--rounds`, median of each call's median), so a
drift in the machine's speed touches all three alike."""
from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import one_core
    one_core.pin()

import argparse  # noqa: E402
import importlib  # noqa: E402
import statistics  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from harness import median_time  # noqa: E402

WORKLOADS = ("gmm", "gmm_scratch", "dlstm", "springs", "mlp")
SETTINGS = (("proofs", dict(boundscheck=True, index_proofs=True)),
            ("every index", dict(boundscheck=True, index_proofs=False)),
            ("no checks", dict(boundscheck=False, index_proofs=True)))


def _settings(**values) -> None:
    import cotangent as ct
    for k, v in values.items():
        setattr(ct.config, k, v)


def measure(case, rounds: int, min_total: float) -> list[tuple]:
    """(tool, {setting: ms}, JAX ms or None) for each cotangent formulation of a case."""
    jax = next((i for i in case.impls if i.tool == "jax"), None)
    jax_ms = None
    if jax is not None:
        try:
            run = jax.prepare()
            run()
            jax_ms = 1e3 * median_time(run, min_total)
        except ImportError:
            jax_ms = None
    out = []
    for impl in case.impls:
        if not impl.is_cotangent:
            continue
        thunks = {}
        for name, values in SETTINGS:
            _settings(**values)
            thunks[name] = impl.prepare()
            thunks[name]()
        _settings(boundscheck=True, index_proofs=True)
        times = {name: [] for name, _ in SETTINGS}
        for _ in range(rounds):
            for name, values in SETTINGS:
                _settings(**values)
                times[name].append(1e3 * median_time(thunks[name], min_total))
        _settings(boundscheck=True, index_proofs=True)
        out.append((impl.tool, {k: statistics.median(v) for k, v in times.items()}, jax_ms))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="full", choices=("tiny", "full"))
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-total", type=float, default=0.2)
    args = parser.parse_args(argv)
    print("| workload | size | cotangent | proofs ms | every index checked / proofs | no checks / proofs | proofs / JAX |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name in args.workloads:
        module = importlib.import_module(f"workloads.{name}")
        for case in module.cases(args.scale):
            for tool, ms, jax_ms in measure(case, args.rounds, args.min_total):
                base = ms["proofs"]
                ratio = f"{base / jax_ms:.2f}" if jax_ms else "-"
                print(f"| {case.workload} | {case.size} | {tool.removeprefix('cotangent').strip() or '-'} "
                      f"| {base:.4g} | {ms['every index'] / base:.2f} | {ms['no checks'] / base:.2f} | {ratio} |",
                      flush=True)


if __name__ == "__main__":
    main()
