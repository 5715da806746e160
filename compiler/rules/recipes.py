"""Derived elementwise rules shipped as recipes, so that a fresh process need not import SymPy.

SymPy derives every elementwise rule (derive.py), and the derivation turns into IR through builder
operations only: `b.op(name, ...)`, `b.call(...)`, `b.const(v)` and arithmetic on the values they
return. A recipe is that sequence of operations, recorded once against a stand-in builder, with
each operand named by where it comes from: a rule input (`x0`, `x1`, `out`, the incoming adjoint
`g`, a tangent `dot0`), an earlier step, or a constant. Replaying a recipe through the real
Builder appends exactly the statements the derivation would have appended (the Builder's own
folding runs on replay as it would have), so generated code is byte-identical either way.

`derived_rules.json` holds the recipes of every rule with no constant operand and of binary rules
with common constant operands (`x ** 2`, `0.5 * x`), stamped with a fingerprint of the
definitions and of the derivation code. A stale table (the fingerprint differs) is ignored, and a
rule the table lacks is derived by SymPy as before. `python -m cotangent derive-rules` rewrites
the table; the tests check that it is current and that every recipe is what SymPy derives."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

TABLE_PATH = Path(__file__).with_name("derived_rules.json")
_SOURCES = ("elementwise.py", "derive.py", "recipes.py")

# the constant operands tabulated for binary rules: the numbers people write in formulas
COMMON_CONSTANTS = (0, 1, 2, 3, 4, 10, -1, -2, 0.0, 1.0, 2.0, 3.0, 4.0, 10.0, 0.5, -0.5, -1.0, -2.0,
                    1.5, 0.25, 0.1, 0.01, 1e-8)


def fingerprint() -> str:
    """A hash of the sources a recipe depends on: the definitions and how they are derived and emitted."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in _SOURCES:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def key(name: str, kind: str, mask: tuple, consts: tuple) -> str:
    """The table's key of a rule: primitive, "vjp" or "jvp", which operands carry an adjoint or a
    tangent, and the constant operands (type and value: 2 and 2.0 are different keys)."""
    bits = "".join("1" if m else "0" for m in mask)
    return f"{name}/{kind}/{bits}/" + ",".join("-" if c is None else f"{type(c).__name__}:{c!r}" for c in consts)


_table: dict | None = None


def _load() -> dict:
    global _table
    if _table is None:
        _table = {}
        try:
            data = json.loads(TABLE_PATH.read_text())
        except (OSError, ValueError):
            return _table
        if data.get("fingerprint") == fingerprint():
            _table = data["recipes"]
    return _table


def lookup(name: str, kind: str, mask: tuple, consts: tuple):
    """The recorded recipe of a rule, or None where the table has none (SymPy derives it then)."""
    if any(c is not None and type(c) not in (int, float, bool) for c in consts):
        return None
    return _load().get(key(name, kind, mask, consts))


def replay(b, recipe: dict, inputs: dict) -> list:
    """Append a recipe's statements to builder `b`; `inputs` maps the recipe's input names to Syms.
    Gives the rule's results: one Sym or None per operand (vjp), or a list of one (jvp)."""
    made: list = []

    def value(ref):
        where, what = ref
        if where == "in":
            return inputs[what]
        if where == "step":
            return made[what]
        return b.const(what)

    for name, args in recipe["steps"]:
        made.append(b.op(name, *[value(a) for a in args]))
    return [None if r is None else value(r) for r in recipe["results"]]


# --- recording ----------------------------------------------------------------------------------

class _Value:
    """Stands in for a Sym while recording: arithmetic on it records a step."""

    def __init__(self, recorder: "_Recorder", ref: tuple):
        self.recorder, self.ref = recorder, ref

    def __add__(self, o): return self.recorder.op("add", self, o)
    def __radd__(self, o): return self.recorder.op("add", o, self)
    def __sub__(self, o): return self.recorder.op("sub", self, o)
    def __rsub__(self, o): return self.recorder.op("sub", o, self)
    def __mul__(self, o): return self.recorder.op("mul", self, o)
    def __rmul__(self, o): return self.recorder.op("mul", o, self)
    def __truediv__(self, o): return self.recorder.op("truediv", self, o)
    def __rtruediv__(self, o): return self.recorder.op("truediv", o, self)
    def __pow__(self, o): return self.recorder.op("pow", self, o)
    def __neg__(self): return self.recorder.op("neg", self)


class _Recorder:
    """Stands in for a Builder while recording: each operation becomes a step of the recipe."""

    def __init__(self):
        self.steps: list = []

    def const(self, v) -> _Value:
        return _Value(self, ("const", v))

    def op(self, name: str, *args, **params) -> _Value:
        if params:
            raise ValueError(f"a recipe step takes no parameters ({name} {params})")
        refs = [a.ref if isinstance(a, _Value) else ("const", a) for a in args]
        self.steps.append([name, refs])
        return _Value(self, ("step", len(self.steps) - 1))

    call = op


def record(name: str, kind: str, mask: tuple, consts: tuple) -> dict:
    """Derive a rule with SymPy and record the builder operations it emits."""
    from . import derive
    from .elementwise import DEFINITIONS
    rec = _Recorder()
    xs, out_sym = derive.symbols(DEFINITIONS[name].arity)
    env = {x: _Value(rec, ("in", f"x{k}")) for k, (x, c) in enumerate(zip(xs, consts)) if c is None}
    env[out_sym] = _Value(rec, ("in", "out"))
    parts = derive.partials(name, consts)
    if kind == "vjp":
        results = derive.emit_vjp(rec, _Value(rec, ("in", "g")), parts, mask, env)
    else:
        tangents = [_Value(rec, ("in", f"dot{k}")) if m else None for k, m in enumerate(mask)]
        results = [derive.emit_jvp(rec, parts, tangents, env)]
    return {"steps": [[n, [list(r) for r in refs]] for n, refs in rec.steps],
            "results": [None if r is None else list(r.ref) for r in results]}


def rules_to_tabulate() -> list[tuple]:
    """(name, kind, mask, consts) of every rule the table holds: each primitive with no constant
    operand under every non-empty mask, and each binary one with one common constant operand."""
    from .elementwise import DEFINITIONS
    out = []
    for name in sorted(DEFINITIONS):
        n = DEFINITIONS[name].arity
        const_sets = [(None,) * n]
        if n == 2:
            for k in range(2):
                const_sets += [tuple(c if i == k else None for i in range(2)) for c in COMMON_CONSTANTS]
        if name == "polygamma":              # its order is always a constant
            const_sets = [(order, None) for order in range(4)]
        for consts in const_sets:
            free = [k for k, c in enumerate(consts) if c is None]
            for bits in range(1, 2 ** len(free)):
                mask = [False] * n
                for j, k in enumerate(free):
                    mask[k] = bool(bits >> j & 1)
                for kind in ("vjp", "jvp"):
                    out.append((name, kind, tuple(mask), consts))
    return out


def build_table() -> dict:
    """Every tabulated rule's recipe, derived by SymPy now."""
    recipes = {}
    for name, kind, mask, consts in rules_to_tabulate():
        try:
            recipes[key(name, kind, mask, consts)] = record(name, kind, mask, consts)
        except (TypeError, ValueError, RuntimeError):
            continue        # no real derivative there (log of a negative base): left to fail as before
    return {"fingerprint": fingerprint(), "recipes": recipes}


def write_table() -> int:
    table = build_table()
    TABLE_PATH.write_text(json.dumps(table, sort_keys=True, separators=(",", ":")) + "\n")
    return len(table["recipes"])

