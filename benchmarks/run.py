"""Run every benchmark workload, print the table, save it with a plot.

    python benchmarks/run.py                       # every workload at full size, one core
    python benchmarks/run.py --scale tiny          # the test's sizes: checks that nothing rotted
    python benchmarks/run.py --workloads gmm mlp --no-first-call

For each case and each tool: the first call in this process (imports, tracing, compiling), a check
of the value and gradient against cotangent's and against the published value, then the median of
repeated calls, and the rise of the resident set during one call. For cotangent also the compiled
objective alone (J/F) and, in fresh processes, the time from `import cotangent` to the first
gradient with an empty cache (cold) and with the cache the cold run left (warm)."""
from __future__ import annotations

import os
import sys

# One core for every tool unless asked otherwise; these must be set before NumPy, JAX or PyTorch load.
# Only when run as a script: a test that imports the runner must not pin its process to one core.
if __name__ == "__main__" and "--all-cores" not in sys.argv:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import one_core
    one_core.pin()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "workloads"))
from harness import Case, Impl, max_relative_difference, median_time, peak_memory_mib  # noqa: E402

WORKLOADS = ["gmm", "dlstm", "mlp", "while_loop", "gmm_scratch", "springs"]
TOLERANCE = 1e-8
COMPETITORS = ["jax", "torch", "autograd"]


@dataclass
class Row:
    """One tool on one case."""
    workload: str
    size: str
    tool: str
    seconds: float | None = None           # median gradient time
    objective_seconds: float | None = None
    first_call: float | None = None        # in this process, including compilation
    cold: float | None = None              # fresh process, empty cache
    warm: float | None = None              # fresh process, cache filled
    peak_mib: float | None = None
    rel_diff: float | None = None          # against the case's first cotangent result
    ref_diff: float | None = None          # value against the published reference
    error: str | None = None
    ratios: dict = field(default_factory=dict)

    @property
    def j_over_f(self) -> float | None:
        if self.seconds and self.objective_seconds:
            return self.seconds / self.objective_seconds
        return None


