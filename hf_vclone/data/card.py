"""The data card: what went into a run, in one page and one picture.

Users ask "how much of my audio was used, and what was thrown away?" before they ask about
loss curves. The card answers that: totals, minutes per speaker, a duration histogram, and the
top reasons clips were dropped (each clip's own reason is in skipped.csv beside it).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .prepare import PreparedData, top_reasons  # noqa: E402


def write_data_card(data: PreparedData, source: str, directory: str | Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    parts = [("train", data.train)] + ([("held out", data.eval)] if data.eval is not None else [])
    durations = {name: list(ds["seconds"]) for name, ds in parts}
    _histogram(durations, directory / "durations.png")
    minutes = Counter()
    clips = Counter()
    for _, ds in parts:
        for speaker, seconds in zip(ds["speaker"], ds["seconds"]):
            minutes[speaker] += seconds / 60
            clips[speaker] += 1
    lines = [
        "# Data card", "",
        f"Source: `{source}`", "",
        "| | clips | minutes |", "|---|---|---|",
        *[f"| {name} | {len(ds)} | {sum(durations[name]) / 60:.1f} |" for name, ds in parts],
        f"| skipped | {len(data.skipped)} | |", "",
        "## Per speaker", "", "| speaker | clips | minutes |", "|---|---|---|",
        *[f"| {s} | {clips[s]} | {minutes[s]:.2f} |" for s in sorted(minutes)], "",
        "## Durations", "", "![durations](durations.png)", "",
        "## Skipped clips", "",
    ]
    if data.skipped:
        lines += ["| reason | clips |", "|---|---|", *[f"| {kind} | {n} |" for kind, n in top_reasons(data.skipped, 10)], ""]
        lines += ["Every skipped clip and its full reason: [skipped.csv](skipped.csv)", ""]
    else:
        lines += ["None.", ""]
    if data.warnings:
        lines += ["## Warnings", "", *[f"- `{w['id']}`: {w['warning']}" for w in data.warnings[:50]], ""]
    path = directory / "data_card.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _histogram(durations: dict[str, list[float]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(list(durations.values()), bins=30, label=list(durations), stacked=True)
    ax.set_xlabel("clip duration after trimming (s)")
    ax.set_ylabel("clips")
    ax.legend()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)

