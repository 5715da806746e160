"""Optimizers over one flat float64 parameter buffer: SGD, Momentum, Nesterov, AdaGrad, RMSprop,
Adam, AdamW and Newton.

`opt.step(params, grads)` updates `params` in place with one compiled loop (runtime/_kernels.py)
and never writes `grads`: the kernel clips each element as it reads it (by value, then by the global
norm's factor, computed just before the call; the L2 weight-decay term is added after). Gradients and
Hessians come from cotangent; nothing here differentiates by hand. `state_dict()` is plain arrays
(np.savez-able with allow_pickle=False) and `load_state_dict` restores an optimizer that continues
bit-identically to one that was never interrupted.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

import cotangent as ct

from . import _kernels as kernels
from .schedules import Schedule, check_step, schedule_from_state

_CUSTOM_SCHEDULE = "<callable>"     # what state_dict saves for a schedule that is a plain function


@dataclass(frozen=True)
class LossClosure:
    """A loss f(theta, *args) -> float and the arguments that stay fixed while theta moves: what
    Newton needs to build the Hessian and to test step lengths."""
    fn: Callable[..., float]
    args: tuple = ()

    def __post_init__(self):
        if not callable(self.fn):
            raise ValueError(f"LossClosure.fn must be a function f(theta, *args), got {type(self.fn).__name__}")
        object.__setattr__(self, "args", tuple(self.args))


def _number(name: str, value: Any, low: float, high: float = math.inf, low_open: bool = False,
            high_open: bool = True) -> float:
    """A hyperparameter checked against its range, so a typo fails at construction, not as NaNs."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if ok:
        value = float(value)
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return value


def _optional_positive(name: str, value: Any) -> float | None:
    return None if value is None else _number(name, value, 0.0, low_open=True)


def _check_buffer(name: str, array: Any, writeable: bool) -> None:
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{name} must be a NumPy array, got {type(array).__name__}")
    if array.dtype != np.float64:
        raise ValueError(f"{name} has dtype {array.dtype}; optimizers work on float64 buffers")
    if array.ndim != 1:
        raise ValueError(f"{name} must be a flat 1-D buffer, got shape {array.shape}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{name} is not contiguous (a strided view?); pass the flat buffer itself")
    if writeable and not array.flags.writeable:
        raise ValueError(f"{name} is read-only; the optimizer updates it in place")


def _check_arrays(params: Any, grads: Any) -> int:
    """Validate params and grads before a kernel sees them (a clear error, never a Numba one);
    returns their length."""
    _check_buffer("params", params, writeable=True)
    _check_buffer("grads", grads, writeable=False)
    if grads.size != params.size:
        raise ValueError(f"grads has {grads.size} elements but params has {params.size}")
    return params.size


