"""Pictures people would rather look at than read: mel spectrograms side by side, loss curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: CI and servers have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def spectrogram_comparison(mels: dict[str, np.ndarray], title: str, path: str | Path) -> Path:
    """One row per system, shared colour scale, so a brighter band means the same in every row."""
    low = min(float(m.min()) for m in mels.values())
    high = max(float(m.max()) for m in mels.values())
    width = max(len(m) for m in mels.values())
    fig, axes = plt.subplots(len(mels), 1, figsize=(10, 2.4 * len(mels)), squeeze=False)
    for ax, (name, mel) in zip(axes[:, 0], mels.items()):
        image = ax.imshow(mel.T, origin="lower", aspect="auto", vmin=low, vmax=high, cmap="magma")
        ax.set_xlim(0, width)
        ax.set_ylabel("mel bin")
        ax.set_title(f"{name} ({len(mel)} frames)", fontsize=10, loc="left")
    axes[-1, 0].set_xlabel("frame")
    fig.colorbar(image, ax=axes[:, 0].tolist(), label="log10 magnitude")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def loss_curve(log_history: list[dict], path: str | Path) -> Path | None:
    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    evals = [(h["step"], h["eval_loss"]) for h in log_history if "eval_loss" in h]
    if not train and not evals:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train), label="train loss")
    if evals:
        ax.plot(*zip(*evals), marker="o", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
