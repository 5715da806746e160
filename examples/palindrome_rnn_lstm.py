"""The lectures' palindrome task, an LSTM next to a simple RNN (cotangent.models.sequence): is a
sequence of 1 to 10 digits a palindrome? Both read the one-hot digits step by step (padded
sequences and a mask) and classify from their final state; same data, same optimizer, same
number of units (32). Prints both test accuracies, the LSTM model's generated source and the
start of its generated backward pass through time; plots the two learning curves and the test
accuracy for each sequence length.

    python examples/palindrome_rnn_lstm.py [--epochs 10] [--out out/palindrome_rnn_lstm] [--target cpu|python]
"""
from __future__ import annotations

import time
from pathlib import Path

from cotangent.models import sequence

from _common import pyplot, reversed_loop, save, setup, training_source

N_TRAIN = 12000
COLORS = {"lstm": "C0", "rnn": "C3"}
NAMES = {"lstm": "LSTM", "rnn": "simple RNN"}


def plot(runs: dict[str, sequence.PalindromeRun], path: Path) -> None:
    fig, (loss_ax, acc_ax, len_ax) = pyplot().subplots(1, 3, figsize=(14, 4))
    for cell, run in runs.items():
        h, label, color = run.history, NAMES[cell], COLORS[cell]
        loss_ax.plot(h["epoch"], h["loss"], "-", color=color, label=f"{label}, training")
        loss_ax.plot(h["epoch"], h["val_loss"], "--", color=color, label=f"{label}, test")
        acc_ax.plot(h["epoch"], h["val_accuracy"], "-o", ms=3, color=color,
                    label=f"{label}: {run.test_accuracy:.1%}")
        by_length = sequence.accuracy_by_length(run.model, *run.test_set)
        len_ax.plot(range(1, len(by_length) + 1), by_length, "-o", ms=3, color=color, label=label)
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="Loss")
    acc_ax.axhline(0.95, color="gray", lw=0.8, ls=":")
    acc_ax.set(xlabel="epoch", ylabel="test accuracy", title="Test accuracy per epoch")
    len_ax.set(xlabel="sequence length", ylabel="test accuracy", title="Test accuracy by length",
               xticks=range(1, sequence.MAX_LEN + 1))
    for ax in (loss_ax, acc_ax, len_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Palindromes of 1-10 digits: LSTM vs simple RNN (32 units each)")
    save(fig, path)


def main() -> None:
    args = setup("palindrome_rnn_lstm", "LSTM vs simple RNN on palindromes", epochs=10)
    runs = {}
    for cell in ("lstm", "rnn"):
        print(f"\n{NAMES[cell]}: {N_TRAIN} training sequences, {args.epochs} epochs")
        start = time.perf_counter()
        runs[cell] = sequence.train(cell, n_train=N_TRAIN, epochs=args.epochs, target=args.target)
        run = runs[cell]
        print(f"{NAMES[cell]}: test accuracy {run.test_accuracy:.4f}; trained in {run.seconds:.1f} s "
              f"({time.perf_counter() - start:.1f} s with compiling and data)")

    lstm = runs["lstm"].model
    print(f"\n{lstm.describe()}")
    print("\nThe generated model source (training function; parameters are views of one flat buffer):\n")
    print(training_source(lstm))
    print("\nThe generated gradient: the start of backpropagation through time, the time loop reversed\n"
          "(the values each step needs come back off the tapes the forward loop filled):\n")
    print(reversed_loop(lstm.source("grad"), "t", lines=26))
    print()
    for cell, run in runs.items():
        print(f"{NAMES[cell]:<11} test accuracy {run.test_accuracy:.4f}")
    plot(runs, args.out / "palindrome_rnn_lstm.png")


if __name__ == "__main__":
    main()
