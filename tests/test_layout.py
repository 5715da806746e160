"""Generated source is laid out as black lays it out: `ct.source` output passes `black --check`.
Each statement form the printers split is checked against black itself at several lengths and
depths, and so is the whole generated source of random programs and of a model's gradient."""
import sys
from pathlib import Path

import numpy as np
import pytest

import cotangent as ct
from cotangent.backends.layout import WIDTH, hug_powers, lay_out

black = pytest.importorskip("black")
sys.path.insert(0, str(Path(__file__).parent))
import program_gen as pg  # noqa: E402


def black_text(text: str) -> str:
    return black.format_str(text, mode=black.Mode())


def in_function(depth: int, lines: list[str], header: bool) -> str:
    """`lines` (at `depth`) inside a function and depth - 1 nested loops, as a module."""
    head = ["def f(a, b):"] + ["    " * d + f"for i{d} in range(3):" for d in range(1, depth)]
    body = list(lines) + (["    " * (depth + 1) + "pass"] if header else [])
    return "\n".join(head + body) + "\n"


def names(k: int, length: int) -> list[str]:
    return [f"v{i}_" + "x" * max(0, length - 3) for i in range(k)]


FORMS = {
    "call": lambda ns: f"{ns[0]} = np.where({', '.join(ns[1:])})",
    "tuple target": lambda ns: f"{ns[0]}, {ns[1]} = unit_bwd({', '.join(ns[2:])})",
    "augmented": lambda ns: f"{ns[0]} += matmul({', '.join(ns[1:])})",
    "kernel of a shape": lambda ns: f"{ns[0]} = empty(({', '.join(n + '.shape[0]' for n in ns[1:])}))",
    "raise": lambda ns: f'raise ShapeAssumption("lengths differ: {" ".join(ns)}")',
    "return call": lambda ns: f"return helper({', '.join(ns)})",
    "return tuple": lambda ns: f"return {', '.join(ns)}",
    "condition": lambda ns: "if " + " or ".join(f"{a}.shape[0] != {ns[0]}.shape[0]" for a in ns[1:]) + ":",
    "while": lambda ns: "while " + " and ".join(f"{a} < {ns[0]}" for a in ns[1:]) + ":",
    "short": lambda ns: f"{ns[0]} = {ns[1]} * {ns[2]}",
}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("depth", [1, 3])
def test_each_form_is_laid_out_as_black_lays_it_out(form, depth):
    tried_long = False
    for count in (3, 4, 6, 9, 14):
        for length in (3, 8, 15):
            code = FORMS[form](names(count, length))
            lines = lay_out("    " * depth, code)
            tried_long |= len("    " * depth + code) > WIDTH
            text = in_function(depth, lines, header=code.endswith(":"))
            assert black_text(text) == text, f"{form}: {code}"
    assert tried_long or form == "short"


@pytest.mark.parametrize("code, expected", [
    ("y = x ** 2", "y = x**2"),
    ("y = -(x ** 2.0)", "y = -(x**2.0)"),
    ("y = a.b ** c", "y = a.b**c"),
    ("y = x ** -k", "y = x**-k"),
    ("y = x[i0] ** 2", "y = x[i0] ** 2"),
    ("y = (a + b) ** 2", "y = (a + b) ** 2"),
    ("y = f(x) ** 2", "y = f(x) ** 2"),
    ("y = x ** f(k)", "y = x ** f(k)"),
    ("y = x ** k[0]", "y = x ** k[0]"),
])
def test_powers_of_simple_operands_are_hugged(code, expected):
    assert hug_powers(code) == expected
    assert black_text(expected + "\n") == expected + "\n"


def _program_sources(count: int, directory):
    for seed in range(count):
        prog = pg.random_program(seed, pg.STRAIGHT_LINE | pg.CONTROL_FLOW)
        mod = prog.load(directory)
        args = mod.args()
        for make in (lambda: ct.grad(mod.f, argnums=prog.argnums),
                     lambda: ct.jacfwd(mod.f, argnums=prog.argnums[0]),
                     lambda: ct.differentiable(mod.f)):
            yield f"seed {seed}", ct.source(make(), *args)


def test_generated_source_of_random_programs_passes_black(tmp_path):
    checked = 0
    for what, text in _program_sources(24, tmp_path):
        assert black_text(text) == text, what
        checked += 1
    assert checked == 72


def test_generated_source_of_a_model_gradient_passes_black():
    from cotangent.models import mlp
    model = mlp.iris_mlp(target="cpu")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)), np.eye(3)[rng.integers(0, 3, 8)]
    model.loss_and_grad(x, y, rng, update_state=False)
    text = model.source("grad")
    assert "# adjoint of" in text
    assert black_text(text) == text
    model_text = model.source("model")          # the model's own generated source
    assert black_text(model_text) == model_text


def test_batch_driver_source_passes_black():
    def f(x, w):
        return np.sum(np.tanh(x * w) ** 2)

    rng = np.random.default_rng(0)
    args = (rng.normal(size=(7, 5)), rng.normal(size=5))
    for reduce in (None, "sum"):
        text = ct.source(ct.vmap(ct.grad(f), in_axes=(0, None), reduce=reduce), *args)
        assert "prange" in text
        assert black_text(text) == text
    text = ct.source(ct.hessian(f), args[0][0], args[1])
    assert black_text(text) == text
