"""Compile times with separate compilation (compiler/units.py), and what they buy.

Every measurement of compiling runs in a fresh process, so nothing compiled earlier in the process
helps it:

* cold: an empty cache directory; from building the model to its first compiled training step
  (generating, Numba compiling every unit). With --per-unit, the Numba compile time of each unit
  (its own dispatcher's compile time; a caller's includes its callees' first compile).
* warm: the cache that the cold run left; from `import cotangent` to the end of the first
  training step (nothing is generated or compiled, everything is loaded).
* epoch: in the warm process, one epoch of training on the Numba target and on the Python target
  (the same generated source run by NumPy), best of three.
* sites: the gradient of a function that calls one helper at 1 site and at 8 sites, cold.

    python benchmarks/modular_compile.py                       # every model (about 10 minutes)
    python benchmarks/modular_compile.py --models cnn lstm --per-unit
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# model name -> (Python that builds `model` for a `target`, Python that makes `inputs, y`)
MODELS = {
    "mlp": ("from cotangent.models import mlp; model = mlp.iris_mlp(target=target)",
            "from cotangent.models import mlp; x, labels = mlp.load_iris(); y = np.eye(3)[labels]; inputs = x"),
    "cnn": ("from cotangent.models import cnn; model = cnn.lenet(target=target)",
            "from cotangent.models import cnn; x, labels = cnn.digit_images()[:2]; y = np.eye(10)[labels]; inputs = x"),
    "rnn": ("from cotangent.models import sequence; model = sequence.build_model('rnn', target=target)",
            "from cotangent.models import sequence; x, m, labels = sequence.palindrome_data(512); "
            "y = np.eye(2)[labels]; inputs = (x, m)"),
    "lstm": ("from cotangent.models import sequence; model = sequence.build_model('lstm', target=target)",
             "from cotangent.models import sequence; x, m, labels = sequence.palindrome_data(512); "
             "y = np.eye(2)[labels]; inputs = (x, m)"),
    "transformer": ("from cotangent.models import transformer; model = transformer.build_model(target=target)",
                    "from cotangent.models import transformer; x, y = transformer.sort_data(512); inputs = x"),
    "graph": ("from cotangent.models import graph; model = graph.build_model(target=target)",
              "from cotangent.models import graph; nodes, adj, mask, labels = graph.graph_data(512); "
              "inputs = (nodes, adj, mask); y = np.eye(2)[labels]"),
    "autoencoder": ("from cotangent.models import autoencoder; model = autoencoder.autoencoder(target=target)",
                    "from cotangent.models import autoencoder; x = autoencoder.digit_vectors()[0]; inputs, y = x, x"),
    "vae": ("from cotangent.models import autoencoder; model = autoencoder.vae(target=target).model",
            "from cotangent.models import autoencoder; x = autoencoder.digit_vectors()[0]; "
            "eps = np.random.default_rng(0).standard_normal((len(x), 8)); inputs, y = (x, eps), x"),
    "gan": ("from cotangent.models import gan; model = gan.gan(target=target).discriminator",
            "x = np.random.default_rng(0).standard_normal((512, 2)); y = (np.arange(512) % 2)[:, None] * 1.0; "
            "inputs = x"),
    "deepsets": ("from cotangent.models import deepsets; model = deepsets.build_model(target=target)",
                 "from cotangent.models import deepsets; x, m, y = deepsets.max_data(512); inputs = (x, m)"),
}

CHILD = """
import time
started = time.perf_counter()
import numpy as np
import cotangent as ct
import cotangent.runtime as rt
ct.config.cache_dir = {cache!r}
target = {target!r}
{data}
{build}
batch = 64
xb = tuple(a[:batch] for a in inputs) if isinstance(inputs, tuple) else inputs[:batch]
built = time.perf_counter()
model.loss_and_grad(xb, y[:batch])
first = time.perf_counter()
result = dict(import_to_first_step=first - started, first_step=first - built)
if {per_unit!r}:
    import sys
    units = []
    for name, mod in sorted(sys.modules.items()):
        if not name.startswith("cotangent_generated."):
            continue
        for attr, value in vars(mod).items():
            sigs = getattr(value, "signatures", None)
            if sigs and getattr(value, "py_func", None) is not None and value.py_func.__module__ == name:
                meta = value.get_metadata(sigs[0])
                seconds = meta.get("timers", {{}}).get("compiler_lock", float("nan"))
                units.append((attr, round(seconds, 2)))
    result["units"] = units
