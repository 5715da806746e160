"""Lowering of control flow and mutation: if/elif/else, early returns, for/while loops with break and
continue, short-circuit and/or, conditional expressions, and element or slice writes.

The IR stays structured and close to SSA. A name that changes in a loop gets one *carried* name,
assigned before the loop and at the end of every path through the body; a name that a branch
changes gets a *merged* name, assigned at the end of each branch. `continue`, `break` and `return`
only ever end a branch: the statements after an `if` that may leave early are lowered into each of
its branches, so every block runs to its end once entered, which is what the reverse sweep mirrors."""
from __future__ import annotations

import ast
import copy
from contextlib import contextmanager
from dataclasses import dataclass

from ..ir.nodes import If, For, While, Break, SetItem, Var
from ..ir.types import Type, TupleType, FLOAT, INT, BOOL, promote
from ..ir.builder import Sym
from . import lists
from .resolve import FuncRef, UserModule, module_attribute as resolve_module_attribute

# ops whose result may share memory with their first operand: writing through it is refused
VIEW_OPS = {"stop_gradient", "getitem", "reshape", "reshape_like", "ravel", "transpose", "expand_dims", "squeeze", "alias",
            "diag", "flip"}
DEFAULT_SNAPSHOTS = 20         # ct.checkpointed(range(n)) without snapshots=
# ops safe to evaluate eagerly in the right operand of `and`/`or` (no index, no division)
SAFE_OPS = {"lt", "le", "gt", "ge", "eq", "ne", "not", "logical_not", "logical_and", "logical_or",
            "add", "sub", "mul", "neg", "abs", "alias"}


class Widen(Exception):
    """A carried name starts as an int but becomes a float in the loop: lower the loop again with
    that name converted to float before it."""

    def __init__(self, names):
        super().__init__(", ".join(sorted(names)))
        self.names = set(names)


@dataclass
class LoopContext:
    carried: dict                  # user name -> the carried Sym
    node: ast.AST
    has_break: bool = False


@dataclass
class ReturnPoint:
    block: list
    values: object                 # Sym or tuple of Syms
    node: ast.AST


def assigned_names(stmts) -> set:
    """Names bound anywhere in these statements (nested blocks included), not element writes; and
    the items and count of the lists appended to or popped from (lists.py)."""
    out = lists.changed_keys(stmts)
    for s in stmts:
        for node in ast.walk(s):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                out.add(node.id)
    return out


def may_exit(stmts, loops_too=True) -> bool:
    """Whether a return, break or continue (of the enclosing loop) can end these statements early."""
    for s in stmts:
        if isinstance(s, (ast.Return, ast.Break, ast.Continue)):
            return True
        if isinstance(s, ast.If) and (may_exit(s.body) or may_exit(s.orelse)):
            return True
        if isinstance(s, (ast.For, ast.While)) and any(isinstance(n, ast.Return) for n in ast.walk(s)):
            return True
    return False


