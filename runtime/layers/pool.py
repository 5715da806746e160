"""Max and average pooling over 1-D and 2-D windows, channels last.

Inputs are (batch, length, channels) or (batch, H, W, channels), as for the convolutions. A
window of `size` moves by `stride` (default: `size`, windows that do not overlap); windows that
would run past the end are dropped ("valid"), so the output length is (length - size) // stride + 1.

Each function takes, for every offset inside the window, the strided slice of the input that offset
meets in every window, and combines the slices: np.maximum for max pooling, a sum for average
pooling. When two inputs tie for a maximum the gradient is shared between them (cotangent's rule for
np.maximum of two varying operands), which is a valid subgradient."""
from __future__ import annotations

import numpy as np

from .base import Layer, Emitter


def max_pool1d(x, size=2, stride=2):
    """Maximum over windows of `size` along axis 1 of x (batch, length, channels)."""
    out_len = (x.shape[1] - size) // stride + 1
    stop = (out_len - 1) * stride + 1
    out = x[:, 0:stop:stride, :].copy()
    for i in range(1, size):
        out = np.maximum(out, x[:, i:i + stop:stride, :])
    return out


def max_pool2d(x, size_h=2, size_w=2, stride_h=2, stride_w=2):
    """Maximum over (size_h, size_w) windows of x (batch, H, W, channels)."""
    out_h = (x.shape[1] - size_h) // stride_h + 1
    out_w = (x.shape[2] - size_w) // stride_w + 1
    stop_h = (out_h - 1) * stride_h + 1
    stop_w = (out_w - 1) * stride_w + 1
    out = x[:, 0:stop_h:stride_h, 0:stop_w:stride_w, :].copy()
    for k in range(1, size_h * size_w):
        i = k // size_w
        j = k % size_w
        out = np.maximum(out, x[:, i:i + stop_h:stride_h, j:j + stop_w:stride_w, :])
    return out


def avg_pool1d(x, size=2, stride=2):
    """Mean over windows of `size` along axis 1 of x (batch, length, channels)."""
    out_len = (x.shape[1] - size) // stride + 1
    stop = (out_len - 1) * stride + 1
    total = x[:, 0:stop:stride, :].copy()
    for i in range(1, size):
        total = total + x[:, i:i + stop:stride, :]
    return total / size


def avg_pool2d(x, size_h=2, size_w=2, stride_h=2, stride_w=2):
    """Mean over (size_h, size_w) windows of x (batch, H, W, channels)."""
    out_h = (x.shape[1] - size_h) // stride_h + 1
    out_w = (x.shape[2] - size_w) // stride_w + 1
    stop_h = (out_h - 1) * stride_h + 1
    stop_w = (out_w - 1) * stride_w + 1
    total = x[:, 0:stop_h:stride_h, 0:stop_w:stride_w, :].copy()
    for k in range(1, size_h * size_w):
        i = k // size_w
        j = k % size_w
        total = total + x[:, i:i + stop_h:stride_h, j:j + stop_w:stride_w, :]
    return total / (size_h * size_w)


class _Pool(Layer):
    rank = 0
    fn = None

    def __init__(self, size=2, stride=None):
        super().__init__()
        self.size = self._ints(size, "size")
        self.stride = self.size if stride is None else self._ints(stride, "stride")

    def _ints(self, value, what):
        values = (value,) * self.rank if isinstance(value, int) else tuple(value)
        if len(values) != self.rank or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                                                for v in values):
            pair = "" if self.rank == 1 else " or a pair of them"
            raise ValueError(f"{type(self).__name__}: {what} must be a positive int{pair}, got {value!r}")
        return values

    def compute_output_shape(self, input_shape):
        if len(input_shape) != self.rank + 1:
            axes = "(length, channels)" if self.rank == 1 else "(height, width, channels)"
            raise ValueError(f"{self.name}: {type(self).__name__} takes samples of shape {axes}, "
                             f"got shape {input_shape}")
        out = []
        for n, k, s in zip(input_shape[:-1], self.size, self.stride):
            if k > n:
                raise ValueError(f"{self.name}: the pooling window ({k}) is larger than the input "
                                 f"({n}) along an axis of input shape {input_shape}")
            out.append((n - k) // s + 1)
        return (*out, input_shape[-1])

    def emit(self, e: Emitter, x: str) -> str:
        if self.rank == 1:
            args = [f"size={self.size[0]}", f"stride={self.stride[0]}"]
        else:
            args = [f"size_h={self.size[0]}", f"size_w={self.size[1]}",
                    f"stride_h={self.stride[0]}", f"stride_w={self.stride[1]}"]
        return e.call(type(self).fn, [x, *args], self.name, f"{self.input_shape} -> {self.output_shape}")

    def describe(self):
        size = self.size[0] if self.rank == 1 else self.size
        stride = self.stride[0] if self.rank == 1 else self.stride
        return f"{type(self).__name__}({size}, stride={stride})"


class MaxPool1D(_Pool):
    """Maximum over windows along the length of (batch, length, channels)."""
    kind, rank, fn = "max_pool1d", 1, staticmethod(max_pool1d)


class MaxPool2D(_Pool):
    """Maximum over 2-D windows of (batch, H, W, channels)."""
    kind, rank, fn = "max_pool2d", 2, staticmethod(max_pool2d)


class AvgPool1D(_Pool):
    """Mean over windows along the length of (batch, length, channels)."""
    kind, rank, fn = "avg_pool1d", 1, staticmethod(avg_pool1d)


class AvgPool2D(_Pool):
    """Mean over 2-D windows of (batch, H, W, channels)."""
    kind, rank, fn = "avg_pool2d", 2, staticmethod(avg_pool2d)
