"""Learning-rate schedules: a schedule is a callable `step -> learning rate`.

Steps count from 0 (the first optimizer step uses `schedule(0)`). Schedules are small frozen
dataclasses of numbers, so an optimizer can save one as plain arrays (`state_dict`) and rebuild it
(`schedule_from_state`) without pickle, and the same step always gives the same rate.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np


def check_step(step: int) -> int:
    """Steps are counts: a float or negative step is a caller's bug, not a rate to interpolate."""
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, np.integer)):
        raise ValueError(f"a schedule's step must be an integer, got {step!r}")
    if step < 0:
        raise ValueError(f"a schedule's step must be >= 0, got {step}")
    return int(step)


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class Schedule:
    """Base of the built-in schedules: saving and the step check live here once."""

    def __call__(self, step: int) -> float:
        return self.rate(check_step(step))

    def rate(self, step: int) -> float:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """The class name and every field as 0-d arrays (np.savez-able without pickle)."""
        state = {"class": np.array(type(self).__name__)}
        for field in dataclasses.fields(self):
            state[field.name] = np.array(getattr(self, field.name))
        return state


@dataclass(frozen=True)
class Constant(Schedule):
    """The same rate at every step (what an optimizer without a schedule uses)."""
    lr: float

    def __post_init__(self):
        object.__setattr__(self, "lr", _positive("lr", self.lr))

    def rate(self, step: int) -> float:
        return self.lr


@dataclass(frozen=True)
class StepDecay(Schedule):
    """lr * gamma ** (step // step_size): the rate drops by gamma every step_size steps."""
    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "lr", _positive("lr", self.lr))
        object.__setattr__(self, "step_size", _count("step_size", self.step_size, 1))
        object.__setattr__(self, "gamma", _positive("gamma", self.gamma))

    def rate(self, step: int) -> float:
        return self.lr * self.gamma ** (step // self.step_size)


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """lr * gamma ** step: a smooth geometric decay."""
    lr: float
    gamma: float

    def __post_init__(self):
        object.__setattr__(self, "lr", _positive("lr", self.lr))
        object.__setattr__(self, "gamma", _positive("gamma", self.gamma))

    def rate(self, step: int) -> float:
        return self.lr * self.gamma ** step


@dataclass(frozen=True)
class CosineDecay(Schedule):
    """Linear warmup, then half a cosine from lr down to lr_min at total_steps (lr_min after).

    Warmup steps 0 .. warmup-1 use lr * (step + 1) / warmup, so the first step already moves and
    step warmup-1 reaches lr; from step `warmup` the cosine runs over the remaining
    total_steps - warmup steps (Loshchilov & Hutter's SGDR without restarts)."""
    lr: float
    total_steps: int
    lr_min: float = 0.0
    warmup: int = 0

    def __post_init__(self):
        object.__setattr__(self, "lr", _positive("lr", self.lr))
        object.__setattr__(self, "total_steps", _count("total_steps", self.total_steps, 1))
        object.__setattr__(self, "warmup", _count("warmup", self.warmup, 0))
        if self.warmup >= self.total_steps:
            raise ValueError(f"warmup ({self.warmup}) must be smaller than total_steps ({self.total_steps})")
        lr_min = self.lr_min
        if not (isinstance(lr_min, (int, float, np.integer, np.floating)) and 0 <= lr_min <= self.lr):
            raise ValueError(f"lr_min must be a number in [0, lr={self.lr}], got {lr_min!r}")
        object.__setattr__(self, "lr_min", float(lr_min))

    def rate(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / (self.total_steps - self.warmup))
        return self.lr_min + 0.5 * (self.lr - self.lr_min) * (1.0 + math.cos(math.pi * progress))


SCHEDULES: dict[str, type[Schedule]] = {
    cls.__name__: cls for cls in (Constant, StepDecay, ExponentialDecay, CosineDecay)}


def schedule_from_state(state: dict[str, np.ndarray]) -> Schedule:
    """Rebuild a schedule saved by `Schedule.state_dict` (the inverse, exactly)."""
    name = str(state["class"]) if "class" in state else "?"
    cls = SCHEDULES.get(name)
    if cls is None:
        raise ValueError(f"unknown schedule {name!r}; the built-in ones are {sorted(SCHEDULES)}")
    kinds = {field.name: field.type for field in dataclasses.fields(cls)}
    values = {}
    for field, kind in kinds.items():
        if field in state:
            value = np.asarray(state[field]).item()
            values[field] = int(value) if kind == "int" else float(value)
        elif getattr(cls, field, dataclasses.MISSING) is dataclasses.MISSING:
            raise ValueError(f"the saved {name} has no {field!r}")
    return cls(**values)
