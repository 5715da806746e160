"""Numba versions of the checkpointing schedules in support_checkpoint.py: the plain versions
compile as they are."""
from __future__ import annotations

from numba.extending import register_jitable

from . import support_checkpoint

for _helper in (support_checkpoint._beta, support_checkpoint._split, support_checkpoint._schedule,
                support_checkpoint._first_reverse, support_checkpoint.revolve_forward,
                support_checkpoint.revolve_reverse, support_checkpoint.checkpoint_snapshots):
    register_jitable(_helper)
