"""Elementwise math on a lane block of LANES doubles at once, for generated loops that run several
samples side by side (symbolic mode's batch loop, backends/lanes.py).

Numba compiles `np.sin(x)` on a number to one call of libm's scalar sine, about 10 ns, and LLVM
cannot vectorise a loop around it: the pip build of llvmlite has no vector math library (no SVML),
so a vectorised loop still calls the scalar function once per element. glibc ships one, libmvec,
whose AVX2 sine takes about 1 ns per element. `vector_sin(src, dst)` computes
`dst[k] = sin(src[k])` for the LANES elements of two lane arrays with the widest libmvec variant
the compiled code may use (8 doubles with AVX-512, 4 with AVX2, 2 with SSE), or with libm's scalar
function per element where there is no libmvec (not glibc) or no vector variant of the function.
libmvec's results are within 4 units in the last place of the exact ones, like libm's.

The lane arrays are made by the generated code itself, `np.zeros(LANES)` each, so the intrinsics
read and write LANES elements from their data pointers without index checks."""
from __future__ import annotations

import ctypes.util

import llvmlite.binding as llvm
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

LANES = 8

# IR primitive -> its name in libm and libmvec
FUNCTIONS = {"exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin",
             "arccos": "acos", "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
             "log1p": "log1p", "expm1": "expm1"}

# the x86-64 vector function ABI's ISA letters, widest first: (letter, doubles, target feature)
_VARIANTS = (("e", 8, "+avx512f"), ("d", 4, "+avx2"), ("b", 2, "+sse2"))


def _load_libmvec() -> bool:
    for name in ("libmvec.so.1", ctypes.util.find_library("mvec")):
        if not name:
            continue
        try:
            llvm.load_library_permanently(name)
            return True
        except (OSError, RuntimeError):
            continue
    return False


HAVE_LIBMVEC = _load_libmvec()


def _target_features() -> set:
    """The features Numba compiles for (the host's unless NUMBA_CPU_FEATURES says otherwise): a
    vector argument is passed in the registers these allow, so the variant must match them."""
    from numba.core.registry import cpu_target
    text = getattr(cpu_target.target_context.codegen(), "_tm_features", "") or ""
    return {f for f in text.split(",") if f.startswith("+")}


def variant(libm_name: str) -> tuple[str, int] | None:
    """(symbol, width) of the widest libmvec variant of `libm_name` the compiled code can call."""
    if not HAVE_LIBMVEC:
        return None
    features = _target_features()
    for letter, width, feature in _VARIANTS:
        symbol = f"_ZGV{letter}N{width}v_{libm_name}"
        if feature in features and LANES % width == 0 and llvm.address_of_symbol(symbol):
            return symbol, width
    return None


def _lane_intrinsic(libm_name: str):
    @intrinsic
    def lane_call(typingctx, src, dst):
        ok = all(isinstance(a, types.Array) and a.ndim == 1 and a.dtype == types.float64 and a.layout == "C"
                 for a in (src, dst))
        if not ok:
            return None
        sig = types.void(src, dst)

        def codegen(context, builder, signature, args):
            double = ir.DoubleType()
            src_data = context.make_array(signature.args[0])(context, builder, args[0]).data
            dst_data = context.make_array(signature.args[1])(context, builder, args[1]).data
            found = variant(libm_name)
            symbol, width = found if found is not None else (libm_name, 1)
            vec = double if width == 1 else ir.VectorType(double, width)
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec]), symbol)
            for k in range(0, LANES, width):
                at = context.get_constant(types.intp, k)
                src_at = builder.bitcast(builder.gep(src_data, [at]), vec.as_pointer())
                dst_at = builder.bitcast(builder.gep(dst_data, [at]), vec.as_pointer())
                builder.store(builder.call(fn, [builder.load(src_at, align=8)]), dst_at, align=8)
            return context.get_dummy_value()
        return sig, codegen
    lane_call.__name__ = f"vector_{libm_name}"
    return lane_call


vector_exp = _lane_intrinsic("exp")
vector_log = _lane_intrinsic("log")
vector_sin = _lane_intrinsic("sin")
vector_cos = _lane_intrinsic("cos")
vector_tan = _lane_intrinsic("tan")
vector_arcsin = _lane_intrinsic("asin")
vector_arccos = _lane_intrinsic("acos")
vector_arctan = _lane_intrinsic("atan")
vector_sinh = _lane_intrinsic("sinh")
vector_cosh = _lane_intrinsic("cosh")
vector_tanh = _lane_intrinsic("tanh")
vector_log1p = _lane_intrinsic("log1p")
vector_expm1 = _lane_intrinsic("expm1")