class Optimizer:
    """The common part: clipping settings, schedule, step count, state buffers and saving.

    A subclass lists its constructor's hyperparameters in `_hyper` (saved with the state, besides
    lr, clip_value, clip_norm and schedule) and its per-element state arrays in `_buffers`
    (allocated as zeros at the first step), and implements `_update`."""
    _hyper: tuple[str, ...] = ()
    _buffers: tuple[str, ...] = ()

    def __init__(self, lr: float, clip_value: float | None, clip_norm: float | None,
                 schedule: Callable[[int], float] | None):
        self.lr = _number("lr", lr, 0.0, low_open=True)
        self.clip_value = _optional_positive("clip_value", clip_value)
        self.clip_norm = _optional_positive("clip_norm", clip_norm)
        if schedule is not None and not callable(schedule):
            raise ValueError(f"schedule must be a callable step -> learning rate, got {type(schedule).__name__}")
        self.schedule = schedule
        self.reset()

    def reset(self) -> None:
        """Forget the step count and the state buffers (hyperparameters stay)."""
        self.steps = 0
        self.buffers: dict[str, np.ndarray] = {}

    def lr_at(self, step: int) -> float:
        """The learning rate of step `step` (0 is the first): the schedule's if there is one."""
        step = check_step(step)
        if self.schedule is None:
            return self.lr
        lr = float(self.schedule(step))
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"the schedule gave learning rate {lr!r} at step {step}; it must be finite and >= 0")
        return lr

    def step(self, params: np.ndarray, grads: np.ndarray, loss: LossClosure | None = None) -> None:
        """One update of `params` in place from `grads` (never modified); `loss` is for Newton."""
        n = _check_arrays(params, grads)
        if not self.buffers:
            self.buffers = {name: np.zeros(n) for name in self._buffers}
        else:
            size = next(iter(self.buffers.values())).size
            if size != n:
                raise ValueError(f"params has {n} elements but this optimizer's state is for {size} "
                                 "(call reset() to start over with other parameters)")
        self._update(params, grads, self.lr_at(self.steps), loss)
        self.steps += 1

    def _update(self, params: np.ndarray, grads: np.ndarray, lr: float, loss: Any) -> None:
        raise NotImplementedError

    def _clip(self, grads: np.ndarray) -> tuple[float, float]:
        """The kernels' clipping arguments (clip_value, scale): inf means no value clipping; scale
        brings the value-clipped gradient's global L2 norm down to clip_norm (1.0 when within it).
        The norm is one NumPy pass over the gradient, and only when clip_norm is set."""
        clip_value = math.inf if self.clip_value is None else self.clip_value
        if self.clip_norm is None:
            return clip_value, 1.0
        clipped = grads if self.clip_value is None else np.clip(grads, -clip_value, clip_value)
        norm = float(np.linalg.norm(clipped))
        return clip_value, (self.clip_norm / norm if norm > self.clip_norm else 1.0)

    def _settings(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this optimizer's configuration."""
        settings = {name: getattr(self, name) for name in ("lr",) + self._hyper}
        settings.update(clip_value=self.clip_value, clip_norm=self.clip_norm, schedule=self.schedule)
        return settings

    def state_dict(self) -> dict[str, np.ndarray]:
        """Class name, hyperparameters, step count and state buffers as arrays (0-d for scalars;
        strings as np.str_ arrays). Clipping settings that are off are left out."""
        state = {"class": np.array(type(self).__name__), "steps": np.array(self.steps, dtype=np.int64)}
        for name, value in self._settings().items():
            if name == "schedule":
                if isinstance(value, Schedule):
                    state.update({f"schedule.{k}": v for k, v in value.state_dict().items()})
                elif value is not None:
                    state["schedule.class"] = np.array(_CUSTOM_SCHEDULE)
            elif value is not None:
                state[name] = np.array(value)
        state.update({name: buffer.copy() for name, buffer in self.buffers.items()})
        return state

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what state_dict saved: hyperparameters, schedule, step count and buffers (copied).
        A plain-function schedule cannot be saved; the optimizer keeps its own in that case."""
        name = str(state["class"]) if "class" in state else None
        if name != type(self).__name__:
            raise ValueError(f"this state is for {name or 'no optimizer'}, not {type(self).__name__}")
        settings = self._settings()
        expected = {"class", "steps"} | set(settings) | set(self._buffers)
        unknown = sorted(k for k in state if k not in expected and not k.startswith("schedule."))
        if unknown:
            raise ValueError(f"unexpected entries in the {name} state: {unknown}")
        for key in ("lr", "steps") + self._hyper:
            if key not in state:
                raise ValueError(f"the {name} state has no {key!r}")
        for key in settings:
            if key == "schedule":
                settings[key] = self._saved_schedule(state)
            else:
                settings[key] = np.asarray(state[key]).item() if key in state else None
        fresh = type(self)(**settings)              # validates the saved hyperparameters
        steps = np.asarray(state["steps"])
        if steps.ndim != 0 or steps.dtype.kind not in "iu" or steps < 0:
            raise ValueError(f"the {name} state's 'steps' must be a non-negative integer, got {steps!r}")
        buffers = {key: state[key] for key in self._buffers if key in state}
        if buffers and len(buffers) != len(self._buffers):
            raise ValueError(f"the {name} state has {sorted(buffers)} but needs all of {list(self._buffers)}")
        for key, array in buffers.items():
            _check_buffer(f"the saved {key!r}", np.asarray(array), writeable=False)
        if len({np.asarray(a).size for a in buffers.values()}) > 1:
            raise ValueError(f"the {name} state's buffers have different lengths")
        if self._buffers and not buffers and int(steps) > 0:
            raise ValueError(f"the {name} state has taken {int(steps)} steps but has no {list(self._buffers)}")
        self.__dict__.update(fresh.__dict__)
        self.steps = int(steps)
        self.buffers = {key: np.array(array, dtype=np.float64, copy=True) for key, array in buffers.items()}

    def _saved_schedule(self, state: Mapping[str, np.ndarray]) -> Callable[[int], float] | None:
        saved = {k[len("schedule."):]: v for k, v in state.items() if k.startswith("schedule.")}
        if not saved:
            return None
        if str(saved.get("class")) == _CUSTOM_SCHEDULE:
            if self.schedule is None or isinstance(self.schedule, Schedule):
                raise ValueError("this state was saved with a plain-function schedule, which cannot be "
                                 "saved; pass the same schedule= to the optimizer before loading")
            return self.schedule
        return schedule_from_state(saved)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings().items() if v is not None)
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Plain gradient descent: p <- p - lr * (g + weight_decay * p)."""
    _hyper = ("weight_decay",)

    def __init__(self, lr: float = 1e-2, weight_decay: float = 0.0, clip_value: float | None = None,
                 clip_norm: float | None = None, schedule: Callable[[int], float] | None = None):
        super().__init__(lr, clip_value, clip_norm, schedule)
        self.weight_decay = _number("weight_decay", weight_decay, 0.0)

    def _update(self, params, grads, lr, loss):
        kernels.sgd(params, grads, lr, self.weight_decay, *self._clip(grads))


class Momentum(Optimizer):
    """Heavy-ball momentum (Polyak 1964, in Sutskever et al. 2013's form): v <- momentum * v - lr * g,
    p <- p + v. Momentum speeds up progress along shallow valleys that plain SGD crawls through."""
    _hyper = ("momentum", "weight_decay")
    _buffers = ("velocity",)
    _nesterov = False

    def __init__(self, lr: float = 1e-2, momentum: float = 0.9, weight_decay: float = 0.0,
                 clip_value: float | None = None, clip_norm: float | None = None,
                 schedule: Callable[[int], float] | None = None):
        super().__init__(lr, clip_value, clip_norm, schedule)
        self.momentum = _number("momentum", momentum, 0.0, 1.0)
        self.weight_decay = _number("weight_decay", weight_decay, 0.0)

    def _update(self, params, grads, lr, loss):
        kernels.momentum(params, grads, self.buffers["velocity"], lr, self.momentum, self.weight_decay,
                         self._nesterov, *self._clip(grads))


class Nesterov(Momentum):
    """Nesterov's accelerated gradient with the gradient taken at the stored parameters (Bengio et
    al. 2013): v <- momentum * v - lr * g, p <- p + momentum * v - lr * g. It looks ahead along the
    velocity, which damps the oscillations heavy-ball momentum shows."""
    _nesterov = True


class AdaGrad(Optimizer):
    """AdaGrad (Duchi et al. 2011): each element's step shrinks with its accumulated squared
    gradients, s <- s + g^2, p <- p - lr * g / (sqrt(s) + eps). Suits sparse, rarely-seen features."""
    _hyper = ("eps", "weight_decay")
    _buffers = ("sum_squares",)

    def __init__(self, lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0,
                 clip_value: float | None = None, clip_norm: float | None = None,
                 schedule: Callable[[int], float] | None = None):
        super().__init__(lr, clip_value, clip_norm, schedule)
        self.eps = _number("eps", eps, 0.0, low_open=True)
        self.weight_decay = _number("weight_decay", weight_decay, 0.0)

    def _update(self, params, grads, lr, loss):
        kernels.adagrad(params, grads, self.buffers["sum_squares"], lr, self.eps, self.weight_decay,
                        *self._clip(grads))


class RMSprop(Optimizer):
    """RMSprop (Hinton, lecture 6e): AdaGrad with a decaying average, so steps do not vanish:
    s <- rho * s + (1 - rho) * g^2, p <- p - lr * g / (sqrt(s) + eps)."""
    _hyper = ("rho", "eps", "weight_decay")
    _buffers = ("mean_squares",)

    def __init__(self, lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-8, weight_decay: float = 0.0,
                 clip_value: float | None = None, clip_norm: float | None = None,
                 schedule: Callable[[int], float] | None = None):
        super().__init__(lr, clip_value, clip_norm, schedule)
        self.rho = _number("rho", rho, 0.0, 1.0)
        self.eps = _number("eps", eps, 0.0, low_open=True)
        self.weight_decay = _number("weight_decay", weight_decay, 0.0)

    def _update(self, params, grads, lr, loss):
        kernels.rmsprop(params, grads, self.buffers["mean_squares"], lr, self.rho, self.eps,
                        self.weight_decay, *self._clip(grads))


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1) with bias correction. weight_decay is L2 regularization
    (added to the gradient, so the adaptive scaling applies to it); for decoupled decay use AdamW."""
    _hyper = ("beta1", "beta2", "eps", "weight_decay")
    _buffers = ("m", "v")

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0, clip_value: float | None = None, clip_norm: float | None = None,
                 schedule: Callable[[int], float] | None = None):
        super().__init__(lr, clip_value, clip_norm, schedule)
        self.beta1 = _number("beta1", beta1, 0.0, 1.0)
        self.beta2 = _number("beta2", beta2, 0.0, 1.0)
        self.eps = _number("eps", eps, 0.0, low_open=True)
        self.weight_decay = _number("weight_decay", weight_decay, 0.0)

    def _decay(self) -> tuple[float, float]:
        """(L2 coefficient added to the gradient, decoupled coefficient applied to the parameters)."""
        return self.weight_decay, 0.0

    def _update(self, params, grads, lr, loss):
        t = self.steps + 1          # Algorithm 1 counts steps from 1
        kernels.adam(params, grads, self.buffers["m"], self.buffers["v"], lr, self.beta1, self.beta2,
                     self.eps, 1.0 - self.beta1 ** t, 1.0 - self.beta2 ** t, *self._decay(), *self._clip(grads))


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019): Adam with weight decay decoupled from the gradient,
    p <- p - lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * p), so every weight decays at the same
    rate whatever its gradient history. The decay is scaled by the (scheduled) learning rate, as in
    PyTorch and Optax."""

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 1e-2, clip_value: float | None = None, clip_norm: float | None = None,
                 schedule: Callable[[int], float] | None = None):
        super().__init__(lr, beta1, beta2, eps, weight_decay, clip_value, clip_norm, schedule)

    def _decay(self) -> tuple[float, float]:
        return 0.0, self.weight_decay


