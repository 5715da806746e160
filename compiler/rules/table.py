"""The one table of primitives, as the rules see it: the registry lives with the IR
(ir/primitives.py, which the IR builder types statements with); the modules of this package fill it."""
from ..ir.primitives import PRIMITIVES, HELPERS, KERNELS, HELPER_KERNELS, Primitive, TypeRuleError, register, get, register_helpers  # noqa: F401
