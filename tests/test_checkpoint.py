"""Checkpoints: round trips without pickle, a clear CheckpointError for every way a file can be wrong,
and saves that a SIGKILL at any moment cannot tear."""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cotangent.runtime import checkpoint as ckpt_mod
from cotangent.runtime.checkpoint import (FORMAT_VERSION, Checkpoint, CheckpointError, load_checkpoint,
                                          save_checkpoint)

WRITER = Path(__file__).with_name("checkpoint_writer.py")


def _params():
    return {"dense/W": np.arange(12.0).reshape(3, 4), "dense/b": np.zeros(4), "scale": np.float64(2.5)}


def _saved(tmp_path, **kwargs) -> Path:
    return save_checkpoint(tmp_path / "model.npz", _params(), **kwargs)


def _rewrite(path: Path, change) -> None:
    """Rewrite a checkpoint's raw arrays through ``change`` without fixing its checksum."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _temporaries(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".tmp-*"))


# ---------------------------------------------------------------- round trip


def test_round_trip_params_optimizer_state_and_meta(tmp_path):
    opt = {"m/dense/W": np.ones((3, 4)), "step": np.array(7), "lr": np.array(0.01),
           "name": np.array("adam"), "flags": np.array([True, False])}
    meta = {"epoch": 3, "loss": 0.125, "model": "mlp", "history": np.array([1.0, 0.5, 0.25])}
    path = save_checkpoint(tmp_path / "model.npz", _params(), opt, meta)
    assert path == tmp_path / "model.npz"

    loaded = load_checkpoint(path)
    assert isinstance(loaded, Checkpoint)
    assert loaded.params.keys() == _params().keys()
    for name, value in _params().items():
        np.testing.assert_array_equal(loaded.params[name], value)
        assert loaded.params[name].dtype == np.asarray(value).dtype
    assert loaded.optimizer_state.keys() == opt.keys()
    for key, value in opt.items():
        np.testing.assert_array_equal(loaded.optimizer_state[key], value)
        assert loaded.optimizer_state[key].shape == value.shape
    assert loaded.optimizer_state["step"].ndim == 0
    assert loaded.optimizer_state["name"].dtype.kind == "U" and str(loaded.optimizer_state["name"]) == "adam"
    assert loaded.meta["epoch"] == 3 and type(loaded.meta["epoch"]) is int
    assert loaded.meta["loss"] == 0.125 and type(loaded.meta["loss"]) is float
    assert loaded.meta["model"] == "mlp" and type(loaded.meta["model"]) is str
    np.testing.assert_array_equal(loaded.meta["history"], meta["history"])


def test_optional_groups_default_to_empty(tmp_path):
    loaded = load_checkpoint(_saved(tmp_path))
    assert loaded.optimizer_state == {} and loaded.meta == {}


def test_file_is_plain_npz_without_pickle(tmp_path):
    path = _saved(tmp_path, optimizer_state={"step": np.array(1)}, meta={"tag": "x"})
    with np.load(path, allow_pickle=False) as npz:
        assert set(npz.files) == {"params/dense/W", "params/dense/b", "params/scale", "optimizer/step",
                                  "meta/tag", "__format_version__", "__checksum__"}
        assert int(npz["__format_version__"]) == FORMAT_VERSION
        assert all(npz[k].dtype != object for k in npz.files)


def test_save_overwrites_and_accepts_str_paths(tmp_path):
    path = str(tmp_path / "sub" / "model.npz")  # the folder is created
    save_checkpoint(path, {"w": np.zeros(2)})
    save_checkpoint(path, {"w": np.ones(2)})
    np.testing.assert_array_equal(load_checkpoint(path).params["w"], np.ones(2))
    assert _temporaries(Path(path)) == []


def test_save_refuses_what_only_pickle_could_store(tmp_path):
    with pytest.raises(TypeError, match="meta/obj.*pickle"):
        save_checkpoint(tmp_path / "c.npz", {"w": np.zeros(1)}, meta={"obj": {"a": 1}})
    with pytest.raises(ValueError, match="non-empty strings"):
        save_checkpoint(tmp_path / "c.npz", {"": np.zeros(1)})
    assert not (tmp_path / "c.npz").exists()


def test_failed_save_keeps_old_checkpoint_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = _saved(tmp_path)

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"w": np.zeros(3)})
    monkeypatch.undo()
    assert _temporaries(path) == []
    assert load_checkpoint(path).params.keys() == _params().keys()


def test_next_save_removes_temporaries_of_dead_writers_only(tmp_path):
    path = _saved(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_tmp = path.with_name(f"{path.name}.tmp-{int(dead.stdout)}-deadbeef")
    own_tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-0ddba11")  # maybe another thread's save
    dead_tmp.write_bytes(b"PK\x03\x04 torn")
    own_tmp.write_bytes(b"PK\x03\x04 in progress")
    save_checkpoint(path, _params())
    assert _temporaries(path) == [own_tmp]


# ---------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at .*nothing.npz"):
        load_checkpoint(tmp_path / "nothing.npz")


@pytest.mark.parametrize("keep", [0, 10, 0.5, -1])
def test_truncated_file(tmp_path, keep):
    path = _saved(tmp_path)
    data = path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else (keep if keep >= 0 else len(data) + keep)
    path.write_bytes(data[:n])
    with pytest.raises(CheckpointError, match="damaged or not a checkpoint") as info:
        load_checkpoint(path)
    assert info.value.__cause__ is not None  # the original error is chained, not shown bare


def test_not_a_zip(tmp_path):
    path = tmp_path / "model.npz"
    path.write_text("this is a text file\n")
    with pytest.raises(CheckpointError, match="damaged or not a checkpoint"):
        load_checkpoint(path)


def test_flipped_bytes_in_array_data(tmp_path):
    path = save_checkpoint(tmp_path / "model.npz", {"w": np.arange(1000.0)})
    data = bytearray(path.read_bytes())
    start = data.index(np.arange(1000.0).tobytes()[:64])
    for i in range(start + 100, start + 110):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(path)


def test_checksum_mismatch_in_a_well_formed_zip(tmp_path):
    path = _saved(tmp_path)
    _rewrite(path, lambda a: a["params/dense/b"].__setitem__(0, 1.0))
    with pytest.raises(CheckpointError, match="checksum does not match"):
        load_checkpoint(path)


def test_wrong_format_version(tmp_path):
    path = _saved(tmp_path)
    _rewrite(path, lambda a: a.__setitem__("__format_version__", np.array(FORMAT_VERSION + 1)))
    with pytest.raises(CheckpointError, match=f"version.*{FORMAT_VERSION + 1}.*reads version {FORMAT_VERSION}"):
        load_checkpoint(path)


def test_npz_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, w=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a cotangent checkpoint"):
        load_checkpoint(path)


def test_single_npy_array(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(CheckpointError, match="single .npy array"):
        load_checkpoint(path)


def test_expect_matches(tmp_path):
    loaded = load_checkpoint(_saved(tmp_path), expect={"dense/W": (3, 4), "dense/b": [4], "scale": ()})
    assert loaded.params["dense/W"].shape == (3, 4)


def test_expect_missing_parameter(tmp_path):
    with pytest.raises(CheckpointError, match="parameter 'dense2/W' is missing"):
        load_checkpoint(_saved(tmp_path), expect={"dense/W": (3, 4), "dense/b": (4,), "scale": (),
                                                  "dense2/W": (4, 1)})


def test_expect_extra_parameter(tmp_path):
    with pytest.raises(CheckpointError, match="parameter 'scale' is not expected"):
        load_checkpoint(_saved(tmp_path), expect={"dense/W": (3, 4), "dense/b": (4,)})


def test_expect_shape_mismatch_names_parameter_and_both_shapes(tmp_path):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(_saved(tmp_path), expect={"dense/W": (4, 3), "dense/b": (4,), "scale": ()})
    assert "parameter 'dense/W': expected shape (4, 3), found (3, 4)" in str(info.value)


def test_expect_reports_every_problem_at_once(tmp_path):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(_saved(tmp_path), expect={"dense/W": (3, 5), "other": (1,)})
    message = str(info.value)
    assert "'dense/W': expected shape (3, 5), found (3, 4)" in message
    assert "'other' is missing" in message
    assert "'dense/b' is not expected" in message and "'scale' is not expected" in message


# ---------------------------------------------------------------- SIGKILL mid-save

@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_save_never_tears_the_checkpoint(tmp_path):
    """Writers saving 40 MB checkpoints in a loop are killed at random moments; each time the file
    on disk must load and be one whole save: the last one the writer reported, or the one after.
    About two kills in three land while a temporary file is open; rounds go on (up to 15) until one
    has, so the test cannot pass without interrupting a write."""
    path, rng, index = tmp_path / "model.npz", random.Random(1234), 0
    size, rounds, interrupted = 5_000_000, 0, 0
    while rounds < 6 or (interrupted == 0 and rounds < 15):
        rounds += 1
        writer = subprocess.Popen([sys.executable, str(WRITER), str(path), str(index), str(size)],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout.readline().strip() == str(index), "the writer's first save failed"
            time.sleep(rng.uniform(0.0, 0.4))
        finally:
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait()
        done = [int(line) for line in writer.stdout.read().split()]
        writer.stdout.close()
        last_reported = done[-1] if done else index
        interrupted += bool(_temporaries(path))

        loaded = load_checkpoint(path, expect={"w": (size,), "b": (3,)})
        saved_index = loaded.meta["index"]
        assert saved_index in (last_reported, last_reported + 1)
        assert np.all(loaded.params["w"] == saved_index)
        np.testing.assert_array_equal(loaded.params["b"], np.arange(3.0) + saved_index)
        assert int(loaded.optimizer_state["step"]) == saved_index
        index = saved_index + 1
        assert len(_temporaries(path)) <= 1  # each writer's first save removed the last one's
    assert interrupted > 0, "no kill landed inside a save; the test proved nothing"
    save_checkpoint(path, {"w": np.zeros(1)})
    assert _temporaries(path) == []