def time_first_call(snippet: str, cache_dir: str, threads_env: dict) -> float | None:
    """Seconds from `import cotangent` to the end of the snippet, in a fresh interpreter."""
    code = ("import time; _t = time.perf_counter()\n" + snippet +
            "\nprint('FIRST_CALL', time.perf_counter() - _t)")
    env = dict(os.environ, COTANGENT_CACHE_DIR=cache_dir, **threads_env)
    out = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent, env=env,
                         capture_output=True, text=True, timeout=3600)
    for line in out.stdout.splitlines():
        if line.startswith("FIRST_CALL"):
            return float(line.split()[1])
    print(f"    first-call process failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    return None


def measure(case: Case, impl: Impl, reference, min_total: float, first_call: bool) -> tuple[Row, object]:
    row = Row(case.workload, case.size, impl.tool)
    try:
        t = time.perf_counter()
        thunk = impl.prepare()
        result = thunk()
        row.first_call = time.perf_counter() - t
        if reference is not None:
            row.rel_diff = max_relative_difference(result, reference)
        if case.reference_value is not None:
            row.ref_diff = abs(result[0] - case.reference_value) / abs(case.reference_value)
        thunk()
        row.seconds = median_time(thunk, min_total)
        row.peak_mib = peak_memory_mib(thunk)
        if impl.objective is not None:
            objective = impl.objective()
            objective()
            row.objective_seconds = median_time(objective, min_total)
        if first_call and impl.first_call:
            with tempfile.TemporaryDirectory() as cache:
                threads = {k: os.environ[k] for k in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS")
                           if k in os.environ}
                row.cold = time_first_call(impl.first_call, cache, threads)
                row.warm = time_first_call(impl.first_call, cache, threads)
        return row, result
    except ImportError as e:
        row.error = f"not installed ({e.name})"
    except Exception as e:  # noqa: BLE001 - a failing tool is reported in the table, not fatal
        row.error = f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"
    return row, None


def run_case(case: Case, min_total: float, first_call: bool, skip: list[str]) -> list[Row]:
    rows: list[Row] = []
    reference = None
    for impl in case.impls:
        if impl.tool.split()[0] in skip:
            continue
        row, result = measure(case, impl, reference, min_total, first_call)
        if reference is None and result is not None and impl.is_cotangent:
            reference = result
            row.rel_diff = 0.0
        rows.append(row)
        print("  " + describe(row), flush=True)
    for row in rows:
        if row.tool.startswith("cotangent") and row.seconds:
            for other in rows:
                if not other.tool.startswith("cotangent") and other.seconds:
                    row.ratios[other.tool] = row.seconds / other.seconds
    return rows


def fmt(v: float | None, spec: str, missing: str = "-") -> str:
    return missing if v is None else format(v, spec)


def describe(row: Row) -> str:
    if row.error:
        return f"{row.tool:<18} {row.error}"
    return (f"{row.tool:<18} {fmt(row.seconds and row.seconds * 1e3, '10.4f')} ms  J/F {fmt(row.j_over_f, '.2f')}"
            f"  first {fmt(row.first_call, '.2f')} s  peak {fmt(row.peak_mib, '.1f')} MiB"
            f"  diff {fmt(row.rel_diff, '.1e')}  ref {fmt(row.ref_diff, '.1e')}")


def markdown(rows: list[Row], machine: str) -> str:
    """The summary table (one line per cotangent formulation) and every tool's times."""
    lines = [f"Machine: {machine}", "",
             "| workload | size | cotangent | gradient ms | J/F | / JAX | / PyTorch | / autograd "
             "| cold first call s | warm first call s | peak MiB |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r.tool.startswith("cotangent") and not r.error:
            lines.append(
                f"| {r.workload} | {r.size} | {r.tool.removeprefix('cotangent').strip() or '-'} "
                f"| {fmt(r.seconds and r.seconds * 1e3, '.4g')} | {fmt(r.j_over_f, '.2f')} | "
                + " | ".join(fmt(r.ratios.get(t), '.2g') for t in COMPETITORS)
                + f" | {fmt(r.cold, '.1f')} | {fmt(r.warm, '.2f')} | {fmt(r.peak_mib, '.1f')} |")
    lines += ["", "Every tool (gradient time, first call in the benchmark process, value/gradient "
              "difference from cotangent):", "",
              "| workload | size | tool | gradient ms | first call s | peak MiB | max rel diff |",
              "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        if r.error:
            lines.append(f"| {r.workload} | {r.size} | {r.tool} | {r.error} | | | |")
        else:
            lines.append(f"| {r.workload} | {r.size} | {r.tool} | {fmt(r.seconds and r.seconds * 1e3, '.4g')} "
                         f"| {fmt(r.first_call, '.2f')} | {fmt(r.peak_mib, '.1f')} | {fmt(r.rel_diff, '.1e')} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[Row], path: Path) -> None:
    """Gradient time of each competitor over cotangent's, per case: above 1 means cotangent is faster."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot", file=sys.stderr)
        return
    best: dict[tuple[str, str], Row] = {}
    for r in rows:
        if r.tool.startswith("cotangent") and r.seconds:
            key = (r.workload, r.size)
            if key not in best or r.seconds < best[key].seconds:
                best[key] = r
    keys = list(best)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(keys) + 2), 4.5))
    width = 0.8 / len(COMPETITORS)
    for i, tool in enumerate(COMPETITORS):
        ys = [1.0 / best[k].ratios[tool] if tool in best[k].ratios else 0.0 for k in keys]
        ax.bar([j + (i - 1) * width for j in range(len(keys))], ys, width, label=tool)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([f"{w}\n" + textwrap.fill(s, 13) for w, s in keys], fontsize=7)
    ax.set_ylabel("competitor's gradient time / cotangent's")
    ax.set_title("Speed-up of cotangent's gradient, its faster formulation per case "
                 "(higher is better; 1 = same speed)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):          # no /proc/cpuinfo: the platform's name stays
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    versions = []
    for mod in ("numpy", "numba", "jax", "torch", "autograd"):
        with contextlib.suppress(ImportError, AttributeError):     # a tool not installed is not listed
            versions.append(f"{mod} {importlib.import_module(mod).__version__}")
    cores = "all cores" if "--all-cores" in sys.argv else "one core per tool"
    return (f"{cpu}, {os.cpu_count()} cores ({cores}), Python {platform.python_version()}; "
            + ", ".join(versions))


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["full", "tiny"], default="full")
    parser.add_argument("--workloads", nargs="*", default=WORKLOADS, choices=WORKLOADS)
    parser.add_argument("--skip", nargs="*", default=[], help="tools to leave out: jax torch autograd")
    parser.add_argument("--no-first-call", action="store_true", help="skip the cold/warm process timing")
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds of repeated calls per median")
    parser.add_argument("--all-cores", action="store_true", help="let every tool use every core")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="folder for table, JSON and plot")
    parser.add_argument("--from-json", type=Path, help="redraw the table and plot from a saved results JSON")
    opts = parser.parse_args(argv)
    rows: list[Row] = []
    if opts.from_json:
        fields = set(Row.__dataclass_fields__)
        rows = [Row(**{k: v for k, v in r.items() if k in fields}) for r in json.loads(opts.from_json.read_text())]
    for name in [] if opts.from_json else opts.workloads:
        module = importlib.import_module(name)
        for case in module.cases(opts.scale):
            print(f"{case.workload} {case.size}", flush=True)
            for note in case.notes:
                print(f"  note: {note}")
            rows += run_case(case, opts.min_time, not opts.no_first_call, opts.skip)
    machine = machine_description()
    table = markdown(rows, machine)
    print("\n" + table)
    opts.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if opts.scale == "full" else f"_{opts.scale}"
    (opts.out / f"results{suffix}.md").write_text(table)
    (opts.out / f"results{suffix}.json").write_text(json.dumps(
        [dict(vars(r), j_over_f=r.j_over_f) for r in rows], indent=1))
    plot(rows, opts.out / f"speedup{suffix}.png")
    print(f"wrote {opts.out}/results{suffix}.md, .json and speedup{suffix}.png")
    if opts.scale == "full" and set(opts.workloads) == set(WORKLOADS) and not opts.skip:
        update_readme(table, opts.out / "speedup.png")
    return rows


def update_readme(table: str, plot_path: Path) -> None:
    """Put the new table (and a link to the plot) between the markers in benchmarks/README.md."""
    readme = HERE / "README.md"
    text = readme.read_text()
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    if begin not in text or end not in text:
        return
    link = f"![speed-up of cotangent over each tool]({plot_path.relative_to(HERE).as_posix()})"
    block = f"{begin}\n{table}\n{link}\n{end}"
    head, rest = text.split(begin, 1)
    readme.write_text(head + block + rest.split(end, 1)[1])
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
