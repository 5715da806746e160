"""Synchronous data-parallel training on Ray: `rt.fit(model, x, y, optimizer, workers=N)`.

The process that calls `fit` (the driver) keeps everything a local `fit` keeps: the seeded random
generator, which draws the epoch's batch order and the dropout masks exactly as a local run does,
the history, early stopping, validation, the progress bar and the checkpoints. It starts N Ray
actors (the workers); each rebuilds the model from its generated source, loads the compiled
gradient from the disk cache the driver filled, and holds a replica of the parameters, the layer
state and the optimizer. Every global minibatch is cut into N contiguous shards (sizes differing
by at most one; a shard may be empty). Worker i computes the gradient of the mean loss over its
shard and scales it by its share of the batch, so the shards' gradients add up to the gradient of
the whole batch; the flat buffers (gradient, loss, correct count, batch statistics) are summed
across workers and every worker applies the same optimizer step to its replica, which stays
identical to the others.

When every worker runs on the driver's machine the sum goes through shared memory
(shm_allreduce.py). Across machines it is Ray's collective all-reduce (the Gloo backend, which needs
PyTorch) where it is available, else a tree reduce through Ray's object store: worker i adds worker i + s's buffer for
s = 1, 2, 4, ..., and worker 0 hands the total to all. Either way the workers' results equal one
process's up to rounding: 1e-10 after many epochs (with BatchNorm, whose batch statistics are a
shard's, they do not: see `fit`).

Faults: a worker that dies (its process killed, its machine lost) is replaced: the group is
started again and training resumes from the state the driver last took back from the workers at
the end of an epoch (what a checkpoint holds: it takes it after every epoch that validates, stops
early or saves a checkpoint, and otherwise at least every SNAPSHOT_SECONDS), replaying the epochs
since with the same batches and masks, so the run ends exactly as one that was never interrupted. An exception raised in a worker reaches the caller as that exception, carrying
the worker's traceback."""
from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import sys
import time
import uuid
import warnings
from collections import deque
from dataclasses import replace
from pathlib import Path

import numpy as np

from cotangent.distributed import (cluster_cpus, connect, main_sources, pickled, prepare_worker,
                                   register_sources, worker_setup)

from . import shm_allreduce
from .history import History
from .metrics import accuracy, prepare_targets
from .model import Model
from .optimizers import Newton
from .params import ParamBuffer
from .training import EarlyStopping, _as_inputs, _n_outputs, _progress_bar, _save, close_epoch, split

REDUCTIONS = ("auto", "shared_memory", "collective", "object_store")
BLOCK_SECONDS = 0.25        # a worker runs this long of steps per call: fewer round trips, a live progress bar
SNAPSHOT_SECONDS = 5.0      # the driver takes the workers' state back at least this often, to resume from
_BLOCK_HOOK = None          # tests: called as hook(group, epoch, steps done in the epoch) after each block


class WorkerRestartWarning(RuntimeWarning):
    """A worker was lost during training; the workers were started again and training resumed."""


class _PeerLost(RuntimeError):
    """Raised in a worker whose all-reduce failed because another worker went away."""


class _WorkerLost(Exception):
    """A worker's process went away (killed, or out of memory): the group is replaced."""


# --- the model, shipped as its generated source -------------------------------------------------

def _zeros(shape, rng=None):
    return np.zeros(shape)


def _model_recipe(model: Model) -> dict:
    """What a worker needs to rebuild `model`: its generated source, parameter layout, layer state
    and signature (the layers, for their state updates). Functions the source imports from
    __main__ (a FunctionModel written in a script or a notebook) travel by value, with their source."""
    main = sys.modules.get("__main__")
    names = re.findall(r"^from __main__ import (\w+)$", model.model_source, re.M)
    functions = {n: getattr(main, n) for n in names}
    return {"name": model.name, "source": model.model_source,
            "specs": [replace(s, init=_zeros) for s in model.params.specs],
            "state": {k: v.shape for k, v in model.state.items()}, "inputs": model.inputs,
            "sig": model._sig, "loss_name": model.loss_name, "target": model._loss.target,
            "main": functions, "sources": main_sources(functions.values())}


