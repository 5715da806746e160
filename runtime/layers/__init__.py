"""Layers: each a pure differentiable function plus the parameters it needs (see base.py)."""
from .base import Layer, Emitter, StateSpec, NoiseSpec
from .dense import (dense, flatten, Dense, Flatten, Activation, ReLU, Sigmoid, Tanh, Softmax, LogSoftmax,
                    Softplus, Softsign, ELU, LeakyReLU, Arctan)

__all__ = ["Layer", "Emitter", "StateSpec", "NoiseSpec", "dense", "flatten", "Dense", "Flatten", "Activation",
           "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softplus", "Softsign", "ELU", "LeakyReLU", "Arctan"]

from .conv import conv1d, conv2d, Conv1D, Conv2D
from .pool import max_pool1d, max_pool2d, avg_pool1d, avg_pool2d, MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D
from .norm import batch_norm, batch_norm_inference, layer_norm, BatchNorm, LayerNorm
from .dropout import dropout, Dropout
from .embedding import embedding, Embedding

__all__ += ["conv1d", "conv2d", "Conv1D", "Conv2D", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
            "MaxPool1D", "MaxPool2D", "AvgPool1D", "AvgPool2D", "batch_norm", "batch_norm_inference",
            "layer_norm", "BatchNorm", "LayerNorm", "dropout", "Dropout", "embedding", "Embedding"]

from .dense import dense_positions
from .recurrent import (full_mask, rnn_step, lstm_step, gru_step, simple_rnn, simple_rnn_sequence, lstm,
                        lstm_sequence, gru, gru_sequence, SimpleRNN, LSTM, GRU)
from .attention import scaled_dot_product_attention, attention_bias, multi_head_attention, MultiHeadAttention
from .residual import Residual

__all__ += ["dense_positions", "full_mask", "rnn_step", "lstm_step", "gru_step", "simple_rnn",
            "simple_rnn_sequence", "lstm", "lstm_sequence", "gru", "gru_sequence", "SimpleRNN", "LSTM", "GRU",
            "scaled_dot_product_attention", "attention_bias", "multi_head_attention", "MultiHeadAttention",
            "Residual"]
