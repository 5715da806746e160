"""Checkpointed loops (transforms/checkpoint.py): the schedules of binomial checkpointing, which
the generated code computes from a loop's trip count when it reaches the loop."""
from __future__ import annotations

from ..ir.types import Type, INT
from .hand import prim
from .table import register_helpers

register_helpers("revolve_forward", "revolve_reverse", "checkpoint_snapshots")

prim("revolve_forward", lambda types, p: Type(INT, 1), "revolve_forward({0}, {1})", differentiable=False,
     doc="the trips before which the forward sweep through a checkpointed loop of n trips takes a "
         "snapshot of its state, then n")
prim("revolve_reverse", lambda types, p: Type(INT, 2), "revolve_reverse({0}, {1})", differentiable=False,
     doc="the actions (restore, advance, snapshot, drop, reverse a trip) of the reverse sweep "
         "through a checkpointed loop of n trips with s snapshots")
prim("checkpoint_snapshots", lambda types, p: Type(INT, 0), "checkpoint_snapshots({0}, {1}, {2}, {3})",
     differentiable=False,
     doc="the snapshots a loop gets under a memory budget: 0 when its whole tape fits")