def _rebuild(recipe: dict) -> Model:
    register_sources(recipe["sources"])
    main = sys.modules["__main__"]
    for name, fn in recipe["main"].items():
        setattr(main, name, fn)
    params = ParamBuffer(recipe["specs"], 0)
    state = {k: np.zeros(shape) for k, shape in recipe["state"].items()}
    return Model(recipe["name"], recipe["source"], params, state, recipe["inputs"], recipe["sig"],
                 recipe["loss_name"], recipe["target"])


# --- a worker ------------------------------------------------------------------------------------

class _Worker:
    """One Ray actor: a model replica, its optimizer, the training data, and a flat buffer
    [gradient | loss | correct | batch statistics] that the group sums at every step."""

    def __init__(self, setup: dict, cpus: int, payload: bytes, rank: int, world: int, group: str,
                 inputs: tuple, targets: np.ndarray):
        prepare_worker(setup, cpus)
        from ray import cloudpickle
        self.model = _rebuild(cloudpickle.loads(payload))
        self.rank, self.world, self.group = rank, world, group
        self.inputs, self.targets = inputs, targets
        self.optimizer = None
        self.P = len(self.model.params)
        # one sample: compiles the gradient here or, usually, loads it from the cache; and gives
        # the sizes of the batch statistics in the buffer
        sig = self.model._sig
        noise = [np.ones((1,) + tuple(layer.input_shape)) for layer, _, _ in sig["noise"]]
        outputs, stats = self._gradient(np.arange(1), noise)[1:3]
        self.has_acc = accuracy(self.model.loss_name, outputs, targets[:1]) is not None
        self.stat_shapes = [np.shape(s) for s in stats]
        self.stat_spans, at = [], self.P + 2
        for s in stats:
            self.stat_spans.append((at, at + np.size(s)))
            at += np.size(s)
        self.buf = np.zeros(at)
        self.seconds = {"compute": 0.0, "reduce": 0.0, "apply": 0.0, "steps": 0}
        self.shared = None          # the shared-memory all-reduce, where the group uses it

    def ready(self) -> int:
        return os.getpid()

    def collective_available(self) -> bool:
        try:
            from ray.util import collective
            return bool(collective.gloo_available())
        except Exception:  # noqa: BLE001 - an older Ray, or PyTorch missing or broken
            return False

    def node(self) -> str:
        import ray
        return ray.get_runtime_context().get_node_id()

    def make_slots(self, group: str) -> None:
        """The shared-memory all-reduce's files (rank 0 makes them, before the others attach)."""
        shm_allreduce.create(shm_allreduce.shared_directory(group), self.world, self.buf.size)

    def attach(self, group: str, pids: list) -> None:
        self.shared = shm_allreduce.SharedMemoryAllReduce(shm_allreduce.shared_directory(group), self.rank,
                                                          self.world, pids)

    def join(self) -> bool:
        from ray.util import collective
        collective.init_collective_group(self.world, self.rank, backend="gloo", group_name=self.group)
        return True

    def close(self) -> None:
        """Leave the collective group (a peer killed inside it would abort this process) and exit."""
        if self.shared is not None:
            self.shared.close()
        elif self.world > 1:
            with contextlib.suppress(Exception):     # exiting anyway
                from ray.util import collective
                if collective.is_group_initialized(self.group):
                    collective.destroy_collective_group(self.group)
        import ray
        ray.actor.exit_actor()

    def load(self, snapshot: tuple) -> None:
        """Parameters, layer state and the pickled optimizer, from the driver."""
        from ray import cloudpickle
        params, state, optimizer = snapshot
        self.model.params.data[...] = params
        for k, v in state.items():
            self.model.state[k][...] = v
        self.optimizer = copy.deepcopy(cloudpickle.loads(optimizer))     # writable buffers

    def snapshot(self):
        """(parameters, layer state, optimizer): what the driver keeps after each epoch."""
        return self.model.params.data.copy(), {k: v.copy() for k, v in self.model.state.items()}, self.optimizer

    def timings(self) -> dict:
        return dict(self.seconds)

    # --- one step: compute, sum, apply ---
    def _gradient(self, idx, noise):
        m = self.model
        xb = tuple(np.ascontiguousarray(a[idx]) for a in self.inputs)
        yb = np.ascontiguousarray(self.targets[idx])
        states = [m.state[a] for a in m._sig["train_state"]]
        (loss, aux), grad = m._value_and_grad(m.params.data, *xb, yb, *states, *noise)
        aux = aux if isinstance(aux, tuple) else (aux,)
        return float(loss), aux[0], aux[1:], grad, yb

    def compute(self, step) -> None:
        """This worker's share of one step's buffer: its shard's gradient, loss, correct count and
        batch statistics, scaled by the shard's fraction of the batch (zeros for an empty shard)."""
        idx, weight, noise = step
        start = time.perf_counter()
        # arrays from the object store are read-only, which Numba compiles as another type
        noise = [z if z.flags.writeable else z.copy() for z in noise]
        buf, P = self.buf, self.P
        if len(idx) == 0:
            buf[:] = 0.0
        else:
            loss, outputs, stats, grad, yb = self._gradient(idx, noise)
            np.multiply(grad, weight, out=buf[:P])
            buf[P] = loss * weight
            acc = accuracy(self.model.loss_name, outputs, yb)
            buf[P + 1] = 0.0 if acc is None else acc * len(idx)
            for (a, b), s in zip(self.stat_spans, stats):
                buf[a:b] = np.ravel(s) * weight
        self.seconds["compute"] += time.perf_counter() - start

    def apply(self, epoch: int, total=None):
        """The optimizer step from the summed buffer (`total`, or this worker's own when it holds
        the sum); returns the batch's (loss, correct count)."""
        start = time.perf_counter()
        buf, P = self.buf, self.P
        if total is not None:
            buf[...] = total
        loss = float(buf[P])
        if not np.isfinite(loss):
            raise FloatingPointError(f"the loss became {loss} in epoch {epoch + 1}; "
                                     "lower the learning rate or clip gradients")
        self.optimizer.step(self.model.params.data, buf[:P])
        if self.stat_spans:
            per_layer: dict = {}
            for (layer, key, _), (a, b), shape in zip(self.model._sig["aux"], self.stat_spans, self.stat_shapes):
                per_layer.setdefault(layer, {})[key] = buf[a:b].reshape(shape).copy()
            for layer, batch_stats in per_layer.items():
                layer.update_state(self.model.state, batch_stats)
        self.seconds["apply"] += time.perf_counter() - start
        self.seconds["steps"] += 1
        return loss, float(buf[P + 1])

    # the collective all-reduce: a block of steps in one call
    def run_block(self, epoch: int, steps: list) -> np.ndarray:
        out = np.empty((len(steps), 2))
        for k, step in enumerate(steps):
            self.compute(step)
            if self.world > 1:
                start = time.perf_counter()
                self._allreduce()
                self.seconds["reduce"] += time.perf_counter() - start
            out[k] = self.apply(epoch)
        return out

    def _allreduce(self) -> None:
        if self.shared is not None:
            try:
                self.shared.allreduce(self.buf)
            except shm_allreduce.PeerLost as e:
                raise _PeerLost(str(e)) from None
            return
        from ray.util import collective
        try:
            collective.allreduce(self.buf, group_name=self.group)
        except Exception as e:  # noqa: BLE001 - a peer went away: the driver restarts the group
            raise _PeerLost(f"the all-reduce failed: {e}") from None

    # the tree reduce through the object store: the driver chains these per step
    def export(self) -> np.ndarray:
        return self.buf

    def absorb(self, other: np.ndarray) -> None:
        start = time.perf_counter()
        self.buf += other
        self.seconds["reduce"] += time.perf_counter() - start


