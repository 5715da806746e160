"""Writing generated modules to the cache directory and importing them, safely.

The file name is a hash of the generated source, which already encodes the function's source,
its signature, the transformation and the compiler version (in the header). Numba's cache=True
stores machine code beside the file, so a second process that generates the same source loads
compiled code instead of compiling.

What can go wrong with a directory on disk, and what happens then (docs/guide/targets-and-cache.md):

* The directory is made private (mode 0700), with its `index` and `__pycache__` folders. One that
  other users can write into (group- or other-writable, or owned by another user) is refused:
  Numba's cache index is a pickle, and loading it would run their code.
* A directory that is refused, read-only or full is not used for the rest of the process: modules
  are compiled in memory (their source registered with linecache, so tracebacks, `inspect` and
  `ct.source` work, and Numba's cache=True turned off so nothing is written).
* Every file read back is checked before it is used: a generated module must hash to its own file
  name, an index entry carries a checksum, and Numba's machine-code files (.nbc) carry a SHA-256 of
  their contents and of the signature they were compiled for. A file that fails is compiled again
  (and rewritten). Modules are compiled from the verified source text, never from a .pyc.
* Several processes can fill one directory at once: every file is written to a temporary name and
  renamed into place, and a machine-code file is named by its signature, so two processes never
  write different code under one name.

Each problem is reported once per process, directory and cause, as a `CacheWarning`."""
from __future__ import annotations

import errno
import hashlib
import linecache
import os
import pickle
import re
import sys
import tempfile
import threading
import types
import warnings
from contextlib import contextmanager, suppress
from pathlib import Path

from ..config import config


class CacheWarning(UserWarning):
    """The cache directory, or a file in it, could not be used; the code is compiled again or in memory."""


_LOADED: dict = {}
_PROBLEMS: dict = {}        # cache directory -> why it is not used (None: it is), for the rest of the process
_WARNED: set = set()        # (directory, cause) already reported
_LOCK = threading.Lock()
_PACKAGE = str(Path(__file__).resolve().parents[1])
_MODULE_NAME = re.compile(r"[A-Za-z_]\w*_[0-9a-f]{20}\.py")


# --- problems ---------------------------------------------------------------------------------

def _stacklevel() -> int:
    """The stack level of the first frame outside cotangent and Numba: the user's call."""
    frame, level = sys._getframe(2), 2
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith((_PACKAGE, "<cotangent")) or f"{os.sep}numba{os.sep}" in name):
            return level
        frame, level = frame.f_back, level + 1
    return 2


def _warn(directory, cause: str, message: str) -> None:
    key = (str(directory), cause)
    with _LOCK:
        if key in _WARNED:
            return
        _WARNED.add(key)
    warnings.warn(f"cotangent cache {directory}: {message}", CacheWarning, stacklevel=_stacklevel())


def _cause(e: OSError) -> tuple[str, str]:
    """(short cause, description) of a failed write."""
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "full", "the disk is full"
    if e.errno == errno.EROFS:
        return "read-only", "it is on a read-only file system"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "not-writable", "it is not writable"
    return "write-failed", f"writing failed ({e.strerror or e})"


def _stop_using(directory: Path, e: Exception) -> None:
    """A write failed: warn, and compile in memory from now on."""
    cause, what = _cause(e) if isinstance(e, OSError) else ("write-failed", f"writing failed ({e})")
    with _LOCK:
        _PROBLEMS[str(directory)] = what
    _warn(directory, cause, f"{what}; compiling in memory instead for the rest of this process ({e})")


def _cache_dir() -> Path:
    return Path(os.path.abspath(os.fspath(config.cache_dir)))


def cache_problem(directory=None) -> str | None:
    """Why the cache directory cannot be used (None when it can), checked once per process."""
    directory = _cache_dir() if directory is None else Path(os.path.abspath(os.fspath(directory)))
    key = str(directory)
    if key in _PROBLEMS:
        return _PROBLEMS[key]
    cause, problem = _check_directory(directory)
    with _LOCK:
        _PROBLEMS.setdefault(key, problem)
        problem = _PROBLEMS[key]
    if problem is not None:
        _warn(directory, cause, f"{problem}; compiling in memory instead (nothing is written there)")
    return problem


