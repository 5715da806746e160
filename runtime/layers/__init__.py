"""Layers: each a pure differentiable function plus the parameters it needs (see base.py)."""
from .base import Layer, Emitter, StateSpec, NoiseSpec
from .dense import (dense, flatten, Dense, Flatten, Activation, ReLU, Sigmoid, Tanh, Softmax, LogSoftmax,
                    Softplus, Softsign, ELU, LeakyReLU, Arctan)

__all__ = ["Layer", "Emitter", "StateSpec", "NoiseSpec", "dense", "flatten", "Dense", "Flatten", "Activation",
           "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softplus", "Softsign", "ELU", "LeakyReLU", "Arctan"]

from .dense import dense_positions
from .recurrent import (full_mask, rnn_step, lstm_step, gru_step, simple_rnn, simple_rnn_sequence, lstm,
                        lstm_sequence, gru, gru_sequence, SimpleRNN, LSTM, GRU)
from .attention import scaled_dot_product_attention, attention_bias, multi_head_attention, MultiHeadAttention
from .residual import Residual

__all__ += ["dense_positions", "full_mask", "rnn_step", "lstm_step", "gru_step", "simple_rnn",
            "simple_rnn_sequence", "lstm", "lstm_sequence", "gru", "gru_sequence", "SimpleRNN", "LSTM", "GRU",
            "scaled_dot_product_attention", "attention_bias", "multi_head_attention", "MultiHeadAttention",
            "Residual"]