# --- the group of workers, seen from the driver --------------------------------------------------

def _shard_spans(b: int, world: int) -> list[tuple[int, int]]:
    """`world` contiguous parts of a batch of b, the first b % world one longer (some may be empty)."""
    q, r = divmod(b, world)
    spans, start = [], 0
    for i in range(world):
        stop = start + q + (i < r)
        spans.append((start, stop))
        start = stop
    return spans


class _Group:
    """The workers of one training run: started, fed blocks of steps, stopped."""

    def __init__(self, ray, world: int, method: str, cpus: int, payload: bytes, data: tuple):
        self.ray, self.world, self.method, self.cpus = ray, world, method, cpus
        self.payload, self.data = payload, data
        self.actors: list = []
        self.pids: list[int] = []
        self.shared_group: str | None = None      # the shared-memory all-reduce's files, to remove
        self.sec_per_step: float | None = None
        self._remote = ray.remote(_Worker)

    def start(self, params: np.ndarray, state: dict, optimizer: bytes) -> None:
        ray = self.ray
        group = f"cotangent-{uuid.uuid4().hex[:12]}"
        setup = worker_setup()
        options = dict(num_cpus=self.cpus, max_restarts=0, max_task_retries=0, scheduling_strategy="SPREAD")
        self.actors = [self._remote.options(**options).remote(setup, self.cpus, self.payload, rank, self.world,
                                                              group, *self.data)
                       for rank in range(self.world)]
        self.pids = ray.get([a.ready.remote() for a in self.actors])      # errors here are the user's
        snapshot = ray.put((params, state, optimizer))      # one copy in the object store for all
        ray.get([a.load.remote(snapshot) for a in self.actors])
        if self.method in ("auto", "shared_memory"):
            here = ray.get_runtime_context().get_node_id()
            on_this_machine = all(n == here for n in ray.get([a.node.remote() for a in self.actors]))
            if on_this_machine:
                self.method, self.shared_group = "shared_memory", group
                ray.get(self.actors[0].make_slots.remote(group))
                ray.get([a.attach.remote(group, self.pids) for a in self.actors])
                return
            if self.method == "shared_memory":
                raise ValueError("allreduce='shared_memory' needs every worker on this machine; they run on "
                                 "several: pass allreduce='auto', 'collective' or 'object_store'")
        if self.method in ("auto", "collective"):      # decided where it runs: PyTorch on the workers
            if ray.get(self.actors[0].collective_available.remote()):
                self.method = "collective"
            elif self.method == "auto":
                self.method = "object_store"
            else:
                raise ImportError("Ray's collective all-reduce on CPUs uses PyTorch's Gloo backend, which the "
                                  "workers cannot import: pip install torch, or pass allreduce='object_store'")
        if self.method == "collective":
            ray.get([a.join.remote() for a in self.actors])

    def stop(self, graceful: bool = False) -> None:
        """Stop the workers: asked to leave the collective group and exit (after a run), or killed
        (after an error, or to replace a lost worker)."""
        if graceful and self.actors:
            self.ray.wait([a.close.remote() for a in self.actors], num_returns=len(self.actors), timeout=10)
        for a in self.actors:
            with contextlib.suppress(Exception):     # already gone
                self.ray.kill(a, no_restart=True)
        self.actors = []
        if self.shared_group is not None:
            shm_allreduce.remove(shm_allreduce.shared_directory(self.shared_group))
            self.shared_group = None

    def snapshot(self):
        return self.ray.get(self.actors[0].snapshot.remote())

    def timings(self) -> dict:
        return self.ray.get(self.actors[0].timings.remote())

    # --- blocks of steps ---
    def submit(self, epoch: int, steps: list) -> tuple[list, list]:
        """Start a block; returns (the refs whose results are the steps' (loss, correct), every
        ref to check for errors). `steps` holds, per step, each worker's (idx, weight, noise)."""
        actors = self.actors
        if self.method != "object_store":       # collective, or one worker: a block in one call each
            refs = [a.run_block.remote(epoch, [s[i] for s in steps]) for i, a in enumerate(actors)]
            return refs[:1], refs
        results, every = [], []
        for shards in steps:
            every += [a.compute.remote(shard) for a, shard in zip(actors, shards)]
            s = 1
            while s < self.world:
                for i in range(0, self.world - s, 2 * s):
                    every.append(actors[i].absorb.remote(actors[i + s].export.remote()))
                s *= 2
            total = actors[0].export.remote()
            applied = [actors[0].apply.remote(epoch)] + [a.apply.remote(epoch, total) for a in actors[1:]]
            results.append(applied[0])
            every += applied
        return results, every

    def wait(self, block: tuple[list, list]) -> np.ndarray:
        """The block's (loss, correct) per step, once every worker is done with it; a lost worker
        raises _WorkerLost, any other error is raised as the worker raised it."""
        ray = self.ray
        results, every = block
        pending = list(every)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            try:
                ray.get(ready[0])
            except Exception as e:  # noqa: BLE001 - sorted below
                if _is_lost(ray, e):
                    raise _WorkerLost(str(e).splitlines()[0] if str(e) else type(e).__name__) from e
                raise
        values = ray.get(results)
        return np.concatenate(values) if self.method != "object_store" \
            else np.array(values, dtype=float).reshape(-1, 2)