class Newton(Optimizer):
    """Damped Newton's method: solve (H + damping * I) d = g with H = ct.hessian(loss.fn), then
    p <- p - t * d, with t = lr (the scheduled rate) halved until the Armijo condition holds when
    line_search is on.

    Where H + damping * I is not positive definite (a saddle, a concave region), the damping grows
    tenfold until it is, so d stays a descent direction. clip_norm caps the length of the step d
    (a crude trust region); clip_value is refused, since clipping elements of d can turn it uphill.
    Each step costs one Hessian (n Hessian-vector products) and an n-by-n solve: for small n."""
    _hyper = ("damping", "line_search")
    armijo = 1e-4               # sufficient decrease: f(p - t d) <= f(p) - armijo * t * g.d
    max_halvings = 50

    def __init__(self, damping: float = 1e-6, lr: float = 1.0, line_search: bool = True,
                 clip_value: float | None = None, clip_norm: float | None = None,
                 schedule: Callable[[int], float] | None = None):
        if clip_value is not None:
            raise ValueError("Newton does not clip by value (it can turn the Newton step uphill); "
                             "use clip_norm to cap the step length")
        super().__init__(lr, None, clip_norm, schedule)
        self.damping = _number("damping", damping, 0.0)
        if not isinstance(line_search, (bool, np.bool_)):
            raise ValueError(f"line_search must be True or False, got {line_search!r}")
        self.line_search = bool(line_search)

    def _update(self, params, grads, lr, loss):
        fn, args = _closure(loss)
        hessian = ct.hessian(fn)(params, *args)
        if not np.all(np.isfinite(hessian)):
            raise ValueError("the Hessian of loss.fn is not finite at these parameters")
        direction = self._direction(0.5 * (hessian + hessian.T), grads)
        if self.clip_norm is not None:
            norm = float(np.linalg.norm(direction))
            if norm > self.clip_norm:
                direction *= self.clip_norm / norm
        t = self._step_length(fn, args, params, grads, direction, lr) if self.line_search else lr
        if t > 0.0:
            kernels.sgd(params, direction, t, 0.0, math.inf, 1.0)

    def _direction(self, hessian: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """Solve (H + damping I) d = g, raising the damping tenfold until H + damping I is
        positive definite (Cholesky succeeds)."""
        identity = np.eye(hessian.shape[0])
        damping = self.damping
        floor = 1e-10 * max(1.0, float(np.max(np.abs(hessian), initial=0.0)))
        for _ in range(60):
            system = hessian + damping * identity
            try:
                np.linalg.cholesky(system)
            except np.linalg.LinAlgError:
                damping = max(10.0 * damping, floor)
                continue
            return np.linalg.solve(system, grads)
        raise ValueError("could not make the Hessian positive definite by damping")  # pragma: no cover

    def _step_length(self, fn, args, params, grads, direction, lr) -> float:
        """Backtracking (Armijo): the first of lr, lr/2, lr/4, ... that decreases the loss enough,
        or 0.0 (no step) if none does. A step whose predicted decrease is below the loss's rounding
        is taken whole: near the optimum the loss cannot tell better from worse, the model can."""
        primal = fn if hasattr(fn, "__cotangent_function__") else ct.differentiable(fn)
        value = float(primal(params, *args))
        slope = float(grads @ direction)
        if lr * slope <= 8.0 * np.finfo(np.float64).eps * abs(value):
            return lr           # a decrease below the loss's rounding: only the model can judge it
        t = lr
        for _ in range(self.max_halvings):
            trial = float(primal(params - t * direction, *args))
            if trial <= value - self.armijo * t * slope:
                return t
            t *= 0.5
        return 0.0


def _closure(loss: Any) -> tuple[Callable, tuple]:
    if loss is None:
        raise ValueError("Newton.step needs loss=LossClosure(fn, args), the loss f(theta, *args) "
                         "whose Hessian it computes")
    fn, args = getattr(loss, "fn", None), getattr(loss, "args", None)
    if not callable(fn) or not isinstance(args, tuple):
        raise ValueError(f"loss must be a LossClosure(fn, args) with a function and a tuple, "
                         f"got {type(loss).__name__}")
    return fn, args


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.__name__: cls for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam, AdamW, Newton)}


def optimizer_from_state(state: Mapping[str, np.ndarray],
                         schedule: Callable[[int], float] | None = None) -> Optimizer:
    """An optimizer rebuilt from its state_dict alone (a checkpoint), whatever its class.
    `schedule` is needed only when the state was saved with a plain-function schedule."""
    name = str(state["class"]) if "class" in state else "?"
    cls = OPTIMIZERS.get(name)
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}; the known ones are {sorted(OPTIMIZERS)}")
    optimizer = cls(schedule=schedule)
    optimizer.load_state_dict(state)
    return optimizer
