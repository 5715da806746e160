"""Grids of 8x8 digit images, for the CNN, autoencoder and VAE examples."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from _common import pyplot, save


def image_rows(rows: Sequence[np.ndarray], names: Sequence[str], path: Path, title: str,
               captions: Sequence[Sequence[str]] | None = None) -> None:
    """One row of images per array in `rows` (each (n, 64) or (n, 8, 8[, 1]), values in [0, 1]),
    the row's name on its left, optional captions above each image; saved to `path`."""
    n = max(len(r) for r in rows)
    fig, axes = pyplot().subplots(len(rows), n, figsize=(0.8 * n + 0.8, 0.95 * len(rows) + 0.5), squeeze=False)
    for r, (images, name) in enumerate(zip(rows, names)):
        for c in range(n):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(np.reshape(images[c], (8, 8)), cmap="gray_r", vmin=0.0, vmax=1.0)
                if captions is not None:
                    ax.set_title(captions[r][c], fontsize=8, pad=2)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title, fontsize=10)
    save(fig, path)