class ControlFlow:
    """Mixin for the Lowerer: statements that open blocks, and element writes."""

    # --- blocks ---
    @contextmanager
    def block(self, stmts: list):
        saved = self.b.stmts
        self.b.stmts = stmts
        try:
            yield stmts
        finally:
            self.b.stmts = saved

    def lower_seq(self, stmts, at_end=None, cont: tuple = ()) -> bool:
        """Lower statements, then the continuation `cont` (the statements that follow them in an
        enclosing block), into the current block. True when control falls off the end (`at_end`,
        when given, has then been called); False when every path ended in return/break/continue."""
        for j, s in enumerate(stmts):
            self.b.loc = self.parsed.loc(s)
            rest = stmts[j + 1:]
            if isinstance(s, (ast.Return, ast.Break, ast.Continue)):
                if rest:
                    self.error(rest[0], f"code after {type(s).__name__.lower()} is unreachable")
                if isinstance(s, ast.Return):
                    self.lower_return_point(s)
                else:
                    self.leave_loop(s)
                return False
            if not self.pending_lists() or not isinstance(s, (ast.If, ast.For, ast.While)):
                if isinstance(s, ast.If) and may_exit([s]):
                    return self.lower_if(s, ((list(rest),) if rest else ()) + tuple(cont), at_end)
                self.lower_stmt(s)
                continue
            while True:         # a list first appended to inside s: make its array in front of s
                saved = self.snapshot()
                try:
                    if isinstance(s, ast.If) and may_exit([s]):
                        return self.lower_if(s, ((list(rest),) if rest else ()) + tuple(cont), at_end)
                    self.lower_stmt(s)
                    break
                except lists.NeedList as need:      # (blocks entered since have been left)
                    if need.ref.block != id(self.b.stmts):
                        raise
                    self.restore(saved)
                    self.b.loc = self.parsed.loc(s)
                    lists.allocate(self, need.ref, need.item_type)
        if cont:
            return self.lower_seq(cont[0], at_end, tuple(cont[1:]))
        if at_end is not None:
            at_end()
        return True

    def pending_lists(self) -> bool:
        """Whether a list made in this block has no array yet (its first append may be nested)."""
        here = id(self.b.stmts)
        return any(isinstance(v, lists.ListRef) and v.block == here and v.items_key not in self.env
                   for v in self.env.values())

    # --- if ---
    def condition(self, node) -> Sym:
        v = self.value(node)
        if isinstance(v.type, TupleType):
            self.error(node, "a tuple is not a condition")
        if v.rank > 0:
            self.error(node, "the truth value of an array is ambiguous",
                       hint="reduce it to one value first, e.g. np.sum(x > 0) > 0, or use np.where for elementwise choices")
        if v.type.kind != BOOL:
            v = self.b.op("ne", v, self.b.const(0))
        return v

    def lower_if(self, s: ast.If, rest: tuple = (), at_end=None) -> bool:
        """`rest`: the statement lists that follow, innermost first (lowered into each branch
        when a branch may leave early)."""
        cond = self.condition(s.test)
        loc = self.parsed.loc(s)
        env0 = dict(self.env)
        then_block, else_block = [], []
        split = may_exit([s])
        ends = []
        for block, branch in ((then_block, s.body), (else_block, s.orelse)):
            self.env = dict(env0)
            with self.block(block):
                if split:
                    ends.append(self.lower_seq(list(branch), at_end, cont=rest))
                else:
                    self.lower_seq(branch)
                    ends.append(dict(self.env))
        self.b.stmts.append(If(cond.value, then_block, else_block, loc))
        if split:
            self.env = env0
            return ends[0] or ends[1]
        self.b.loc = loc              # merged names are commented with the if they come from
        self.env = self.merge(env0, ends[0], ends[1], then_block, else_block, s)
        return True

    def merge(self, env0, env_a, env_b, block_a, block_b, node):
        """Bindings after an if: names bound differently in the branches get a merged name,
        assigned at the end of each branch."""
        out = dict(env0)
        for name in sorted(set(env_a) | set(env_b)):
            a, b = env_a.get(name), env_b.get(name)
            if a is None or b is None:
                out.pop(name, None)
                self.undefined[name] = f"{name!r} is assigned in only one branch of the if at line {node.lineno}"
                continue
            if a is b or (isinstance(a, Sym) and a == b) or (
                    isinstance(a, lists.ListRef) and isinstance(b, lists.ListRef) and a.name == b.name):
                out[name] = a
                continue
            out[name] = self.merged_value(name, a, b, block_a, block_b, node)
        return out

    def merged_value(self, name, a, b, block_a, block_b, node):
        if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
            return tuple(self.merged_value(name, x, y, block_a, block_b, node) for x, y in zip(a, b))
        both_values = isinstance(a, Sym) and isinstance(b, Sym)
        if not both_values or (isinstance(a.type, TupleType) and a.type != b.type):
            self.error(node, f"{name!r} holds different kinds of values after the branches of this if",
                       hint="give each kind of value its own name")
        ty = self.join_types(name, a.type, b.type, node)
        target = self.names.fresh(lists.identifier(name), temp=False)
        for block, v in ((block_a, a), (block_b, b)):
            with self.block(block):
                self.b.op("alias", self.cast(v, ty), target=target)
        merged = self.b.sym(Var(target))
        self.b.phi_sources[target] = [a, b]
        return merged

    def join_types(self, name, a: Type, b: Type, node) -> Type:
        if isinstance(a, TupleType) or isinstance(b, TupleType):
            if a == b:
                return a
            self.error(node, f"{name!r} has different shapes on different paths")
        if a.rank != b.rank:
            self.error(node, f"{name!r} is a {_rank_word(a.rank)} on one path and a {_rank_word(b.rank)} on another",
                       hint="give the two values different names")
        kind = promote(a.kind, b.kind)
        if a.rank > 0 and a.kind != b.kind:
            self.error(node, f"{name!r} is an array of {a.kind} on one path and of {b.kind} on another",
                       hint="convert with .astype(float)")
        return Type(kind, a.rank)

    def cast(self, v: Sym, ty: Type) -> Sym:
        if v.type == ty or isinstance(ty, TupleType):
            return v
        if v.is_const and ty.rank == 0 and ty.kind in (FLOAT, INT):
            return self.b.const(float(v.const_value()) if ty.kind == FLOAT else int(v.const_value()))
        if ty.kind == FLOAT:
            return self.b.op("float", v)
        if ty.kind == INT:
            return self.b.op("int", v)
        return v

    # --- returns ---
    def lower_return_point(self, s: ast.Return):
        if self.loops:
            self.error(s, "return inside a loop is not supported",
                       hint="assign the result to a name, break out of the loop, and return after it")
        self.returns.append(ReturnPoint(self.b.stmts, self.lower_return(s), s))

    def finish_returns(self, top_block):
        """The function's result: the returned values, merged when there are several returns."""
        points = self.returns
        if not points:
            self.error(self.parsed.tree, "the function must end with a return statement",
                       hint="differentiable functions return the value to differentiate")
        if len(points) == 1 and points[0].block is top_block:
            return points[0].values
        first = points[0].values
        shape = len(first) if isinstance(first, tuple) else None
        for p in points:
            n = len(p.values) if isinstance(p.values, tuple) else None
            if n != shape:
                self.error(p.node, "every return must return the same number of values")
        columns = list(zip(*[p.values for p in points])) if shape is not None else [[p.values for p in points]]
        merged = []
        for k, column in enumerate(columns):
            for v, p in zip(column, points):
                if not isinstance(v, Sym) or isinstance(v.type, TupleType):
                    self.error(p.node, "return numbers or arrays (or a tuple of them)")
            ty = column[0].type
            for v, p in zip(column[1:], points[1:]):
                ty = self.join_types("the returned value", ty, v.type, p.node)
            target = self.names.fresh("result", temp=False)
            for v, p in zip(column, points):
                with self.block(p.block):
                    self.b.loc = self.parsed.loc(p.node)
                    self.b.op("alias", self.cast(v, ty), target=target)
            merged.append(self.b.sym(Var(target)))
        return tuple(merged) if shape is not None else merged[0]

    # --- loops ---
    def lower_loop(self, s):
        if s.orelse:
            self.error(s, f"`{type(s).__name__.lower()} ... else` is not supported",
                       hint="use a flag set before break")
        widen: set = set()
        for _ in range(8):
            saved = self.snapshot()
            try:
                return self.lower_loop_once(s, widen)
            except Widen as w:
                mine = w.names & assigned_names(s.body)
                if not mine or mine <= widen:
                    raise
                self.restore(saved)
                widen |= mine
        self.error(s, "the types of the loop's variables do not settle")

    def snapshot(self):
        b = self.b
        return (len(b.stmts), copy.deepcopy(self.names), dict(self.types), dict(self.env), dict(b.defs),
                dict(b.phi_sources), set(b.written), dict(self.undefined), set(b.pinned))

    def restore(self, saved):
        n, names, types, env, defs, phis, written, undefined, pinned = saved
        self.b.pinned = pinned
        del self.b.stmts[n:]
        self.names.__dict__.update(names.__dict__)
        self.types.clear()
        self.types.update(types)
        self.env = env
        self.b.defs = defs
        self.b.phi_sources = phis
        self.b.written = written
        self.undefined = undefined

    def lower_loop_once(self, s, widen):
        loc = self.parsed.loc(s)
        is_for = isinstance(s, ast.For)
        if is_for:
            start, stop, step, var_name = self.range_of(s)
            checkpoint = self.checkpoint
        body_names = assigned_names(s.body)
        carried = {}
        for name in sorted(body_names):
            if name not in self.env or (is_for and name == var_name):
                continue
            value = self.env[name]
            if isinstance(value, lists.ListRef):
                continue        # its items and count are carried
            if not isinstance(value, Sym) or isinstance(value.type, TupleType):
                self.error(s, f"{name!r} is reassigned in the loop, but it holds {_what(value)}",
                           hint="only numbers and arrays can change from one trip to the next")
            self.b.loc = loc
            if name in widen:
                value = self.cast(value, Type(FLOAT, 0))
            target = self.names.fresh(lists.identifier(name), temp=False)
            carried[name] = self.b.op("alias", value, target=target)
            self.b.phi_sources[target] = [value]
            self.env[name] = carried[name]
        env_entry = dict(self.env)
        ctx = LoopContext(carried, s)
        body = []
        self.loops.append(ctx)
        try:
            if is_for:
                var = self.names.fresh(var_name, temp=False)
                self.types[var] = Type(INT, 0)
                self.env[var_name] = self.b.sym(Var(var))
                with self.block(body):
                    self.lower_seq(s.body, at_end=lambda: self.carry(ctx))
                node = For(var, start.value, stop.value, step.value, body, loc, checkpoint=checkpoint)
            else:
                cond_body = []
                with self.block(cond_body):
                    self.b.loc = loc
                    cond = self.condition(s.test)
                with self.block(body):
                    self.lower_seq(s.body, at_end=lambda: self.carry(ctx))
                node = While(cond_body, cond.value, body, loc)
        finally:
            self.loops.pop()
        self.b.loc = loc
        self.b.stmts.append(node)
        self.env = env_entry
        for name in body_names - set(env_entry):
            self.undefined[name] = (f"{name!r} is assigned only inside the loop at line {s.lineno}"
                                    + (", as its loop variable" if is_for and name == var_name else ""))
        if is_for and var_name in env_entry and var_name not in carried:
            self.undefined[var_name] = f"{var_name!r} is the loop variable of the loop at line {s.lineno}"
            self.env.pop(var_name, None)
        if self.loops or self.enclosing_loops:
            # a value read after an inner loop gets its own name, so each value has one definition
            for name, c in carried.items():
                after = self.b.op("alias", c, target=self.names.fresh(lists.identifier(name), temp=False))
                self.b.phi_sources[after.value.name] = [c]
                self.env[name] = after

    def range_of(self, s: ast.For):
        it = self.unmarked(s)
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                and not it.keywords and 1 <= len(it.args) <= 3):
            self.error(it, "only `for ... in range(...)` loops are supported",
                       hint="loop over indices: for i in range(x.shape[0])")
        if not isinstance(s.target, ast.Name):
            self.error(s.target, "the loop variable must be a single name")
        args = [self.value(a) for a in it.args]
        for a, node in zip(args, it.args):
            if a.type != Type(INT, 0) and a.type != Type(BOOL, 0):
                self.error(node, f"range() needs integers, got {a.type}", hint="convert with int(...)")
        if len(args) == 1:
            args = [self.b.const(0), args[0], self.b.const(1)]
        elif len(args) == 2:
            args = args + [self.b.const(1)]
        if args[2].is_const and args[2].const_value() == 0:
            self.error(it, "range() step must not be zero")
        return args[0], args[1], args[2], s.target.id

    def unmarked(self, s: ast.For):
        """The range of `for t in ct.checkpointed(range(...), snapshots=s)`, noting s on the loop
        (reverse mode then keeps s snapshots of its state instead of a tape: transforms/checkpoint.py)."""
        it = s.iter
        self.checkpoint = None
        if not (isinstance(it, ast.Call) and isinstance(it.func, (ast.Name, ast.Attribute))) or (
                isinstance(it.func, ast.Name) and it.func.id == "range"):
            return it
        if isinstance(it.func, ast.Attribute):
            base = self.expr(it.func.value) if isinstance(it.func.value, ast.Name) else None
            marker = resolve_module_attribute(base, it.func.attr) if isinstance(base, UserModule) else None
        else:
            marker = self.lookup(it.func.id, it.func) if it.func.id not in self.env else None
        if not (isinstance(marker, FuncRef) and marker.module == "ct" and marker.name == "checkpointed"):
            return it
        if len(it.args) != 1 or any(k.arg != "snapshots" for k in it.keywords) or len(it.keywords) > 1:
            self.error(it, "ct.checkpointed takes a range and the keyword snapshots",
                       hint="for t in ct.checkpointed(range(n), snapshots=20):")
        snapshots = self.value(it.keywords[0].value) if it.keywords else self.b.const(DEFAULT_SNAPSHOTS)
        if snapshots.type != Type(INT, 0) or (snapshots.is_const and snapshots.const_value() < 1):
            self.error(it, "snapshots must be a positive integer", hint="snapshots=20")
        self.checkpoint = snapshots.value
        return it.args[0]

    def carry(self, ctx: LoopContext):
        """At the end of a path through the body: the carried names take this trip's values."""
        for name, c in ctx.carried.items():
            cur = self.env.get(name)
            if cur is None:
                self.error(ctx.node, f"{name!r} is not defined on every path through the loop")
            if cur == c:
                continue
            if not isinstance(cur, Sym) or isinstance(cur.type, TupleType):
                self.error(ctx.node, f"{name!r} changes kind in the loop")
            if cur.rank != c.rank:
                self.error(ctx.node, f"{name!r} is a {_rank_word(c.rank)} before the loop and a "
                                     f"{_rank_word(cur.rank)} inside it",
                           hint="give the two values different names")
            if cur.type.kind == FLOAT and c.type.kind != FLOAT:
                if c.rank:
                    self.error(ctx.node, f"{name!r} is an integer array before the loop and a float array in it",
                               hint="make it float before the loop (np.zeros(n) or .astype(float))")
                raise Widen({name})
            if c.value.name in self.b.written and not self.owned(cur):
                self.error(ctx.node, f"{name!r} is written to in the loop but may hold an argument or a view",
                           hint=f"make it a fresh array: {name} = {name}.copy()")
            self.b.op("alias", self.cast(cur, c.type), target=c.value.name)
            self.b.phi_sources.setdefault(c.value.name, []).append(cur)

    def leave_loop(self, s):
        if not self.loops:
            self.error(s, f"{type(s).__name__.lower()} outside a loop")
        ctx = self.loops[-1]
        self.carry(ctx)
        if isinstance(s, ast.Break):
            ctx.has_break = True
            self.b.stmts.append(Break(self.parsed.loc(s)))

    # --- expressions with branches ---
    def short_circuit(self, e: ast.BoolOp, first: Sym):
        """`a and b` / `a or b` on numbers: b is evaluated only when needed (it may index or divide)."""
        is_and = isinstance(e.op, ast.And)
        acc = first if first.type.kind == BOOL else self.b.op("ne", first, self.b.const(0))
        for node in e.values[1:]:
            scratch = []
            with self.block(scratch):
                right = self.condition(node)
            if all(getattr(st, "op", None) in SAFE_OPS for st in scratch):
                self.b.stmts.extend(scratch)
                acc = self.b.op("logical_and" if is_and else "logical_or", acc, right)
                continue
            target = self.names.fresh("t")
            evaluated = scratch
            with self.block(evaluated):
                self.b.op("alias", right, target=target)
            other = []
            with self.block(other):
                self.b.op("alias", self.b.const(not is_and), target=target)
            self.b.stmts.append(If(acc.value, evaluated if is_and else other, other if is_and else evaluated,
                                   self.b.loc))
            acc = self.b.sym(Var(target))
        return acc

    def if_expression(self, e: ast.IfExp, test: Sym):
        cond = test if test.type.kind == BOOL else self.b.op("ne", test, self.b.const(0))
        blocks, values = [[], []], []
        for block, node in zip(blocks, (e.body, e.orelse)):
            with self.block(block):
                values.append(self.value(node))
        ty = self.join_types("the conditional expression", values[0].type, values[1].type, e)
        target = self.names.fresh("t")
        for block, v in zip(blocks, values):
            with self.block(block):
                self.b.op("alias", self.cast(v, ty), target=target)
        self.b.stmts.append(If(cond.value, blocks[0], blocks[1], self.b.loc))
        self.b.phi_sources[target] = values
        return self.b.sym(Var(target))

    # --- element and slice writes ---
    def owned(self, sym) -> bool:
        """Whether an array value is a fresh array of this function (not an argument or a view),
        so that writing into it changes nothing else."""
        if not isinstance(sym.value, Var):
            return False
        seen = set()

        def go(name):
            if name in seen:
                return True
            seen.add(name)
            if name in self.b.phi_sources:
                return all(isinstance(v.value, Var) and go(v.value.name) for v in self.b.phi_sources[name])
            op = self.b.defs.get(name)
            return op is not None and op not in VIEW_OPS
        return go(sym.value.name)

    def assign_subscript(self, target: ast.Subscript, value, aug_op=None, node=None):
        from . import calls
        node = node or target
        base = self.expr(target.value)
        if not isinstance(base, Sym) or base.rank == 0 or isinstance(base.type, TupleType):
            self.error(target, "only arrays can be written to element by element")
        if not self.owned(base):
            what = ast.unparse(target.value)
            raise calls.ArgumentWritten(f"{what} is an argument or a view of another array, and writing to it "
                                        "would change that array too", self.parsed.loc(target),
                                        hint=f"write to a copy: {what} = {what}.copy()")
        pattern, operands, unique = calls.index_pattern(self, target.slice, base)
        element = self.b.op("getitem", base, *operands, index=pattern)
        if aug_op is not None:
            value = calls.binop(self, node, aug_op, element, value)
        if not isinstance(value, Sym) or isinstance(value.type, TupleType):
            self.error(node, "only a number or an array can be written into an array")
        if value.rank > element.rank:
            self.error(node, f"cannot write a rank-{value.rank} value into a rank-{element.rank} part of an array")
        if value.type.kind == FLOAT and base.type.kind != FLOAT:
            self.error(node, f"writing a float into an array of {base.type.kind} would truncate it",
                       hint="make the array float: np.zeros(n) or x.astype(float)")
        if aug_op is None:
            self.b.stmts.pop()        # the read was only for the type check
            self.names.temps.discard(element.value.name)
            self.types.pop(element.value.name, None)
        if not unique and base.type.kind == FLOAT:
            value = self.last_value_kept(base, operands, pattern, value)
        self.b.stmts.append(SetItem(base.value.name, tuple(o.value for o in operands), (("index", pattern),),
                                    value.value, self.parsed.loc(node)))
        self.b.written.add(base.value.name)


    def last_value_kept(self, base: Sym, operands, pattern, value: Sym) -> Sym:
        """The value written through an index that may name an element twice, zero where a later
        element of the index names the same one: NumPy keeps the last value written there, so
        only it has a derivative."""
        from ..rules.indexing import positions
        last = self.b.op("last_written", positions(self.b, base, operands, pattern), base)
        return self.b.op("where", last, value, self.b.const(0.0))


def _rank_word(rank: int) -> str:
    return "number" if rank == 0 else f"rank-{rank} array"


def _what(value) -> str:
    if isinstance(value, tuple):
        return "a tuple"
    return type(value).__name__.lower()