def _is_lost(ray, e: BaseException) -> bool:
    ex = ray.exceptions
    kinds = (ex.RayActorError, ex.WorkerCrashedError, ex.ObjectLostError, ex.NodeDiedError,
             ex.LocalRayletDiedError, ex.OutOfMemoryError, _PeerLost)     # OOM: Ray's monitor killed it
    return isinstance(e, kinds) or isinstance(getattr(e, "cause", None), kinds)


def _method(allreduce: str, world: int) -> str:
    if allreduce not in REDUCTIONS:
        raise ValueError(f"allreduce must be one of {REDUCTIONS}, got {allreduce!r}")
    return "none" if world == 1 else allreduce


# --- fit ---------------------------------------------------------------------------------------

def fit(model: Model, x, y, optimizer, epochs: int = 10, batch_size: int = 32,
        validation_split: float = 0.0, validation_data: tuple | None = None, shuffle: bool = True,
        seed: int = 0, early_stopping: EarlyStopping | None = None, checkpoint: str | Path | None = None,
        checkpoint_every: int = 1, resume: bool = False, progress: bool = True, workers: int = 2,
        address: str | None = None, allreduce: str = "auto", cpus_per_worker: int = 1,
        max_restarts: int = 3) -> History:
    """`rt.fit` on `workers` Ray actors, synchronous data parallel; the same arguments and the same
    result as a local `fit` (to rounding: 1e-10 on the parameters after many epochs).

    address: the Ray cluster to join (default: $RAY_ADDRESS, else a local Ray started on this
    machine); a Ray already initialized in this process is used as it is. allreduce: "auto"
    (shared memory when every worker runs on this machine, else Ray's collective all-reduce where
    the workers can import PyTorch, whose Gloo backend it uses, else "object_store"),
    "shared_memory", "collective" or "object_store". cpus_per_worker: the CPUs each worker
    reserves (and its Numba threads). max_restarts: how many times lost workers are replaced
    before `fit` gives up. Each worker compiles nothing when the cache directory
    (`ct.config.cache_dir`, which it uses too) is shared with this process; otherwise it compiles
    the model once. Models with BatchNorm train as DistributedDataParallel without synchronized
    batch norm does: the batch statistics are each shard's, and their average (weighted by shard
    size) goes into the running statistics, so results differ from one process. Newton's method
    is not supported on workers. The History it returns also has `distributed`: the workers, the
    all-reduce used, the restarts, the seconds it took to start the workers (`start_seconds`) and
    to train once they had started (`train_seconds`), and the milliseconds per step worker 0 spent
    computing its shard's gradient (`compute_ms`), summing the buffers (`reduce_ms`, waiting for
    the slowest worker included) and applying the step (`apply_ms`)."""
    from .checkpoint import load_checkpoint

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if isinstance(optimizer, Newton):
        raise ValueError("Newton's method needs the Hessian of the whole batch and is not supported with workers=")
    method = _method(allreduce, workers)
    ray = connect(address, "training with workers=")
    have = cluster_cpus(ray)
    if have < workers * cpus_per_worker:
        raise RuntimeError(f"{workers} workers of {cpus_per_worker} CPU(s) each need {workers * cpus_per_worker} "
                           f"CPUs, but the Ray cluster has {have}")

    # --- the same preparation as a local fit ---
    rng = np.random.default_rng(seed)
    inputs = _as_inputs(x)
    targets = prepare_targets(model.loss_name, y, _n_outputs(model))
    if any(len(a) != len(targets) for a in inputs):
        raise ValueError(f"inputs have {[len(a) for a in inputs]} samples but there are {len(targets)} targets")
    if validation_data is not None:
        val = (_as_inputs(validation_data[0]), prepare_targets(model.loss_name, validation_data[1], _n_outputs(model)))
        train = (inputs, targets)
    elif validation_split:
        train, val = split(inputs, targets, validation_split, rng)
    else:
        train, val = (inputs, targets), None
    if early_stopping is not None and early_stopping.monitor.startswith("val_") and val is None:
        raise ValueError("early stopping on a validation metric needs validation_split or validation_data")

    history = History()
    start_epoch = 0
    best = None
    if checkpoint is not None and resume and Path(checkpoint).exists():
        ck = load_checkpoint(checkpoint, expect={n: model.params.spec(n).shape for n in model.params})
        model.params.load(ck.params)
        if ck.optimizer_state:
            optimizer.load_state_dict(ck.optimizer_state)
        for key in model.state:
            model.state[key][...] = ck.meta[f"state/{key}"]
        rng.bit_generator.state = json.loads(str(ck.meta["rng"]))
        history = History.from_json(str(ck.meta["history"]))
        start_epoch = int(ck.meta["epoch"])
        if "best/epoch" in ck.meta:
            best = (float(ck.meta["best/value"]), int(ck.meta["best/epoch"]),
                    np.array(ck.meta["best/params"]),
                    {k: np.array(ck.meta[f"best/state/{k}"]) for k in model.state})

    (train_inputs, train_targets) = train
    model.compile(train_inputs, train_targets, verbose=progress)     # fills the cache the workers load from
    n = len(train_targets)
    n_batches = -(-n // batch_size)
    one = tuple(a[:1] for a in train_inputs)
    has_acc = accuracy(model.loss_name, model.predict(one), train_targets[:1]) is not None
    from ray import cloudpickle
    payload, _ = pickled(_model_recipe(model))
    group = _Group(ray, workers, method, cpus_per_worker, payload,
                   (ray.put(tuple(train_inputs)), ray.put(train_targets)))
    noise_layers = [layer for layer, _, _ in model._sig["noise"]]
    noise_specs = [spec for _, spec, _ in model._sig["noise"]]

    def snapshot(epoch, waited):
        return {"epoch": epoch, "params": model.params.data.copy(),
                "state": {k: v.copy() for k, v in model.state.items()},
                "optimizer": cloudpickle.dumps(optimizer), "rng": copy.deepcopy(rng.bit_generator.state),
                "history": history.to_json(), "best": copy.deepcopy(best),
                "waited": waited}

    waited = 0 if best is None else len(history) - 1 - best[1]
    saved, saved_at = snapshot(start_epoch, waited), time.perf_counter()
    if progress:
        print(f"starting {workers} Ray worker{'s' * (workers > 1)} ...", end=" ", flush=True)
    started = time.perf_counter()
    bar = None
    restarts = 0
    try:
        group.start(saved["params"], saved["state"], saved["optimizer"])
        saved_at = time.perf_counter()          # the snapshot's age counts training time only
        start_seconds = saved_at - started
        if progress:
            print(f"{start_seconds:.1f} s" + (f" ({group.method} all-reduce)" if workers > 1 else ""), flush=True)
        training = time.perf_counter()
        bar = _progress_bar(progress, total=(epochs - start_epoch) * n_batches, desc=model.name)
        def plan():
            """An epoch's batches and, per step, each worker's (idx, weight, noise), drawn from rng."""
            order = rng.permutation(n) if shuffle else np.arange(n)
            batches = [order[s:s + batch_size] for s in range(0, n, batch_size)]
            steps = []
            for idx in batches:
                noise = [spec.draw(rng, (len(idx),) + tuple(layer.input_shape))
                         for layer, spec in zip(noise_layers, noise_specs)]
                steps.append([(idx[a:b], (b - a) / len(idx), [z[a:b] for z in noise])
                              for a, b in _shard_spans(len(idx), workers)])
            return batches, steps

        epoch = start_epoch
        ahead = None            # the next epoch's plan and its blocks already in flight
        while epoch < epochs:
            (batches, steps), started = ahead if ahead is not None else (plan(), None)
            ahead = None
            # the workers' state comes back when this epoch needs it (validation, early stopping, a
            # checkpoint, the end), and every SNAPSHOT_SECONDS to resume from if a worker is lost;
            # an epoch that needs nothing back runs into the next one without a pause
            saving = checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or epoch + 1 == epochs)
            fetch = val is not None or early_stopping is not None or saving or epoch + 1 == epochs \
                or time.perf_counter() - saved_at > SNAPSHOT_SECONDS
            following = None if fetch else plan()
            try:
                metrics, next_started = _run_epoch(group, epoch, steps, bar, started,
                                                   None if following is None else following[1])
            except _WorkerLost as lost:
                restarts += 1
                if restarts > max_restarts:
                    raise RuntimeError(f"workers were lost {restarts} times; giving up "
                                       f"(max_restarts={max_restarts})") from lost.__cause__
                warnings.warn(f"a worker was lost in epoch {epoch + 1} ({lost}); starting {workers} workers "
                              f"again and resuming after epoch {saved['epoch']}",
                              WorkerRestartWarning, stacklevel=2)
                group.stop()
                group.start(saved["params"], saved["state"], saved["optimizer"])
                model.params.data[...] = saved["params"]
                for k, v in saved["state"].items():
                    model.state[k][...] = v
                optimizer.__dict__.update(copy.deepcopy(cloudpickle.loads(saved["optimizer"])).__dict__)
                rng.bit_generator.state = copy.deepcopy(saved["rng"])
                history = History.from_json(saved["history"])
                best, waited, epoch = copy.deepcopy(saved["best"]), saved["waited"], saved["epoch"]
                if hasattr(bar, "n"):
                    bar.n = (epoch - start_epoch) * n_batches
                    bar.refresh()
                continue
            if following is not None:
                ahead = (following, next_started)
            if fetch:
                params, state, remote_optimizer = group.snapshot()
                model.params.data[...] = params
                for k, v in state.items():
                    model.state[k][...] = v
                optimizer.__dict__.update(copy.deepcopy(remote_optimizer).__dict__)   # read-only arrays copied

            losses, correct = metrics[:, 0], metrics[:, 1]
            total = float(sum(loss * len(idx) for loss, idx in zip(losses, batches)))
            record = {"epoch": epoch + 1, "loss": total / n}
            if has_acc:
                record["accuracy"] = float(sum(correct)) / n
            best, waited, stop = close_epoch(model, record, val, history, bar, early_stopping, best, waited, epoch)
            last = epoch + 1 == epochs or stop
            if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or last):
                from .checkpoint import save_checkpoint
                _save(save_checkpoint, checkpoint, model, optimizer, rng, history, epoch + 1, best)
            epoch += 1
            if fetch:
                saved, saved_at = snapshot(epoch, waited), time.perf_counter()
            if stop:
                break
        timings = _per_step(group.timings(), workers, group.method, restarts)
        timings.update(start_seconds=start_seconds, train_seconds=time.perf_counter() - training)
        group.stop(graceful=True)
    finally:
        if bar is not None:
            bar.close()
        group.stop()
    if early_stopping is not None and early_stopping.restore_best and best is not None:
        model.params.data[...] = best[2]
        for k, v in best[3].items():
            model.state[k][...] = v
    history.distributed = timings
    return history


