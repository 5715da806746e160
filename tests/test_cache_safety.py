"""The cache directory under faults and concurrency (compiler/backends/loader.py).

Every case must give the right gradient, with at most one CacheWarning per cause, and never a
crash, a hang or stale code: a directory other users can write into is refused (in-memory
compile), a read-only or full directory is left alone (in memory), damaged files (generated
modules, index entries, Numba's .nbi/.nbc) are compiled again, and processes filling one fresh
directory at once all succeed.

Read-only and full directories are real mounts (a read-only bind mount, a small tmpfs); the tests
that need them are skipped where mounting is not allowed (as root, chmod cannot make a directory
read-only)."""
from __future__ import annotations

import contextlib
import glob
import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import cotangent as ct
from cotangent.backends import loader

FUNCTION = textwrap.dedent("""
    import numpy as np


    def f(x, s):
        return np.sum(np.sin(x) * s) + s * s


    def h(x):
        return np.sum(np.cos(x) * x)
""")

X = np.linspace(0.0, 1.0, 5)
S = 0.5
DX, DS = np.cos(X) * S, float(np.sum(np.sin(X)) + 2 * S)


def fresh(tmp_path: Path, name: str = "f", module: str = "cachefn"):
    """A new function object of FUNCTION, defined in a file of its own (a new object: nothing is
    remembered for it in memory, so it goes through the index and the loader)."""
    path = tmp_path / f"{module}.py"
    if not path.exists():
        path.write_text(FUNCTION)
    spec = importlib.util.spec_from_file_location(module, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, name)


def gradient(tmp_path, target="cpu"):
    """(dx, ds, the compiled callable) of FUNCTION's f."""
    g = ct.grad(ct.differentiable(fresh(tmp_path), target=target), argnums=(0, 1))
    dx, ds = g(X, S)
    np.testing.assert_allclose(dx, DX, rtol=1e-12)
    assert abs(ds - DS) < 1e-12
    return g


@pytest.fixture
def cache_in(monkeypatch):
    """Point the cache at a directory for one test (and forget what was loaded from it)."""
    used = []

    def use(directory) -> Path:
        directory = Path(directory)
        monkeypatch.setattr(ct.config, "cache_dir", directory)
        used.append(str(directory.resolve()))
        return directory
    yield use
    for key in [k for k in loader._LOADED if any(k.startswith(d) for d in used)]:
        del loader._LOADED[key]


def forget(cache: Path) -> None:
    """Drop the modules loaded from this directory, as a new process would not have them."""
    for key in [k for k in loader._LOADED if k.startswith(str(cache.resolve()))]:
        del loader._LOADED[key]


def cache_warnings(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, loader.CacheWarning)]


def files(directory: Path) -> set:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def numba_cache_off(g) -> bool:
    """Whether the compiled function (and Numba's cache of it) lives in memory only."""
    run = g._cotangent.last.run
    return type(run._cache).__name__ == "NullCache" and run.py_func.__code__.co_filename.startswith("<cotangent")


# --- permissions ------------------------------------------------------------------------------------

def test_cache_directory_is_made_private(tmp_path, cache_in):
    cache = cache_in(tmp_path / "new" / "cache")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        gradient(tmp_path)
    assert not cache_warnings(record)
    for folder in (cache, cache / "index", cache / "__pycache__"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    assert list((cache / "__pycache__").glob("*.nbc")), "Numba's machine code is cached beside the module"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o770, 0o707])
def test_directory_others_can_write_is_refused(tmp_path, cache_in, mode):
    cache = cache_in(tmp_path / "shared")
    cache.mkdir()
    cache.chmod(mode)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        g = gradient(tmp_path)
        ct.grad(ct.differentiable(fresh(tmp_path, "h"), target="python"))(X)     # a second function
        src = ct.source(g)
    found = cache_warnings(record)
    assert len(found) == 1, found                       # once per process and cause, not per call
    who = "its group" if mode == 0o770 else "other users"
    assert str(cache) in found[0] and f"writable by {who}" in found[0] and "in memory" in found[0]
    assert files(cache) == set(), "nothing is written into a refused directory"
    assert "def f_grad(" in src and "cache=True" in src
    assert numba_cache_off(g)
    assert "def f_grad(" in inspect.getsource(g._cotangent.last.run.py_func)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_directory_owned_by_another_user_is_refused(tmp_path, cache_in):
    cache = cache_in(tmp_path / "theirs")
    cache.mkdir(mode=0o700)
    os.chown(cache, 65534, 65534)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        g = gradient(tmp_path, target="python")
    found = cache_warnings(record)
    assert len(found) == 1 and "owned by another user" in found[0], found
    assert files(cache) == set()
    assert "def f_grad(" in ct.source(g)