def _check_directory(directory: Path) -> tuple[str, str | None]:
    """(cause, problem) of the directory: made if missing (mode 0700), with its index and
    __pycache__ folders; refused if someone else could write into it; probed for writing."""
    for folder in (directory, directory / "index", directory / "__pycache__"):
        try:
            if not folder.exists():
                folder.parent.mkdir(parents=True, exist_ok=True)
                with suppress(FileExistsError):
                    os.mkdir(folder, 0o700)
                    os.chmod(folder, 0o700)
            st = folder.stat()
        except OSError as e:
            cause, what = _cause(e)
            return cause, f"cannot create {folder}: {what} ({e.strerror or e})"
        if not os.path.isdir(folder):
            return "not-a-directory", f"{folder} is not a directory"
        insecure = _insecure(folder, st)
        if insecure:
            return "insecure", (f"refusing to use it: {insecure}, and loading Numba's cache (a pickle) "
                                f"from it would run their code; run `chmod go-w {folder}` if it is yours")
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".probe", suffix=".tmp")
        try:
            os.write(fd, b"cotangent")
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        cause, what = _cause(e)
        return cause, what
    return "", None


def _insecure(folder: Path, st) -> str | None:
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        try:
            import pwd
            owner = pwd.getpwuid(st.st_uid).pw_name
        except (ImportError, KeyError):
            owner = f"uid {st.st_uid}"
        return f"{folder} is owned by another user ({owner})"
    if os.name == "posix" and st.st_mode & 0o022:
        who = " and ".join(w for w, bit in (("its group", 0o020), ("other users", 0o002)) if st.st_mode & bit)
        return f"{folder} is writable by {who} (mode {st.st_mode & 0o777:o})"
    return None


# --- the index: fingerprint -> generated modules --------------------------------------------------

def _entry_text(name: str, py_file: str, file: str) -> str:
    body = f"{name}\n{py_file}\n{file}\n"
    return body + hashlib.sha256(body.encode()).hexdigest() + "\n"


