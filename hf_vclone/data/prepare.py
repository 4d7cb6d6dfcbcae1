"""Raw rows -> training features, with every dropped clip accounted for.

`datasets.map` runs the clean-up and featurisation (cached by its fingerprint, parallel with
`num_proc`). A clip that fails is not dropped inside the map: it gets a `skip_reason`, then it is
filtered out and written to `skipped.csv`, so nothing disappears silently.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from datasets import Dataset, Features, Value

from ..config import DataConfig
from .audio import ClipError, clean, decode
from .sources import DataError

logger = logging.getLogger(__name__)

# (waveform at the model's rate, transcript) -> model inputs, e.g. {"input_ids", "labels"}
Featurizer = Callable[..., dict]


@dataclass
class PreparedData:
    train: Dataset
    eval: Dataset | None
    speakers: list[str]
    skipped: list[dict]

    def summary(self) -> str:
        minutes = Counter()
        for speaker, seconds in zip(self.train["speaker"], self.train["seconds"]):
            minutes[speaker] += seconds / 60
        per = ", ".join(f"{s} {m:.1f} min" for s, m in sorted(minutes.items()))
        held = len(self.eval) if self.eval is not None else 0
        return f"{len(self.train)} training clips ({per}); {held} held out; {len(self.skipped)} skipped"


def featurize_dataset(
    raw: Dataset, cfg: DataConfig, sampling_rate: int, featurize: Featurizer, schema: dict
) -> Dataset:
    """`schema` types the featurizer's outputs, so skipped rows (empty features) and kept rows
    share one Arrow type and mels are stored as float32, not float64."""
    def process(row: dict) -> dict:
        out = {**{key: None for key in schema}, "length": 0, "seconds": 0.0, "skip_reason": ""}
        text = (row["text"] or "").strip()
        try:
            if not text:
                raise ClipError("empty transcript")
            wave, rate = decode(row["audio"].get("path"), row["audio"].get("bytes"))
            wave = clean(wave, rate, sampling_rate, cfg.loudness_lufs, cfg.trim_top_db)
            seconds = len(wave) / sampling_rate
            if not cfg.min_seconds <= seconds <= cfg.max_seconds:
                raise ClipError(
                    f"{seconds:.2f} s after trimming is outside data.min_seconds..data.max_seconds "
                    f"({cfg.min_seconds}..{cfg.max_seconds})"
                )
            out.update(featurize(wave, text), seconds=seconds, skip_reason="")
            out["length"] = len(out["labels"])
        except ClipError as err:
            out["skip_reason"] = str(err)
        return out

    features = Features(
        {**raw.features, **schema, "length": Value("int32"), "seconds": Value("float32"), "skip_reason": Value("string")}
    )
    return raw.map(process, num_proc=cfg.num_proc, features=features, desc="clean + featurize")


def prepare(
    raw: Dataset, cfg: DataConfig, sampling_rate: int, featurize: Featurizer, schema: dict, report_dir: Path | None
) -> PreparedData:
    features = featurize_dataset(raw, cfg, sampling_rate, featurize, schema)
    reasons = features["skip_reason"]
    skipped = [
        {"id": row_id, "speaker": spk, "path": audio["path"], "reason": reason}
        for row_id, spk, audio, reason in zip(features["id"], features["speaker"], raw["audio"], reasons)
        if reason
    ]
    if report_dir is not None:
        write_skipped(skipped, report_dir / "skipped.csv")
    for row in skipped:
        logger.warning("skipped %s (%s): %s", row["id"], row["path"], row["reason"])
    kept = features.filter(lambda r: not r, input_columns="skip_reason", desc="drop skipped clips")
    if len(kept) == 0:
        raise DataError(
            f"no usable clips left in {cfg.path}: all {len(skipped)} were skipped"
            + (f"; see {report_dir / 'skipped.csv'} for each reason" if report_dir else "")
        )
    speakers = sorted(set(kept["speaker"]))
    index = {name: i for i, name in enumerate(speakers)}
    kept = kept.map(lambda s: {"speaker_id": index[s]}, input_columns="speaker", desc="speaker ids")
    train, held_out = _split(kept, cfg)
    return PreparedData(train=_cap_minutes(train, cfg), eval=held_out, speakers=speakers, skipped=skipped)


def write_skipped(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "speaker", "path", "reason"])
        writer.writeheader()
        writer.writerows(rows)


def _split(ds: Dataset, cfg: DataConfig) -> tuple[Dataset, Dataset | None]:
    if cfg.eval_size <= 0:
        return ds, None
    if cfg.eval_size >= len(ds):
        raise DataError(f"data.eval_size={cfg.eval_size} leaves no training clips out of {len(ds)}; lower it")
    parts = ds.train_test_split(test_size=cfg.eval_size, seed=cfg.seed)
    return parts["train"], parts["test"]


def _cap_minutes(ds: Dataset, cfg: DataConfig) -> Dataset:
    """Keep a seeded random subset whose total length stays within data.max_minutes."""
    if cfg.max_minutes is None:
        return ds
    ds = ds.shuffle(seed=cfg.seed)
    budget, keep = cfg.max_minutes * 60.0, []
    for i, seconds in enumerate(ds["seconds"]):
        if seconds <= budget:
            keep.append(i)
            budget -= seconds
    if not keep:
        raise DataError(f"data.max_minutes={cfg.max_minutes} is shorter than every clip; raise it")
    return ds.select(keep)