def _per_step(seconds: dict, workers: int, method: str, restarts: int) -> dict:
    steps = max(1, seconds.pop("steps"))
    out = {f"{k}_ms": 1e3 * v / steps for k, v in seconds.items()}
    out.update(workers=workers, allreduce=method, steps=steps, restarts=restarts)
    return out


def _run_epoch(group: _Group, epoch: int, steps: list, bar, started=None, following=None) -> tuple:
    """Every step of one epoch, in blocks of about BLOCK_SECONDS, two blocks in flight (the next
    one queued on the workers while this one runs); (loss, correct) per step.

    `started`: this epoch's blocks already in flight, from the call before. `following`: the next
    epoch's steps, or None: once this epoch's blocks are all submitted, the next epoch's first
    block goes in too, so the workers do not wait for the driver between epochs (a round trip and
    the epoch's bookkeeping). Returns (the metrics, the next epoch's blocks in flight)."""
    in_flight, at = started if started is not None else (deque(), 0)
    ahead, ahead_at = deque(), 0
    out, done = [], 0
    last = time.perf_counter()

    def block_size(left: int) -> int:
        size = 1 if group.sec_per_step is None else int(BLOCK_SECONDS / max(group.sec_per_step, 1e-6))
        return max(1, min(size, left))
    while at < len(steps) or in_flight:
        while len(in_flight) + len(ahead) < 2:
            if at < len(steps):
                size = block_size(len(steps) - at)
                in_flight.append((size, group.submit(epoch, steps[at:at + size])))
                at += size
            elif following is not None and ahead_at < len(following):
                size = block_size(len(following) - ahead_at)
                ahead.append((size, group.submit(epoch + 1, following[ahead_at:ahead_at + size])))
                ahead_at += size
            else:
                break
        size, block = in_flight.popleft()
        out.append(group.wait(block))
        now = time.perf_counter()
        per_step = (now - last) / size
        group.sec_per_step = per_step if group.sec_per_step is None else 0.5 * (group.sec_per_step + per_step)
        last = now
        done += size
        bar.update(size)
        if _BLOCK_HOOK is not None:
            _BLOCK_HOOK(group, epoch, done)
    return np.concatenate(out), (ahead, ahead_at)
