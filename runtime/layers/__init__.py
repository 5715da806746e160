"""Layers: each a pure differentiable function plus the parameters it needs (see base.py)."""
from .base import Layer, Emitter, StateSpec, NoiseSpec
from .dense import (dense, flatten, Dense, Flatten, Activation, ReLU, Sigmoid, Tanh, Softmax, LogSoftmax,
                    Softplus, Softsign, ELU, LeakyReLU, Arctan)

__all__ = ["Layer", "Emitter", "StateSpec", "NoiseSpec", "dense", "flatten", "Dense", "Flatten", "Activation",
           "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softplus", "Softsign", "ELU", "LeakyReLU", "Arctan"]