if {epochs!r}:
    n = (inputs[0] if isinstance(inputs, tuple) else inputs).shape[0]
    def epoch(m):
        for k in range(0, n - batch + 1, batch):
            xs = tuple(a[k:k + batch] for a in inputs) if isinstance(inputs, tuple) else inputs[k:k + batch]
            m.loss_and_grad(xs, y[k:k + batch])
    times = {{}}
    for t in ("cpu", "python"):
        target = t
        {build_inline}
        epoch(model)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            epoch(model)
            best = min(best, time.perf_counter() - t0)
        times[t] = best
    result["epoch"] = times
print("RESULT", __import__("json").dumps(result))
"""


def run_child(model: str, cache: str, epochs: bool = False, per_unit: bool = False) -> dict:
    build, data = MODELS[model]
    code = CHILD.format(cache=cache, target="cpu", build=build, data=data, per_unit=per_unit,
                        epochs=epochs, build_inline=build)
    out = _python(code)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{model}: {out.stderr[-2000:]}")


def _python(code: str):
    """Run a script in a fresh process (from a file: cotangent reads the functions' source)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "child.py"
        script.write_text(code)
        return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT,
                              env={k: v for k, v in os.environ.items() if k != "NUMBA_OPT"})


SITES = """
import time, numpy as np, cotangent as ct
ct.config.cache_dir = {cache!r}
def layer(h, W):
    return np.tanh(h @ W) * 0.5 + h
def f(x, W):
    h = x
{calls}
    return np.sum(h * h)
x, W = np.ones((4, 4)), np.eye(4) * 0.1
t0 = time.perf_counter()
ct.grad(f, argnums=1)(x, W)
print("RESULT", time.perf_counter() - t0)
"""


def sites(n: int, inline: bool = False) -> float:
    with tempfile.TemporaryDirectory() as cache:
        code = SITES.format(cache=cache, calls="\n".join("    h = layer(h, W)" for _ in range(n)))
        out = _python(code)
        for line in out.stdout.splitlines():
            if line.startswith("RESULT "):
                return float(line[7:])
        raise RuntimeError(out.stderr[-2000:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--per-unit", action="store_true", help="the Numba compile time of each unit")
    p.add_argument("--no-epochs", action="store_true", help="skip the epoch timings")
    args = p.parse_args()
    results = {}
    one, eight = sites(1), sites(8)
    print(f"helper at 1 site: {one:.1f} s cold, at 8 sites: {eight:.1f} s  (ratio {eight / one:.2f})", flush=True)
    results["sites"] = {"1": one, "8": eight}
    print(f"{'model':<12} {'cold s':>8} {'warm s':>8} {'epoch cpu':>10} {'epoch py':>10} {'py/cpu':>7}")
    for model in args.models:
        with tempfile.TemporaryDirectory() as cache:
            cold = run_child(model, cache, per_unit=args.per_unit)
            warm = run_child(model, cache, epochs=not args.no_epochs)
        results[model] = dict(cold=cold, warm=warm)
        ep = warm.get("epoch", {})
        cpu, pyt = ep.get("cpu", float("nan")), ep.get("python", float("nan"))
        print(f"{model:<12} {cold['first_step']:>8.1f} {warm['import_to_first_step']:>8.2f} {cpu:>10.3f} "
              f"{pyt:>10.3f} {pyt / cpu:>7.2f}", flush=True)
        if args.per_unit:
            for name, seconds in cold["units"]:
                print(f"    {name:<40} {seconds:>6.2f} s")
    out = ROOT / "benchmarks" / "results" / "modular_compile.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
