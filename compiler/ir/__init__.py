"""The structured three-address IR that every pass reads and writes."""
from .nodes import (Loc, Var, Const, Assign, SetItem, Return, If, For, While, Break, Continue,
                    TapeNew, Push, Pop, Function, Value, Stmt, walk, operands, blocks)
from .types import Type, TupleType, FLOAT, INT, BOOL, scalar, array
from .printer import format_function
from .verify import verify

__all__ = ["Loc", "Var", "Const", "Assign", "SetItem", "Return", "If", "For", "While", "Break",
           "Continue", "TapeNew", "Push", "Pop", "Function", "Value", "Stmt", "Type", "TupleType", "FLOAT", "INT", "BOOL",
           "scalar", "array", "format_function", "verify"]
