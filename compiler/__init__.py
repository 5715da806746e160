"""cotangent: source-to-source automatic differentiation for Python and NumPy, compiled by Numba."""
from .config import VERSION as __version__, config
from .errors import CompileError
from .api import differentiable, stop_gradient, grad, value_and_grad, vjp, jvp, jacfwd, jacrev, hessian, hvp, source, ir
from .check import check_grad
from .custom import custom_derivative, CustomDerivative
from .batching import vmap
from .ufunc import elementwise

__all__ = ["differentiable", "stop_gradient", "grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "hvp",
           "source", "ir", "check_grad", "vmap", "elementwise", "custom_derivative", "CustomDerivative",
           "CompileError", "config", "__version__"]
