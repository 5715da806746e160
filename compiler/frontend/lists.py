"""Lists used as stacks: `stack = []`, `stack.append(v)`, `stack.pop()`, `stack[i]`, `len(stack)`,
`np.array(stack)`, as Tangent allows and as loop code collects values.

A list is lowered to two values the rest of the compiler already differentiates: an array of its
items with room to grow (named after the list) and a count (`stack_len`). An append writes one
row and counts it, making room first (a larger array when it is full: rules/lists.py); a pop uncounts the
last row and reads it; `stack[i]` reads a row at a checked index. The items of one list are
numbers, or arrays of one rank.

The array is made at the list's first append, whose item says the shape of a row. When that append
is inside a loop or a branch, the array must exist before it (a loop carries it from trip to trip),
so lowering that block stops (`NeedList`) and starts again with the array made in front of it, in
the block where the list was made (control.py, `lower_seq`)."""
from __future__ import annotations

import ast
from dataclasses import dataclass

from ..ir.nodes import SetItem
from ..ir.types import Type, FLOAT, INT, BOOL

METHODS = ("append", "pop")
INT_INDEX = (("int",),)


@dataclass(frozen=True)
class ListRef:
    """A list in the environment; its array and count live under `items_key` and `count_key`."""
    name: str
    block: int            # id() of the statement list the list was made in

    @property
    def items_key(self) -> str:
        return f"{self.name}.items"

    @property
    def count_key(self) -> str:
        return f"{self.name}.count"


class NeedList(Exception):
    """The first append of a list happens in a block nested in the one that made it."""

    def __init__(self, ref: ListRef, item_type: Type):
        super().__init__(ref.name)
        self.ref = ref
        self.item_type = item_type


def identifier(key: str) -> str:
    """The Python name of an environment key: the items array is named after the list."""
    if key.endswith(".items"):
        return key[:-len(".items")]
    if key.endswith(".count"):
        return key[:-len(".count")] + "_len"
    return key


def list_names(tree: ast.AST) -> set:
    """Names used as stacks in a function: those whose .append or .pop is called."""
    return {node.func.value.id for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in METHODS and isinstance(node.func.value, ast.Name)}


def changed_keys(stmts) -> set:
    """Environment keys a block changes through list methods (for the names a loop carries)."""
    out = set()
    for s in stmts:
        for node in ast.walk(s):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in METHODS and isinstance(node.func.value, ast.Name):
                ref = ListRef(node.func.value.id, 0)
                out |= {ref.items_key, ref.count_key}
    return out


def make(lw, name: str, node: ast.List) -> None:
    """`name = [...]` for a name used as a stack: an empty list, then one append per element."""
    ref = ListRef(name, id(lw.b.stmts))
    previous = lw.env.get(ref.items_key)
    lw.env[name] = ref
    if previous is not None:            # made again (in a loop): same rank, new array
        allocate(lw, ref, Type(previous.type.kind, previous.rank - 1))
    for elt in node.elts:
        append(lw, ref, lw.value(elt), elt)


def allocate(lw, ref: ListRef, item_type: Type) -> None:
    b = lw.b
    zero = b.const(0)
    items = b.op("zeros", *[zero] * (item_type.rank + 1), dtype=item_type.kind)
    lw.env[ref.items_key] = b.name(items, lw.names.fresh(identifier(ref.items_key), temp=False))
    lw.env[ref.count_key] = b.op("alias", zero, target=lw.names.fresh(identifier(ref.count_key), temp=False))


def _checked(lw, ref: ListRef, node):
    if ref.items_key not in lw.env:
        lw.error(node, f"the list {ref.name!r} is empty here: nothing was appended to it yet")
    return lw.env[ref.items_key], lw.env[ref.count_key]


def append(lw, ref: ListRef, v, node) -> None:
    b = lw.b
    if ref.items_key not in lw.env:
        if ref.block != id(b.stmts):
            raise NeedList(ref, v.type)
        allocate(lw, ref, v.type)
    items, count = lw.env[ref.items_key], lw.env[ref.count_key]
    if v.rank != items.rank - 1:
        lw.error(node, f"the items of the list {ref.name!r} must all have the same rank: this one is "
                       f"{_rank_word(v.rank)}, earlier ones {_rank_word(items.rank - 1)}")
    if v.type.kind == FLOAT and items.type.kind != FLOAT:
        lw.error(node, f"the list {ref.name!r} holds integers, and this item is a float",
                 hint="append a float first (e.g. 0.0), so that the list holds floats")
    if v.type.kind != items.type.kind:
        v = lw.cast(v, Type(items.type.kind, v.rank))
    # make room (a larger array when it is full), then write the row and count it
    target = lw.names.fresh(identifier(ref.items_key), temp=False)
    items = b.op("list_room", items, count, v, target=target)
    b.stmts.append(SetItem(target, (count.value,), (("index", INT_INDEX),), v.value, lw.parsed.loc(node)))
    b.written.add(target)
    lw.env[ref.items_key] = items
    lw.env[ref.count_key] = b.op("add", count, b.const(1), target=lw.names.fresh(identifier(ref.count_key), temp=False))


def pop(lw, ref: ListRef, node):
    """The last item, removed."""
    b = lw.b
    items, count = _checked(lw, ref, node)
    top = b.op("list_top", count, target=lw.names.fresh(identifier(ref.count_key), temp=False))
    lw.env[ref.count_key] = top
    item = b.op("getitem", items, top, index=INT_INDEX)
    return b.op("copy", item) if item.rank else item


def read(lw, ref: ListRef, node: ast.Subscript):
    """`stack[i]`: the item at i (negative i counts from the end); IndexError past either end."""
    b = lw.b
    items, count = _checked(lw, ref, node)
    if isinstance(node.slice, (ast.Slice, ast.Tuple)):
        lw.error(node, f"index the list {ref.name!r} with one integer",
                 hint=f"np.array({ref.name})[a:b] makes an array of its items to slice")
    i = lw.value(node.slice)
    if i.type not in (Type(INT, 0), Type(BOOL, 0)):
        lw.error(node, f"list indices must be integers, got {i.type}", hint="convert with int(...)")
    item = b.op("getitem", items, b.op("list_index", i, count), index=INT_INDEX)
    return b.op("copy", item) if item.rank else item


def length(lw, ref: ListRef):
    """len(stack): the count (0 before the first append)."""
    return lw.env.get(ref.count_key) or lw.b.const(0)


def as_array(lw, ref: ListRef, node):
    """np.array(stack) / np.stack(stack): the items as one array, a new one."""
    items, count = _checked(lw, ref, node)
    head = lw.b.op("getitem", items, count, index=(("slice", False, True, False),))
    return lw.b.op("copy", head)


def method(lw, e: ast.Call, ref: ListRef, name: str):
    """stack.append(v) (None) and stack.pop() (the item)."""
    if e.keywords:
        lw.error(e, f"list.{name}() takes no keyword arguments")
    if name == "append":
        if len(e.args) != 1:
            lw.error(e, "list.append() takes exactly one argument")
        append(lw, ref, lw.value(e.args[0]), e)
        return lw.b.const(None)
    if name == "pop":
        if e.args:
            lw.error(e, "only stack.pop() of the last item is supported",
                     hint="read any item with stack[i]")
        return pop(lw, ref, e)
    lw.error(e, f"the list method .{name}() is not supported",
             hint="lists support append, pop, len, indexing and np.array(lst)")


def _rank_word(rank: int) -> str:
    return "a number" if rank == 0 else f"a rank-{rank} array"
