"""The shipped table of derived elementwise rules (rules/recipes.py): current, identical to what
SymPy derives statement for statement, and enough for a gradient in a fresh process without SymPy.
The rules themselves are checked against central differences in test_rules_elementwise.py, which
now runs through the table."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from cotangent.ir.builder import Builder, NameAllocator
from cotangent.ir.nodes import Var
from cotangent.ir.types import Type, FLOAT
from cotangent.rules import derive, elementwise, recipes, table


def test_table_is_current():
    """A changed definition or derivation must come with `python -m cotangent derive-rules`."""
    data = json.loads(recipes.TABLE_PATH.read_text())
    assert data["fingerprint"] == recipes.fingerprint(), "run: python -m cotangent derive-rules"
    assert len(data["recipes"]) > 1000


def test_table_is_what_sympy_derives():
    assert recipes.build_table() == json.loads(recipes.TABLE_PATH.read_text())


def _builder(rank: int) -> Builder:
    names = ("x0", "x1", "x2", "out", "g", "dot0", "dot1", "dot2")
    types = {n: Type(FLOAT, rank if n != "x1" else 0) for n in names}
    return Builder(types, NameAllocator(names), role="adjoint")


def _rule(b: Builder, name: str, kind: str, mask: tuple, consts: tuple, derived: bool):
    """The rule emitted into `b`, from the table (derived=False) or by SymPy directly."""
    args = [b.sym(Var(f"x{k}")) if c is None else b.const(c) for k, c in enumerate(consts)]
    out = b.sym(Var("out"))
    prim = table.get(name)
    if kind == "vjp":
        if not derived:
            return prim.vjp(b, b.sym(Var("g")), out, args, list(mask), {})
        parts, env = elementwise._sympy_env(name, args, out)
        return derive.emit_vjp(b, b.sym(Var("g")), parts, list(mask), env)
    tangents = [b.sym(Var(f"dot{k}")) if m else None for k, m in enumerate(mask)]
    if not derived:
        return [prim.jvp(b, out, args, tangents, {})]
    parts, env = elementwise._sympy_env(name, args, out)
    return [derive.emit_jvp(b, parts, tangents, env)]


@pytest.mark.parametrize("rank", [0, 1], ids=["scalars", "an array beside a scalar"])
def test_replay_emits_the_derivations_statements(rank):
    """Every tabulated rule, replayed through a real Builder (its folding included), appends the
    very statements SymPy's derivation appends, and gives the same values."""
    rules = recipes.rules_to_tabulate()
    replayed = 0
    for name, kind, mask, consts in rules:
        if recipes.lookup(name, kind, mask, consts) is None:
            continue                           # not derivable there; SymPy raises as before
        b_table, b_sympy = _builder(rank), _builder(rank)
        got = _rule(b_table, name, kind, mask, consts, derived=False)
        want = _rule(b_sympy, name, kind, mask, consts, derived=True)
        assert b_table.stmts == b_sympy.stmts, (name, kind, mask, consts)
        assert [None if s is None else s.value for s in got] == [None if s is None else s.value for s in want]
        replayed += 1
    assert replayed > 1000


def test_untabulated_constant_is_derived_by_sympy():
    """`x ** 2.7` is not in the table: SymPy derives it, and the result is right."""
    assert recipes.lookup("pow", "vjp", (True, False), (None, 2.7)) is None
    b = _builder(0)
    (dx, dy) = table.get("pow").vjp(b, b.sym(Var("g")), b.sym(Var("out")), [b.sym(Var("x0")), b.const(2.7)],
                                    [True, False], {})
    assert dy is None and b.stmts


def test_stale_table_is_ignored(monkeypatch):
    monkeypatch.setattr(recipes, "_table", None)
    monkeypatch.setattr(recipes, "fingerprint", lambda: "not-the-table's")
    assert recipes.lookup("tanh", "vjp", (True,), (None,)) is None
    monkeypatch.setattr(recipes, "_table", None)


def test_gradient_without_importing_sympy(tmp_path):
    """A fresh process computes a gradient of common functions without importing SymPy (0.2 s of
    import and about 0.15 s of derivation saved on every cold start)."""
    code = textwrap.dedent("""
        import sys
        import numpy as np
        import cotangent as ct

        def f(w, x):
            h = np.tanh(x @ w)
            return np.sum(np.exp(-h ** 2) * 0.5 + np.log1p(h * h)) / np.sqrt(3.0 + w[0, 0] ** 2)

        w = np.linspace(-1.0, 1.0, 6).reshape(3, 2)
        x = np.linspace(0.0, 1.0, 12).reshape(4, 3)
        g = ct.grad(f)(w, x)
        print("SYMPY", "sympy" in sys.modules, float(g.sum()))
    """)
    script = tmp_path / "fresh.py"
    script.write_text(code)
    env = dict(os.environ, COTANGENT_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("SYMPY")][0]
    assert line.split()[1] == "False"
