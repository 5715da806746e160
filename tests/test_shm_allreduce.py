"""The shared-memory all-reduce on its own (no Ray): processes on one machine get the same sum,
bit for bit, step after step, and a worker waiting for a peer that died is told so."""
import multiprocessing as mp
import os
import signal
import time

import numpy as np
import pytest

from cotangent.runtime import shm_allreduce as shm

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
STEPS, SIZE = 50, 1001


def _buffer(rank: int, step: int) -> np.ndarray:
    return np.random.default_rng([rank, step]).normal(size=SIZE) * 10.0 ** rank


def _worker(directory, rank, world, pids, out):
    reducer = shm.SharedMemoryAllReduce(directory, rank, world, pids)
    sums = np.empty((STEPS, SIZE))
    for step in range(STEPS):
        buf = _buffer(rank, step)
        if rank == 1 and step % 7 == 0:
            time.sleep(0.01)              # a slow worker: the others must wait for it
        reducer.allreduce(buf)
        sums[step] = buf
    reducer.close()
    np.save(out / f"sums{rank}.npy", sums)


@pytest.mark.parametrize("world", [2, 3])
def test_every_worker_gets_the_sum_in_rank_order(tmp_path, world):
    directory = tmp_path / "group"
    shm.create(directory, world, SIZE)
    ctx = mp.get_context("spawn")
    barrier_pids = ctx.Manager().list([0] * world)
    procs = []
    for rank in range(world):
        p = ctx.Process(target=_start, args=(directory, rank, world, barrier_pids, tmp_path))
        p.start()
        procs.append(p)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    expected = np.array([[sum(_buffer(r, s) for r in range(world))] for s in range(STEPS)])[:, 0]
    results = [np.load(tmp_path / f"sums{r}.npy") for r in range(world)]
    for r in range(world):
        assert np.array_equal(results[r], results[0])            # bit for bit on every worker
    np.testing.assert_allclose(results[0], expected, rtol=1e-14, atol=1e-12)
    shm.remove(directory)
    assert not directory.exists()


def _start(directory, rank, world, shared_pids, out):
    shared_pids[rank] = os.getpid()
    while 0 in list(shared_pids):       # every pid known before the first step
        time.sleep(0.01)
    _worker(directory, rank, world, list(shared_pids), out)


def test_a_peer_that_dies_is_reported_not_waited_for(tmp_path, monkeypatch):
    monkeypatch.setattr(shm, "POLL_SECONDS", 0.05)
    directory = tmp_path / "group"
    shm.create(directory, 2, 8)
    peer = mp.get_context("spawn").Process(target=time.sleep, args=(60,))
    peer.start()
    reducer = shm.SharedMemoryAllReduce(directory, 0, 2, [os.getpid(), peer.pid])
    os.kill(peer.pid, signal.SIGKILL)
    start = time.perf_counter()
    with pytest.raises(shm.PeerLost, match="died"):
        reducer.allreduce(np.ones(8))
    assert time.perf_counter() - start < 5
    reducer.close()
    peer.join()