def _verified(path: Path) -> bool | None:
    """Whether a module file holds the source its name is the hash of (None: it is missing)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return False
    return path.stem.endswith("_" + hashlib.sha256(data).hexdigest()[:20])


def index_lookup(fingerprint: str):
    """The generated modules recorded for a fingerprint: (function name, python path, path), or
    None. The entry's checksum and both modules' contents are verified first."""
    if cache_problem() is not None:
        return None
    directory = _cache_dir()
    entry = directory / "index" / f"{fingerprint}.txt"
    try:
        text = entry.read_bytes().decode()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        text = f"unreadable: {e}"
    lines = text.split("\n")
    if len(lines) != 5 or _entry_text(*lines[:3]) != text or not all(_MODULE_NAME.fullmatch(n) for n in lines[1:3]):
        _warn(directory, "corrupt", f"the index entry {entry.name} is damaged; generating the code again")
        with suppress(OSError):
            entry.unlink()
        return None
    name, py_file, file = lines[:3]
    py_path, path = directory / py_file, directory / file
    for p in {py_path, path}:
        ok = _verified(p)
        if ok is None:
            return None
        if not ok:
            _warn(directory, "corrupt", f"the generated module {p.name} is damaged; generating it again")
            return None
    return name, str(py_path), str(path)


def index_store(fingerprint: str, name: str, py_path: str, path: str) -> None:
    """Record the modules of a fingerprint (those loaded from the cache directory; nothing for
    modules compiled in memory)."""
    directory = _cache_dir()
    if cache_problem() is not None or any(Path(p).parent != directory for p in (py_path, path)):
        return
    _write_in_cache(directory, directory / "index" / f"{fingerprint}.txt",
                    _entry_text(name, Path(py_path).name, Path(path).name).encode())


# --- modules --------------------------------------------------------------------------------------

def module_path(source: str, name: str) -> Path:
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    return _cache_dir() / f"{name}_{digest}.py"


def _write_in_cache(directory: Path, path: Path, data: bytes) -> bool:
    """Write a file of the cache directory; False (and in memory from now on) when that fails. A
    directory deleted while the process runs is made again."""
    for again in (True, False):
        try:
            _write_atomic(path, data)
            return True
        except FileNotFoundError as e:
            if again:
                with _LOCK:
                    _PROBLEMS.pop(str(directory), None)
                if cache_problem(directory) is None:
                    continue
            _stop_using(directory, e)
        except OSError as e:
            _stop_using(directory, e)
        return False
    return False


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def load(source: str, name: str):
    """Import `source` as a module: from the cache directory (written once, atomically) when it
    can be used, else in memory."""
    path = module_path(source, name)
    key = str(path)
    if key in _LOADED:
        return _LOADED[key]
    directory = path.parent
    in_memory = cache_problem(directory) is not None
    if not in_memory:
        data = source.encode()
        try:
            current = path.read_bytes()
        except OSError:
            current = None
        if current != data:
            if current is not None:
                _warn(directory, "corrupt", f"the generated module {path.name} was damaged; writing it again")
            in_memory = not _write_in_cache(directory, path, data)
    modname = f"cotangent_generated.{path.stem}"
    if in_memory:
        module = _exec_module(_without_numba_cache(source), f"<cotangent in memory>/{path.name}", modname)
    else:
        module = _exec_module(source, str(path), modname)
        _guard_numba_caches(module, directory)
    _LOADED[key] = module
    _BY_STEM[path.stem] = module
    return module


_BY_STEM: dict = {}      # module file stem -> module, for linked()


class LinkError(ImportError):
    """A generated module calls a unit whose module is missing or damaged."""


def linked(stem: str, name: str):
    """Function `name` of the generated module `stem` (its file name without .py), for a module
    that calls a separately compiled unit. The module is the one loaded in this process, or read
    from the cache directory and checked against the hash in its name (modules are named by their
    content, so a caller names exactly the code it was generated with)."""
    module = _BY_STEM.get(stem)
    if module is None:
        path = _cache_dir() / f"{stem}.py"
        if not _MODULE_NAME.fullmatch(path.name) or not _verified(path):
            raise LinkError(f"the generated module {path.name} is missing or damaged")
        source = path.read_text()
        module = load(source, stem.rsplit("_", 1)[0])
    return getattr(module, name)


class _SourceLoader:
    """The module's `__loader__`: linecache asks it for the source again after a clearcache()."""

    def __init__(self, source: str):
        self.source = source

    def get_source(self, name):
        return self.source


def _exec_module(source: str, filename: str, modname: str):
    """A module made by compiling the source text itself (verified, never a .pyc), its lines in
    linecache so that tracebacks, inspect and the frontend read exactly what runs."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(modname)
    module.__file__ = filename
    module.__loader__ = _SourceLoader(source)
    sys.modules[modname] = module
    exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)
    return module


_CACHE_TRUE = re.compile(r"^(\s*@[\w.]*jit\b.*?\bcache\s*=\s*)True\b", re.MULTILINE)


def _without_numba_cache(source: str) -> str:
    """The source with Numba's disk cache off (cache=False), line for line."""
    return _CACHE_TRUE.sub(r"\1False", source)


# --- Numba's machine-code cache -----------------------------------------------------------------

def _guard_numba_caches(module, directory: Path) -> None:
    """Numba's cache of every compiled function of the module: its files checksummed, a damaged
    one compiled again, a failed write a warning (and later modules compiled in memory)."""
    if "numba" not in sys.modules:
        return
    from numba.core.caching import FunctionCache, IndexDataCacheFile
    for value in list(vars(module).values()):
        cache = getattr(value, "_cache", None)
        if type(cache) is FunctionCache and type(getattr(cache, "_cache_file", None)) is IndexDataCacheFile:
            guarded, checked = _numba_classes()
            cache.__class__, cache._cache_file.__class__ = guarded, checked
            cache._cotangent_dir = directory


_CLASSES = None
_MAGIC = b"cotangent-nbc-1\n"


