"""Where the clips come from: a corpus in its own layout, a manifest, or a Hub dataset, all
through `datasets`, all ending in the same columns:

    id (str), speaker (str), text (str | None), audio ({"path", "bytes"}), problem (str)

so everything downstream is source-agnostic. Audio is not decoded here: datasets decodes only
through torchcodec, which has no CPU build beside torch 2.13 (STACK.md), so `audio.decode`
reads the bytes/path with soundfile later. `problem` carries a reason the row cannot be used
(found while listing), so the skipped-clips report can name it instead of losing the row.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from datasets import Audio, Dataset, IterableDataset

from ..config import DataConfig
from .formats import READERS
from .formats.common import DataError, escape_problem

__all__ = ["DataError", "load_source", "speakers_of"]


def load_source(cfg: DataConfig) -> Dataset | IterableDataset:
    if cfg.format == "hub":
        from .formats.hub import load_hub

        ds = load_hub(cfg)
    else:
        rows = _confine(READERS[cfg.format](Path(cfg.path)), Path(cfg.path))
        if not rows:
            raise DataError(f"data.path {cfg.path} holds no clips in the {cfg.format} layout")
        ds = Dataset.from_list(rows).cast_column("audio", Audio(decode=False))
    ds = _select_speakers(ds, cfg)
    if isinstance(ds, Dataset):
        ds = _mark_duplicate_ids(ds)
        if cfg.streaming:
            ds = ds.to_iterable_dataset()
    return ds


def _confine(rows: list[dict], path: Path) -> list[dict]:
    """Every reader's last guard: a row whose audio path leaves the data root (an id or a line
    with `..`, an absolute path, a symlink pointing out) keeps its id and gets the reason, with
    no path left to open. Readers that build paths from ids check this themselves, so the
    message can name the id; this catches whatever a reader missed."""
    root = path if path.is_dir() else path.parent
    for row in rows:
        if row["audio"] and not row["problem"]:
            problem = escape_problem(root, row["audio"], Path(row["audio"]))
            if problem:
                row.update(audio="", text=None, problem=problem)
    return rows


def _wanted(cfg: DataConfig) -> list[str] | None:
    return [cfg.speaker] if isinstance(cfg.speaker, str) else cfg.speaker


def _select_speakers(ds: Dataset | IterableDataset, cfg: DataConfig) -> Dataset | IterableDataset:
    wanted, excluded = _wanted(cfg), set(cfg.exclude_speakers)
    if isinstance(ds, Dataset):
        available = sorted(set(ds["speaker"]))
        missing = [s for s in wanted or [] if s not in available]
        if missing:
            shown = ", ".join(available[:30]) + (" ..." if len(available) > 30 else "")
            raise DataError(f"data.speaker {missing} not found in {cfg.path}; available: {shown}")
        if not set(wanted or available) - excluded:
            raise DataError(f"every speaker in {cfg.path} was excluded; check data.speaker and data.exclude_speakers")
    if wanted is None and not excluded:
        return ds
    keep = set(wanted) if wanted is not None else None
    return ds.filter(lambda s: (keep is None or s in keep) and s not in excluded, input_columns="speaker")


def _mark_duplicate_ids(ds: Dataset) -> Dataset:
    """A second clip with an id already seen is kept as a row with a problem, never merged."""
    counts = Counter(ds["id"])
    if all(n == 1 for n in counts.values()):
        return ds
    first: dict[str, int] = {}
    for index, clip_id in enumerate(ds["id"]):
        first.setdefault(clip_id, index)

    def mark(row: dict, index: int) -> dict:
        if first[row["id"]] != index and not row["problem"]:
            return {"problem": f"duplicate id: '{row['id']}' already used by row {first[row['id']] + 1}"}
        return {}

    return ds.map(mark, with_indices=True, desc="check duplicate ids")


def speakers_of(ds: Dataset) -> dict[str, float]:
    """Minutes of audio per speaker in a prepared dataset."""
    minutes: Counter = Counter()
    for speaker, seconds in zip(ds["speaker"], ds["seconds"]):
        minutes[speaker] += seconds / 60
    return dict(sorted(minutes.items()))
