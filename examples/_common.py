"""What the training examples share: their command line, the output folder, and saving plots."""
from __future__ import annotations

import argparse
import re
from pathlib import Path


def setup(name: str, description: str, epochs: int | None = None, target: str = "cpu",
          steps: int | None = None) -> argparse.Namespace:
    """Parse --out (default out/<name>), --target and, when the example trains for a number of
    epochs (or steps), --epochs (--steps); check that matplotlib is there before any training;
    create the output folder and say where the plots go. `args.out` is a Path."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default=f"out/{name}", help="folder for the plots (created if missing)")
    parser.add_argument("--target", default=target, choices=("cpu", "python"),
                        help="cpu: compiled with Numba; python: the same generated code run by NumPy")
    if epochs is not None:
        parser.add_argument("--epochs", type=int, default=epochs)
    if steps is not None:
        parser.add_argument("--steps", type=int, default=steps)
    args = parser.parse_args()
    try:
        pyplot()
    except ImportError as e:
        parser.exit(1, f"{e}\n")
    args.out = Path(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"writing plots to {args.out}/")
    return args


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only), or an ImportError saying what to install."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'cotangent[examples]'") from None
    return plt


def save(fig, path: Path) -> None:
    """Write a figure as a small PNG and say so."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    print(f"wrote {path}")


def training_source(model, lines: int | None = None) -> str:
    """The model's generated training function, without the lines that slice each parameter out of
    the flat buffer `theta`; the first `lines` lines of it when given."""
    source = model.source()
    train = source[source.index(f"def {model.name}_train"):source.index(f"def {model.name}_loss")]
    kept = [line for line in train.rstrip().splitlines() if "= theta[" not in line]
    return "\n".join(kept[:lines]) + ("\n    ..." if lines is not None and len(kept) > lines else "")


def reversed_loop(grad_source: str, loop_var: str, lines: int = 30) -> str:
    """From a generated gradient, the first reversed loop over `loop_var` (t, g, i, ...): its header,
    how many values it takes back off the tapes, then up to `lines` of its adjoint lines."""
    body = grad_source[grad_source.find("_bar = 1.0"):].splitlines()
    header = re.compile(rf"\s*for {loop_var}(_\d+)? in range\(")
    start = next(i for i, line in enumerate(body) if header.match(line))
    indent = len(body[start]) - len(body[start].lstrip())
    end = next((i for i in range(start + 1, len(body)) if len(body[i]) - len(body[i].lstrip()) <= indent), len(body))
    popped = [re.match(r"\s*(.+?) = \w*tape\w*\.pop\(\)", line) for line in body[start:end]]
    pops = sum(len(m.group(1).split(",")) for m in popped if m)      # a shared tape pops several
    first = next(i for i in range(start, end) if "# adjoint of" in body[i])
    pad = " " * (indent + 4)
    note = f"{pad}# ... {pops} value{'s' * (pops != 1)} taken back off the tapes, cheap ones recomputed, then:"
    shown = [body[start], note, *body[first:min(end, first + lines)]]
    return "\n".join(shown) + (f"\n{pad}..." if first + lines < end else "")


def source_from(source: str, marker: str, lines: int) -> str:
    """`lines` lines of a generated source, from the line holding `marker` (from the top when no
    line holds it), then an ellipsis: the part of a long gradient worth reading."""
    at = source.find(marker)
    start = source.rfind("\n", 0, at) + 1 if at >= 0 else 0
    return "\n".join(source[start:].splitlines()[:lines]) + "\n    ..."
