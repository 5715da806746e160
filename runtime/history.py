"""What happened in training, epoch by epoch, and a plot of it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class History:
    """Per-epoch metrics (`history["loss"]`, `history["val_accuracy"]`, ...) and why training stopped."""

    def __init__(self, records: list[dict] | None = None, stopped: str = ""):
        self.records: list[dict] = list(records or [])
        self.stopped = stopped

    def append(self, record: dict) -> None:
        self.records.append(dict(record))

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, metric: str) -> list[float]:
        if self.records and metric not in self.records[-1]:
            raise KeyError(f"no metric {metric!r}; recorded: {', '.join(self.metrics)}")
        return [r[metric] for r in self.records if metric in r]

    @property
    def metrics(self) -> list[str]:
        return [k for k in (self.records[-1] if self.records else {}) if k != "epoch"]

    def best(self, metric: str = "val_loss") -> dict:
        """The record of the epoch where `metric` was best (lowest for losses, highest otherwise)."""
        values = self[metric]
        pick = np.argmin if "loss" in metric else np.argmax
        return self.records[int(pick(values))]

    def to_json(self) -> str:
        return json.dumps({"records": self.records, "stopped": self.stopped}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "History":
        d = json.loads(text)
        return cls(d["records"], d.get("stopped", ""))

    def plot(self, path: str | Path | None = None, metrics: list[str] | None = None, title: str = ""):
        """Loss (and accuracy, when recorded) against the epoch, training and validation side by
        side; saved to `path` when given. Needs matplotlib (the `examples` extra)."""
        try:
            import matplotlib
            if path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install 'cotangent[examples]'") from None
        bases = metrics or [m for m in ("loss", "accuracy") if m in self.metrics]
        fig, axes = plt.subplots(1, len(bases), figsize=(5 * len(bases), 3.6), squeeze=False)
        epochs = self["epoch"] if self.records else []
        for ax, base in zip(axes[0], bases):
            for name, style in ((base, "-"), (f"val_{base}", "--")):
                if name in self.metrics:
                    ax.plot(epochs, self[name], style, label=name)
            ax.set_xlabel("epoch")
            ax.set_ylabel(base)
            if base == "loss" and all(v > 0 for v in self[base]):
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=120)
            plt.close(fig)
        return fig

    def __repr__(self) -> str:
        last = self.records[-1] if self.records else {}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items() if k != "epoch")
        return f"History({len(self)} epochs{', last: ' + shown if shown else ''})"
