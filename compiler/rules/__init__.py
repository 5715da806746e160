"""The rule table: importing this package declares every primitive once."""
from . import table, elementwise, select, reductions, sorting, linalg, shapes, indexing, constructors, unitcall  # noqa: F401
from . import lists  # noqa: F401,E402  (lists used as stacks)
from . import products  # noqa: F401,E402  (matrix helpers, cross)
from . import nans  # noqa: F401,E402  (fmax, fmin, nan_to_num)
from . import decompositions  # noqa: F401,E402  (np.linalg decompositions and solvers)
from . import checkpoint  # noqa: F401,E402  (checkpointed loops)
from .table import PRIMITIVES, Primitive, TypeRuleError
from .derive import printed

__all__ = ["PRIMITIVES", "Primitive", "TypeRuleError", "printed"]
