"""The benchmark suite at its tiny size: every workload runs through the runner, every tool that is
installed agrees with cotangent to 1e-8, and the table, JSON and plot are written. (JAX, PyTorch and
autograd come with the `bench` extra; without them their rows say "not installed".)"""
import json
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
AFFINITY_BEFORE_IMPORT = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
import run as bench_run  # noqa: E402

pytestmark = pytest.mark.slow


def test_importing_the_runner_leaves_the_process_on_every_core():
    """The runner pins itself to one core when run as a script; imported here, it must not pin the
    test process (every test this worker runs after it would then share a single core)."""
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    assert os.sched_getaffinity(0) == AFFINITY_BEFORE_IMPORT


@pytest.fixture(scope="module")
def tiny_rows(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    rows = bench_run.main(["--scale", "tiny", "--no-first-call", "--min-time", "0.01", "--out", str(out)])
    return rows, out


def test_every_workload_runs_and_every_tool_agrees(tiny_rows):
    rows, _ = tiny_rows
    assert {r.workload for r in rows} >= {"GMM", "D-LSTM", "MLP step", "while loop", "GMM scratch",
                                         "springs"}
    for r in rows:
        if r.error:
            assert not r.tool.startswith("cotangent") and r.error.startswith("not installed"), (r.tool, r.error)
            continue
        assert r.seconds > 0
        assert r.rel_diff is not None and r.rel_diff <= 1e-8, (r.workload, r.size, r.tool, r.rel_diff)
        if r.ref_diff is not None:
            assert r.ref_diff <= 1e-8, (r.workload, r.size, r.tool, r.ref_diff)
        if r.tool.startswith("cotangent") and r.objective_seconds:
            assert r.j_over_f > 0


def test_the_table_json_and_plot_are_written(tiny_rows):
    rows, out = tiny_rows
    table = (out / "results_tiny.md").read_text()
    assert "| workload | size | cotangent |" in table and "GMM" in table
    saved = json.loads((out / "results_tiny.json").read_text())
    assert len(saved) == len(rows)
    assert (out / "speedup_tiny.png").stat().st_size > 1000


def test_first_call_is_timed_in_a_fresh_process(tmp_path):
    seconds = bench_run.time_first_call("import cotangent", str(tmp_path), {})
    assert seconds is not None and seconds > 0


def test_the_index_checks_benchmark_times_three_settings(capsys):
    import index_checks
    index_checks.main(["--scale", "tiny", "--workloads", "springs", "--rounds", "1", "--min-total", "0.01"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| springs")]
    assert len(rows) == 1
    proofs_ms, every, none = (float(x) for x in rows[0].split("|")[4:7])
    assert proofs_ms > 0 and every > 0 and none > 0
    import cotangent as ct
    assert ct.config.boundscheck is True and ct.config.index_proofs is True     # settings restored
