"""Saves checkpoints in a loop until killed, for the kill test in test_checkpoint.py.

Usage: python checkpoint_writer.py PATH FIRST_INDEX N_FLOATS. Save ``i`` holds a weight filled with
``i`` and ``i`` in its optimizer state and meta, so a reader can tell a whole save from a torn one;
after each save returns, ``i`` is printed, so the test knows which saves were complete."""
import sys

import numpy as np

from cotangent.runtime.checkpoint import save_checkpoint


def main() -> None:
    path, index, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    while True:
        save_checkpoint(path, {"w": np.full(size, float(index)), "b": np.arange(3.0) + index},
                        {"step": np.array(index)}, {"index": index, "writer": "kill-test"})
        print(index, flush=True)
        index += 1


if __name__ == "__main__":
    main()
