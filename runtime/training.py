"""The training loop: shuffled minibatches, validation, metrics, early stopping, a progress bar,
and checkpoints that a killed run resumes from exactly where it left off."""
from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .history import History
from .metrics import accuracy, prepare_targets
from .model import Model


@dataclass
class EarlyStopping:
    """Stop when `monitor` has not improved by `min_delta` for `patience` epochs; optionally put
    back the parameters (and layer state) of the best epoch."""
    monitor: str = "val_loss"
    patience: int = 10
    min_delta: float = 0.0
    restore_best: bool = True


def split(inputs: tuple, targets: np.ndarray, fraction: float, rng: np.random.Generator):
    """A random train/validation split; `fraction` of the samples go to validation."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be between 0 and 1, got {fraction}")
    n = len(targets)
    order = rng.permutation(n)
    n_val = max(1, int(round(n * fraction)))
    val, train = order[:n_val], order[n_val:]
    return (tuple(a[train] for a in inputs), targets[train]), (tuple(a[val] for a in inputs), targets[val])


def minibatches(n: int, batch_size: int, rng: np.random.Generator | None):
    """Index arrays of the batches of one epoch, in a fresh random order when `rng` is given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def _as_inputs(x) -> tuple:
    return tuple(np.ascontiguousarray(a) for a in x) if isinstance(x, (tuple, list)) else (np.ascontiguousarray(x),)


def evaluate(model: Model, x, y, batch_size: int | None = None) -> dict[str, float]:
    """Test-mode loss and (for classifiers) accuracy over a whole dataset."""
    inputs = _as_inputs(x)
    targets = prepare_targets(model.loss_name, y, _n_outputs(model))
    n = len(targets)
    size = batch_size or n
    total, correct, have_acc = 0.0, 0.0, True
    for start in range(0, n, size):
        sl = slice(start, start + size)
        xb, yb = tuple(a[sl] for a in inputs), targets[sl]
        total += model.loss(xb, yb) * len(yb)
        acc = accuracy(model.loss_name, model.predict(xb), yb)
        have_acc = acc is not None
        correct += (acc or 0.0) * len(yb)
    out = {"loss": total / n}
    if have_acc:
        out["accuracy"] = correct / n
    return out


def _n_outputs(model: Model) -> int | None:
    shape = getattr(model, "output_shape", None)
    return shape[-1] if shape else None