# --- read-only and full directories (real mounts) ---------------------------------------------------

def _run(*cmd) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


@contextlib.contextmanager
def mounted(*cmd_and_target):
    """Run `mount ... target`; skip the test where that is not allowed; unmount after."""
    target = cmd_and_target[-1]
    if shutil.which("mount") is None or not _run("mount", *cmd_and_target):
        pytest.skip("mounting is not allowed here")
    try:
        yield
    finally:
        for _ in range(20):
            if _run("umount", target):
                break
            time.sleep(0.1)


def test_read_only_directory_compiles_in_memory(tmp_path, cache_in):
    cache = cache_in(tmp_path / "ro")
    gradient(tmp_path)                       # a complete cache, then made read-only
    forget(cache)
    before = files(cache)
    with mounted("--bind", str(cache), str(cache)):
        if not _run("mount", "-o", "remount,bind,ro", str(cache)):
            pytest.skip("read-only remount is not allowed here")
        loader._PROBLEMS.pop(str(cache.resolve()), None)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            g = gradient(tmp_path)
            gradient(tmp_path, target="python")
        found = cache_warnings(record)
        assert len(found) == 1 and "read-only" in found[0] and str(cache) in found[0], found
        assert numba_cache_off(g)
        assert "def f_grad(" in ct.source(g)
        assert files(cache) == before
    loader._PROBLEMS.pop(str(cache.resolve()), None)


def test_full_directory_compiles_in_memory(tmp_path, cache_in):
    cache = cache_in(tmp_path / "full")
    cache.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(cache)):
        # room for the generated modules, not for Numba's machine code: the write fails at the
        # first call, after compiling
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            g = gradient(tmp_path)
            h = ct.grad(ct.differentiable(fresh(tmp_path, "h"), target="cpu"))
            np.testing.assert_allclose(h(X), np.cos(X) - X * np.sin(X))
        found = cache_warnings(record)
        assert len(found) == 1 and "disk is full" in found[0] and str(cache) in found[0], found
        assert not numba_cache_off(g) and numba_cache_off(h)    # h: compiled in memory after the failure
        assert not list(cache.rglob("*.tmp*")), "no temporary files are left behind"
    loader._PROBLEMS.pop(str(cache.resolve()), None)


def test_completely_full_directory_compiles_in_memory(tmp_path, cache_in):
    cache = cache_in(tmp_path / "full")
    cache.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs", str(cache)):
        with contextlib.suppress(OSError), open(cache / "filler", "wb", buffering=0) as filler:
            while True:
                filler.write(b"\0" * 4096)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            g = gradient(tmp_path)
        found = cache_warnings(record)
        assert len(found) == 1 and "disk is full" in found[0] and str(cache) in found[0], found
        assert numba_cache_off(g)
        assert files(cache) <= {"filler", "index", "__pycache__"}
    loader._PROBLEMS.pop(str(cache.resolve()), None)


# --- damaged files ---------------------------------------------------------------------------------

def _truncate(pattern, size):
    def damage(cache: Path):
        paths = glob.glob(str(cache / pattern))
        assert paths, pattern
        for p in paths:
            os.truncate(p, size)
    return damage


