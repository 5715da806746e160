"""Reference models built from cotangent.runtime and the compiler."""
from . import logistic, mlp, points  # noqa: F401
from . import deepsets, graph, sequence, transformer  # noqa: F401
from . import autoencoder, cnn, digits, gan  # noqa: F401
