"""Layers, losses, initializers, optimizers and the training loop, built on generated gradients.

Nothing here writes a derivative by hand: every gradient comes from cotangent compiling the model's
source, which `Model.source("grad")` prints."""
from . import activations, losses, initializers
from .params import ParamBuffer, ParamSpec
from .layers import *  # noqa: F401,F403  (the layer classes and their functions)
from .layers import __all__ as _layer_names
from .model import Model, Sequential, FunctionModel, StepResult
from .history import History
from .training import fit, evaluate, EarlyStopping, minibatches, split
from .distributed import WorkerRestartWarning
from .checkpoint import Checkpoint, CheckpointError, save_checkpoint, load_checkpoint
from .optimizers import (Optimizer, SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam, AdamW, Newton,
                         LossClosure, optimizer_from_state)
from .schedules import Schedule, Constant, StepDecay, ExponentialDecay, CosineDecay, schedule_from_state