def _flip_middle_byte(cache: Path):
    for p in glob.glob(str(cache / "__pycache__" / "*.nbc")):
        data = bytearray(Path(p).read_bytes())
        data[len(data) // 2] ^= 0xFF
        Path(p).write_bytes(bytes(data))


def _edit_module(cache: Path):
    """A module whose text changed but still runs: a stale gradient if it were used."""
    for p in cache.glob("*.py"):
        p.write_text(p.read_text().replace("np.cos(", "np.sin("))


def _damage_index_entry(cache: Path):
    for p in (cache / "index").glob("*.txt"):
        p.write_text(p.read_text().replace(".py", ".pz", 1))


DAMAGE = {
    "module truncated": (_truncate("*.py", 40), "generated module"),
    "module edited": (_edit_module, "generated module"),
    "index entry": (_damage_index_entry, "index entry"),
    "index entry truncated": (_truncate("index/*.txt", 3), "index entry"),
    "numba index truncated": (_truncate("__pycache__/*.nbi", 20), ".nbi is damaged"),
    "numba code truncated": (_truncate("__pycache__/*.nbc", 1000), ".nbc is damaged"),
    "numba code bit flip": (_flip_middle_byte, ".nbc is damaged"),
    "numba code emptied": (_truncate("__pycache__/*.nbc", 0), ".nbc is damaged"),
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A complete cache of f's gradient on Numba (compiled once for all the damage tests)."""
    root = tmp_path_factory.mktemp("pristine")
    saved = ct.config.cache_dir
    ct.config.cache_dir = root / "cache"
    try:
        gradient(root)
    finally:
        ct.config.cache_dir = saved
    return root


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_cache_files_are_compiled_again(case, pristine, tmp_path, cache_in):
    damage, expected = DAMAGE[case]
    shutil.copy(pristine / "cachefn.py", tmp_path / "cachefn.py")
    shutil.copytree(pristine / "cache", tmp_path / "cache")
    cache = cache_in(tmp_path / "cache")
    damage(cache)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        gradient(tmp_path)            # the right gradient (checked inside), not a crash or stale code
    found = cache_warnings(record)
    assert len(found) == 1 and expected in found[0], found
    # and the cache is whole again: a new process (here: a new module object) loads it silently
    forget(cache)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        g = gradient(tmp_path)
    assert not cache_warnings(record)
    assert sum(g._cotangent.last.run.stats.cache_hits.values()) == 1


# --- concurrency -----------------------------------------------------------------------------------

WORKER = textwrap.dedent("""
    import json, os, sys, time, warnings
    warnings.simplefilter("always")
    import numpy as np
    import cotangent as ct
    sys.path.insert(0, sys.argv[1])
    import cachefn
    go = os.path.join(sys.argv[1], "go")
    open(os.path.join(sys.argv[1], f"ready{sys.argv[2]}"), "w").close()
    while not os.path.exists(go):
        time.sleep(0.005)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        g = ct.grad(cachefn.f, argnums=(0, 1))
        dx, ds = g(np.linspace(0.0, 1.0, 5), 0.5)
    hits = sum(g._cotangent.last.run.stats.cache_hits.values())
    print(json.dumps({"dx": dx.tolist(), "ds": ds, "warnings": [str(w.message) for w in record], "hits": hits}))
""")


def test_processes_filling_one_cache_at_once(tmp_path):
    workers = 4
    (tmp_path / "cachefn.py").write_text(FUNCTION)
    cache = tmp_path / "cache"
    env = dict(os.environ, COTANGENT_CACHE_DIR=str(cache))

    def start(k):
        return subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), str(k)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def result(p, out, err):
        assert p.returncode == 0, err
        r = json.loads(out.strip().splitlines()[-1])
        np.testing.assert_allclose(r["dx"], DX, rtol=1e-12)
        assert abs(r["ds"] - DS) < 1e-12
        assert not r["warnings"], r["warnings"]
        return r

    procs = [start(k) for k in range(workers)]
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("ready*"))) < workers and time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                break
            time.sleep(0.01)
        (tmp_path / "go").touch()                       # all compile at the same moment
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outs):
        result(p, out, err)
    # what they left is a whole cache: the next process loads it, silently (unless the compiler's
    # source changed meanwhile, as in a checkout being edited: then it generates new modules)
    modules = set(cache.glob("*.py"))
    last = start(workers)
    out, err = last.communicate(timeout=300)
    hits = result(last, out, err)["hits"]
    assert hits == 1 or set(cache.glob("*.py")) != modules
    assert not list(cache.rglob("*.tmp*"))


def test_in_memory_source_survives_a_linecache_clear(tmp_path, cache_in):
    import linecache
    cache = cache_in(tmp_path / "shared")
    cache.mkdir()
    cache.chmod(0o777)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", loader.CacheWarning)
        g = ct.grad(ct.differentiable(fresh(tmp_path, "h"), target="python"))
        g(X)
    linecache.clearcache()
    run = g._cotangent.last.run
    assert run.__code__.co_filename.startswith("<cotangent in memory>")
    assert "def h_grad(" in inspect.getsource(run)


def test_cache_directory_deleted_while_running(tmp_path, cache_in):
    """Deleting the cache is always safe, even while a process uses it: it is made again."""
    cache = cache_in(tmp_path / "deleted")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        gradient(tmp_path, target="python")
        shutil.rmtree(cache)
        g = ct.grad(ct.differentiable(fresh(tmp_path, "h"), target="python"))
        np.testing.assert_allclose(g(X), np.cos(X) - X * np.sin(X))
    assert not cache_warnings(record)
    assert (cache / "index").stat().st_mode & 0o777 == 0o700
    assert list(cache.glob("h_grad_*.py")) and list((cache / "index").glob("*.txt"))
