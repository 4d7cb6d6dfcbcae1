"""Pictures people would rather look at than read: mel spectrograms and attention alignments side by
side, loss curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: CI and servers have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .alignment import diagonality  # noqa: E402


def spectrogram_comparison(mels: dict[str, np.ndarray], title: str, path: str | Path) -> Path:
    """One row per system, shared colour scale, so a brighter band means the same in every row."""
    low = min(float(m.min()) for m in mels.values())
    high = max(float(m.max()) for m in mels.values())
    panels = {f"{name} ({len(mel)} frames)": mel.T for name, mel in mels.items()}
    return _stacked(panels, title, path, xlabel="frame", ylabel="mel bin", scale=(low, high, "log10 magnitude"),
                    cmap="magma")


def alignment_plot(alignments: dict[str, np.ndarray], title: str, path: str | Path) -> Path:
    """Encoder-decoder attention, one row per system: text tokens up, decoder steps across.

    A model that reads its text draws a clean rising diagonal; one that ignores it, a blur or a
    horizontal band (alignment.py). Each panel names its diagonality, the number that says so."""
    high = max(float(a.max()) for a in alignments.values())
    panels = {f"{name} ({len(a)} steps x {a.shape[1]} tokens, diagonality {diagonality(a):.2f})": a.T
              for name, a in alignments.items()}
    return _stacked(panels, title, path, xlabel="decoder step", ylabel="text token",
                    scale=(0.0, high, "attention weight"), cmap="viridis")


def _stacked(panels: dict[str, np.ndarray], title: str, path: str | Path, xlabel: str, ylabel: str,
             scale: tuple[float, float, str], cmap: str) -> Path:
    """Images (rows = y) stacked one per row, titled by their keys, on one x range and one colour
    scale `(low, high, label)` with one colorbar: the same colour means the same in every row."""
    low, high, label = scale
    width = max(image.shape[1] for image in panels.values())
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.4 * len(panels)), squeeze=False,
                             gridspec_kw={"hspace": 0.45})  # room for each title under the axis above
    for ax, (name, image) in zip(axes[:, 0], panels.items()):
        shown = ax.imshow(image, origin="lower", aspect="auto", vmin=low, vmax=high, cmap=cmap)
        ax.set_xlim(0, width)
        ax.set_ylabel(ylabel)
        ax.set_title(name, fontsize=10, loc="left")
    axes[-1, 0].set_xlabel(xlabel)
    fig.colorbar(shown, ax=axes[:, 0].tolist(), label=label)
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