class _DamagedCache(Exception):
    """(file name, what is wrong with it)"""


def _numba_classes():
    """(guarded FunctionCache, checksummed IndexDataCacheFile), made on first use (Numba is
    imported only by modules that use it)."""
    global _CLASSES
    if _CLASSES is not None:
        return _CLASSES
    from numba.core.caching import FunctionCache, IndexDataCacheFile

    class GuardedCache(FunctionCache):
        def load_overload(self, sig, target_context):
            try:
                return super().load_overload(sig, target_context)
            except Exception as e:  # noqa: BLE001 - any damage: compile again
                if not isinstance(e, _DamagedCache):      # the index: start a new one
                    e = _DamagedCache(os.path.basename(self._cache_file._index_path), str(e))
                    with suppress(OSError):
                        os.unlink(self._cache_file._index_path)
                name, detail = e.args
                _warn(self._cache_path, "corrupt", f"Numba's cache file {name} is damaged ({detail}); "
                                                   f"compiling {self._py_func.__qualname__} again")
                return None

        def save_overload(self, sig, data):
            try:
                super().save_overload(sig, data)
            except Exception as e:  # noqa: BLE001 - the compiled code runs anyway
                self.disable()
                _stop_using(getattr(self, "_cotangent_dir", Path(self._cache_path)), e)

    class CheckedCacheFile(IndexDataCacheFile):
        """Numba's index and data files, each data file named by the hash of its signature key and
        prefixed by SHA-256 digests of the key and of its contents."""

        def _key_digest(self, key) -> bytes:
            return hashlib.sha256(repr(key).encode()).digest()

        def _load_index(self):
            try:
                overloads = super()._load_index()
            except Exception as e:  # noqa: BLE001 - a damaged index
                raise ValueError(f"{type(e).__name__}: {e}") from None
            if not isinstance(overloads, dict):
                raise ValueError("not an index")
            return overloads

        def save(self, key, data):
            try:
                overloads = self._load_index()
            except ValueError:
                overloads = {}
            kd = self._key_digest(key)
            data_name = f"{self._index_name[:-len('.nbi')]}.{kd.hex()[:16]}.nbc"
            if overloads.get(key) != data_name:
                overloads[key] = data_name
                self._save_index(overloads)
            payload = self._dump(data)
            with self._open_for_write(self._data_path(data_name)) as f:
                f.write(_MAGIC + kd + hashlib.sha256(payload).digest() + payload)

        def load(self, key):
            data_name = self._load_index().get(key)
            if data_name is None:
                return None
            path = self._data_path(data_name)
            try:
                with open(path, "rb") as f:
                    blob = f.read()
            except OSError:
                return None     # removed, or not yet written by the process that indexed it
            n = len(_MAGIC)
            payload = blob[n + 64:]
            if not blob.startswith(_MAGIC) or blob[n + 32:n + 64] != hashlib.sha256(payload).digest():
                raise _DamagedCache(data_name, "wrong checksum")
            if blob[n:n + 32] != self._key_digest(key):
                return None     # another signature's code (cannot happen with names from keys)
            return pickle.loads(payload)

    _CLASSES = (GuardedCache, CheckedCacheFile)
    return _CLASSES


def links_cacheable() -> bool:
    """Whether Numba can cache on disk a function that calls another compiled function. Not at
    NUMBA_OPT=0: without LLVM's optimizer the callee's Python-wrapper addresses stay in the
    linked module, and Numba refuses to cache code holding addresses (its "dynamic globals")."""
    return os.environ.get("NUMBA_OPT", "").strip() != "0"


@contextmanager
def numba_opt_level(level: int):
    """LLVM's optimization level for the Numba compiles made inside (a NUMBA_OPT set by the user wins).

    Numba reads its OPT setting each time it builds a pass manager, so it can be set per compile."""
    if "NUMBA_OPT" in os.environ:
        yield
        return
    from numba.core import config as numba_config
    old = numba_config.OPT
    numba_config.OPT = numba_config._OptLevel(level)
    try:
        yield
    finally:
        numba_config.OPT = old
