"""cotangent: source-to-source automatic differentiation for Python and NumPy, compiled by Numba."""
from .config import VERSION as __version__, config
from .errors import Error, CompileError, BoundsError
from .api import differentiable, stop_gradient, grad, value_and_grad, vjp, jvp, jacfwd, jacrev, hessian, hvp, source, ir
from .check import check_grad
from .custom import custom_derivative, CustomDerivative
from .batching import vmap
from .ufunc import elementwise
from .interop import to_torch, to_jax, scipy_objective   # PyTorch and JAX are imported when used
from .distributed import distributed_sum, shard
from .checkpointing import checkpoint, checkpointed

__all__ = ["differentiable", "stop_gradient", "grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "hvp",
           "source", "ir", "check_grad", "vmap", "elementwise", "distributed_sum", "shard", "custom_derivative", "CustomDerivative",
           "Error", "CompileError", "BoundsError", "config", "__version__"]
__all__ += ["to_torch", "to_jax", "scipy_objective"]
__all__ += ["checkpoint", "checkpointed"]
