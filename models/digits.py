"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), so nothing is
downloaded: as images for the CNN, as flat pixel vectors for the autoencoders, and a seeded
train/test split."""
from __future__ import annotations

import numpy as np

IMAGE_SHAPE = (8, 8)


def load_digits(images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Pixels scaled from 0..16 to [0, 1], and integer labels (n,). `images=True` gives
    channels-last images (n, 8, 8, 1) for convolutions; otherwise flat vectors (n, 64)."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError("the digits come with scikit-learn: pip install 'cotangent[examples]'") from None
    data = sklearn_digits()
    x = np.asarray(data.images, dtype=np.float64) / 16.0
    x = x[..., None] if images else x.reshape((len(x), -1))
    return np.ascontiguousarray(x), np.asarray(data.target, dtype=np.int64)


def split(x: np.ndarray, y: np.ndarray, test_fraction: float = 0.2,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded random split into (x_train, y_train, x_test, y_test); the test part is held out."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return (np.ascontiguousarray(x[train]), y[train], np.ascontiguousarray(x[test]), y[test])
