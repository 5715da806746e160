"""Training checkpoints as plain ``.npz`` files, written atomically so a crash never costs the last one.

A checkpoint holds three namespaces of arrays, ``params/<name>``, ``optimizer/<key>`` and
``meta/<key>``, plus a format version and a SHA-256 over every array, all as ordinary NumPy arrays:
``np.load(path, allow_pickle=False)`` reads it, and nothing in it is pickled. A save writes a
temporary file beside the target, fsyncs it, and ``os.replace``-s it onto the target, so a save
killed at any moment (even by SIGKILL) leaves either the old checkpoint or the new one, never a torn
file. Temporary files left by killed saves are removed by the next save to the same path.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

__all__ = ["Checkpoint", "CheckpointError", "save_checkpoint", "load_checkpoint", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_VERSION_KEY = "__format_version__"
_CHECKSUM_KEY = "__checksum__"
_NAMESPACES = {"params": "params", "optimizer": "optimizer_state", "meta": "meta"}
_TMP_MARK = ".tmp-"

MetaValue = int | float | str | np.ndarray


class CheckpointError(Exception):
    """A checkpoint that cannot be used: missing, damaged, of another format, or not the model's shape."""


@dataclass
class Checkpoint:
    """What a checkpoint holds; ``meta`` gives 0-d entries back as Python scalars (int, float, str)."""

    params: dict[str, np.ndarray] = field(default_factory=dict)
    optimizer_state: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, MetaValue] = field(default_factory=dict)


def save_checkpoint(path: str | os.PathLike, params: Mapping[str, np.ndarray],
                    optimizer_state: Mapping[str, np.ndarray] | None = None,
                    meta: Mapping[str, MetaValue] | None = None) -> Path:
    """Write a checkpoint to ``path`` (used as given, no suffix added) atomically; returns the path."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    for prefix, group in (("params", params), ("optimizer", optimizer_state or {}), ("meta", meta or {})):
        for name, value in group.items():
            arrays[f"{prefix}/{_check_name(prefix, name)}"] = _storable(f"{prefix}/{name}", value)
    arrays[_VERSION_KEY] = np.array(FORMAT_VERSION, dtype=np.int64)
    arrays[_CHECKSUM_KEY] = np.array(_checksum(arrays))

    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = path.with_name(f"{path.name}{_TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(tmp, "xb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def load_checkpoint(path: str | os.PathLike, expect: Mapping[str, tuple] | None = None) -> Checkpoint:
    """Read a checkpoint, verify its version and checksum, and, given ``expect`` (parameter name to
    shape), check that it holds exactly those parameters with those shapes."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    arrays = _read_arrays(path)

    version = arrays.pop(_VERSION_KEY, None)
    stored_sum = arrays.pop(_CHECKSUM_KEY, None)
    if version is None or stored_sum is None:
        raise CheckpointError(f"{path} is an .npz file but not a cotangent checkpoint "
                              f"(it has no {_VERSION_KEY} or {_CHECKSUM_KEY})")
    if version.shape != () or version.dtype.kind not in "iu" or int(version) != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {version!r}; "
                              f"this cotangent reads version {FORMAT_VERSION}")
    arrays[_VERSION_KEY] = version
    if str(stored_sum) != _checksum(arrays):
        raise CheckpointError(f"{path} is damaged: its checksum does not match its contents")
    del arrays[_VERSION_KEY]

    ckpt = Checkpoint()
    for key, value in arrays.items():
        prefix, _, name = key.partition("/")
        if prefix not in _NAMESPACES or not name:
            raise CheckpointError(f"{path} holds an unknown entry {key!r}")
        getattr(ckpt, _NAMESPACES[prefix])[name] = value
    ckpt.meta = {k: (v.item() if v.ndim == 0 else v) for k, v in ckpt.meta.items()}
    if expect is not None:
        _check_expected(path, ckpt.params, expect)
    return ckpt


def _check_name(prefix: str, name: object) -> str:
    """Names become zip member names, so they must be non-empty strings."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"checkpoint {prefix} names must be non-empty strings, got {name!r}")
    return name


def _storable(key: str, value: object) -> np.ndarray:
    """The array to write; object arrays are refused because only pickle could store them."""
    array = np.asarray(value)
    if array.dtype.hasobject:
        raise TypeError(f"checkpoint entry {key!r} has dtype object, which cannot be saved without pickle; "
                        "store numbers, booleans or strings")
    return array


def _checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over every entry's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for key in sorted(k for k in arrays if k != _CHECKSUM_KEY):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array in the file; anything a torn or foreign file raises becomes one CheckpointError."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{path} is a single .npy array, not a checkpoint")
        with loaded as npz:
            return {key: npz[key] for key in npz.files}
    except CheckpointError:
        raise
    except Exception as e:  # zipfile, zlib, header parsing and I/O all raise their own types
        raise CheckpointError(f"{path} is damaged or not a checkpoint: {type(e).__name__}: {e}") from e


def _check_expected(path: Path, params: Mapping[str, np.ndarray], expect: Mapping[str, tuple]) -> None:
    """Name every missing, extra and misshapen parameter at once, so one run shows all that is wrong."""
    problems = [f"parameter {name!r} is missing" for name in expect if name not in params]
    problems += [f"parameter {name!r} is not expected" for name in params if name not in expect]
    problems += [f"parameter {name!r}: expected shape {tuple(shape)}, found {params[name].shape}"
                 for name, shape in expect.items()
                 if name in params and params[name].shape != tuple(shape)]
    if problems:
        raise CheckpointError(f"{path} does not fit the model:\n  " + "\n  ".join(problems))


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporaries that killed saves left beside ``path``; a live process's are left alone."""
    mark = f"{path.name}{_TMP_MARK}"
    for tmp in path.parent.iterdir():  # not glob: the name may hold glob characters such as "["
        pid = tmp.name[len(mark):].partition("-")[0] if tmp.name.startswith(mark) else ""
        if pid.isdigit() and not _process_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    """Whether ``pid`` runs; where that cannot be asked safely (Windows), assume it does."""
    if pid == os.getpid():
        return True  # another thread of this process may be saving
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself; not every platform can open a directory, and then there is nothing to do."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