def fit(model: Model, x, y, optimizer, epochs: int = 10, batch_size: int = 32,
        validation_split: float = 0.0, validation_data: tuple | None = None, shuffle: bool = True,
        seed: int = 0, early_stopping: EarlyStopping | None = None, checkpoint: str | Path | None = None,
        checkpoint_every: int = 1, resume: bool = False, progress: bool = True,
        workers: int | None = None, address: str | None = None) -> History:
    """Train `model` on (x, y) with `optimizer` and return the History.

    x is an array (or a tuple of arrays for models with several inputs), y the targets (integer
    labels are one-hot encoded for softmax losses). Everything random (the split, the shuffles,
    dropout masks) comes from `seed`, so two runs with the same seed are identical. With
    `checkpoint`, parameters, optimizer state, layer state, the random generator and the history
    are saved atomically every `checkpoint_every` epochs; `resume=True` continues from that file
    (if it exists) as though the run had never stopped.

    workers=N trains on N Ray workers (synchronous data parallel, the same result to rounding; see
    cotangent.runtime.distributed), on the Ray cluster at `address` or $RAY_ADDRESS, or on a local
    Ray started for it; it needs `pip install "cotangent[distributed]"`."""
    if workers is not None or address is not None:
        if workers is None:
            raise ValueError("address= is where workers run: give workers=N as well")
        from .distributed import fit as fit_on_workers
        return fit_on_workers(model, x, y, optimizer, epochs=epochs, batch_size=batch_size,
                              validation_split=validation_split, validation_data=validation_data,
                              shuffle=shuffle, seed=seed, early_stopping=early_stopping, checkpoint=checkpoint,
                              checkpoint_every=checkpoint_every, resume=resume, progress=progress,
                              workers=workers, address=address)
    from .checkpoint import load_checkpoint, save_checkpoint

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
    best = None                       # (value, epoch, params, state)
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
    model.compile(train_inputs, train_targets, verbose=progress)
    n = len(train_targets)
    n_batches = -(-n // batch_size)
    bar = _progress_bar(progress, total=(epochs - start_epoch) * n_batches, desc=model.name)
    waited = 0 if best is None else len(history) - 1 - best[1]
    try:
        for epoch in range(start_epoch, epochs):
            total, correct, have_acc = 0.0, 0.0, False
            for idx in minibatches(n, batch_size, rng if shuffle else None):
                xb, yb = tuple(a[idx] for a in train_inputs), train_targets[idx]
                step = model.loss_and_grad(xb, yb, rng)
                if not np.isfinite(step.loss):
                    raise FloatingPointError(f"the loss became {step.loss} in epoch {epoch + 1}; "
                                             "lower the learning rate or clip gradients")
                optimizer.step(model.params.data, step.grad, model.objective(xb, yb))
                total += step.loss * len(idx)
                acc = accuracy(model.loss_name, step.outputs, yb)
                if acc is not None:
                    have_acc, correct = True, correct + acc * len(idx)
                bar.update(1)
            record = {"epoch": epoch + 1, "loss": total / n}
            if have_acc:
                record["accuracy"] = correct / n
            best, waited, stop = close_epoch(model, record, val, history, bar, early_stopping, best, waited, epoch)
            last = epoch + 1 == epochs or stop
            if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or last):
                _save(save_checkpoint, checkpoint, model, optimizer, rng, history, epoch + 1, best)
            if stop:
                break
    finally:
        bar.close()
    if early_stopping is not None and early_stopping.restore_best and best is not None:
        model.params.data[...] = best[2]
        for k, v in best[3].items():
            model.state[k][...] = v
    return history


def close_epoch(model, record: dict, val, history, bar, early_stopping, best, waited: int, epoch: int) -> tuple:
    """The end of an epoch, in fit and in its Ray version: validation, the history and the progress
    bar, and early stopping. Returns (best, waited, stop); best is (value, epoch, params, state)."""
    if val is not None:
        record.update({f"val_{k}": v for k, v in evaluate(model, *val).items()})
    history.append(record)
    bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k != "epoch"}, refresh=False)
    stop = False
    if early_stopping is not None:
        value = record[early_stopping.monitor]
        sign = 1.0 if "loss" in early_stopping.monitor else -1.0
        if best is None or sign * (best[0] - value) > early_stopping.min_delta:
            best = (value, epoch, model.params.data.copy(), {k: v.copy() for k, v in model.state.items()})
            waited = 0
        else:
            waited += 1
            stop = waited >= early_stopping.patience
    if stop:
        history.stopped = (f"early stopping: {early_stopping.monitor} did not improve for "
                           f"{early_stopping.patience} epochs after epoch {best[1] + 1}")
    return best, waited, stop


def _save(save_checkpoint, path, model, optimizer, rng, history, epoch, best):
    meta = {"epoch": epoch, "rng": json.dumps(rng.bit_generator.state), "history": history.to_json()}
    meta.update({f"state/{k}": v for k, v in model.state.items()})
    if best is not None:
        meta.update({"best/value": best[0], "best/epoch": best[1], "best/params": best[2]})
        meta.update({f"best/state/{k}": v for k, v in best[3].items()})
    save_checkpoint(path, model.params.named(), optimizer.state_dict(), meta)


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix(self, *a, **k):
        pass

    def close(self):
        pass


def _progress_bar(enabled: bool, total: int, desc: str):
    """tqdm's widget in a notebook that has ipywidgets, its text bar everywhere else (a notebook
    without ipywidgets shows the text bar, not tqdm.auto's warning)."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm.std import tqdm
    except ImportError:
        return _NoBar()
    if _in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm
    return tqdm(total=total, desc=desc, unit="batch", mininterval=0.2, dynamic_ncols=True)


def _in_notebook() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"
