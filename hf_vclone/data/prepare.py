"""Raw rows -> training features, with every dropped clip accounted for.

`datasets.map` runs the checks, clean-up and featurisation in parallel (`num_proc`), cached on
disk under a fingerprint of the rows, the audio files' sizes and dates, the settings and the
featuriser, so a second run with nothing changed loads the result instead of recomputing it.
A clip that fails is not dropped inside the map: it gets a `skip_reason`, then it is filtered
out and written to `skipped.csv`, so nothing disappears silently.
"""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset, Features, IterableDataset, Value
from datasets import config as datasets_config
from datasets.fingerprint import Hasher

from ..config import DataConfig
from .audio import ClipError, clean, decode
from .checks import (
    chars_per_second_outliers,
    check_duration,
    check_raw_audio,
    check_transcript,
    check_unknown_characters,
    reason_kind,
)
from .sources import DataError
from .text import normalize_text

logger = logging.getLogger(__name__)
REPORT_COLUMNS = ["id", "speaker", "path", "reason"]


@dataclass
class FeatureSpec:
    """What data preparation needs from a model backend."""

    sampling_rate: int
    featurize: Callable[[np.ndarray, str], dict]  # (clean waveform, text) -> inputs incl. "length"
    schema: dict  # Arrow types of featurize's outputs (without "length")
    unknown_characters: Callable[[str], list[str]]  # characters the tokenizer cannot encode


@dataclass
class PreparedData:
    train: Dataset | IterableDataset
    eval: Dataset | IterableDataset | None
    speakers: list[str]
    skipped: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    total_clips: int = 0
    cache: str | None = None  # the features' cache file
    from_cache: bool = False  # True when this run reused it instead of computing

    def summary(self) -> str:
        if isinstance(self.train, IterableDataset):
            return f"streaming {', '.join(self.speakers)}; skipped clips are appended to skipped.csv as they appear"
        minutes = Counter()
        for speaker, seconds in zip(self.train["speaker"], self.train["seconds"]):
            minutes[speaker] += seconds / 60
        per = ", ".join(f"{s} {m:.1f} min" for s, m in sorted(minutes.items()))
        held = len(self.eval) if self.eval is not None else 0
        return f"{len(self.train)} training clips ({per}); {held} held out; {len(self.skipped)} skipped"


def cache_directory() -> Path:
    return Path(datasets_config.HF_DATASETS_CACHE) / "hf_vclone"


_PARENT_PID = os.getpid()  # a forked map worker inherits this and has another pid


def _one_thread_in_a_forked_worker() -> None:
    """`datasets.map(num_proc=N)` forks its workers. A worker whose parent has used torch's OpenMP thread pool
    (`_warm_up`'s torch.stft for Tacotron 2's mels, or anything before it) hung at its first parallel op: GNU
    OpenMP's pool does not survive a fork. `hf-vclone prepare recipes/quickstart.yaml data.num_proc=2` sat at
    0/50 clips at 0% CPU until killed (session 34), and `benchmarks/gpu_base.sh` passes data.num_proc=$(nproc).
    One thread per worker, as torch's DataLoader sets in its own workers: the workers are the parallelism."""
    if os.getpid() != _PARENT_PID and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _in_one_thread_per_worker(process: Callable[[dict], dict]) -> Callable[[dict], dict]:
    """`process` behind the guard above. Kept out of `process` itself, whose hash is the cache's fingerprint:
    datasets hashes a function with the globals it reads, and the parent's pid would make every run's new."""
    def guarded(row: dict) -> dict:
        _one_thread_in_a_forked_worker()
        return process(row)

    return guarded


def _processor(cfg: DataConfig, spec: FeatureSpec) -> Callable[[dict], dict]:
    def process(row: dict) -> dict:
        out = {**{key: None for key in spec.schema}, "length": 0, "seconds": 0.0, "skip_reason": "", "warning": ""}
        try:
            if row["problem"]:
                raise ClipError(row["problem"])
            text = check_transcript(row["text"])
            if cfg.normalize_text:
                text = normalize_text(text, cfg.language)
            check_unknown_characters(spec.unknown_characters(text), cfg)
            wave, rate = decode(row["audio"].get("path"), row["audio"].get("bytes"))
            warnings = check_raw_audio(wave, rate, spec.sampling_rate, cfg)
            wave = clean(wave, rate, spec.sampling_rate, cfg.loudness_lufs, cfg.trim_top_db)
            seconds = len(wave) / spec.sampling_rate
            check_duration(seconds, cfg)
            out.update(spec.featurize(wave, text), text=text, seconds=seconds, warning="; ".join(warnings))
        except ClipError as err:
            out["skip_reason"] = str(err)
        return out

    return process


def featurize_dataset(
    raw: Dataset | IterableDataset, cfg: DataConfig, spec: FeatureSpec
) -> tuple[Dataset | IterableDataset, bool]:
    """(features, reused the cache). `spec.schema` types the outputs, so skipped rows (null
    features) and kept rows share one Arrow type and mels are stored as float32, not float64."""
    process = _processor(cfg, spec)
    features = Features({
        **raw.features, **spec.schema, "length": Value("int32"), "seconds": Value("float32"),
        "skip_reason": Value("string"), "warning": Value("string"),
    })
    if isinstance(raw, IterableDataset):
        return raw.map(process, features=features), False
    fingerprint = Hasher.hash([raw._fingerprint, _file_signature(raw), process])
    cache = cache_directory()
    cache.mkdir(parents=True, exist_ok=True)
    cache_file = cache / f"prepared-{fingerprint}.arrow"
    # with num_proc, datasets writes one file per worker: prepared-<fp>_00000_of_00002.arrow ...
    reused = any(cache.glob(f"prepared-{fingerprint}*.arrow"))
    if not reused and cfg.num_proc and cfg.num_proc > 1:
        _warm_up(spec, cfg)
    features = raw.map(
        _in_one_thread_per_worker(process), num_proc=cfg.num_proc, features=features, desc="check + clean + featurize",
        cache_file_name=str(cache_file), new_fingerprint=fingerprint,
        load_from_cache_file=True,
    )
    return features, reused


def _warm_up(spec: FeatureSpec, cfg: DataConfig) -> None:
    """Run the chain once on a synthetic tone before the workers fork. The first call of the
    trimmer and the mel extractor costs seconds (lazy imports, JIT); paid here once, the forked
    workers inherit it instead of each paying it again."""
    tone = np.sin(np.linspace(0, 2000 * np.pi, spec.sampling_rate)).astype(np.float32) * 0.3
    try:
        spec.featurize(clean(tone, spec.sampling_rate, spec.sampling_rate, cfg.loudness_lufs, cfg.trim_top_db), "a")
    except ClipError:  # a featurizer that checks its audio (vits.alignment espeak) refuses a tone; warmed all the same
        pass


def _file_signature(raw: Dataset) -> list:
    """Size and modification time of each audio file: a re-recorded clip must not hit the cache."""
    signature = []
    for audio in raw["audio"]:
        path = audio.get("path")
        if audio.get("bytes") is None and path and os.path.exists(path):
            stat = os.stat(path)
            signature.append((stat.st_size, stat.st_mtime_ns))
        else:
            signature.append(None)
    return signature


def prepare(raw: Dataset | IterableDataset, cfg: DataConfig, spec: FeatureSpec, report_dir: Path | None) -> PreparedData:
    if isinstance(raw, IterableDataset):
        return _prepare_streaming(raw, cfg, spec, report_dir)
    features, from_cache = featurize_dataset(raw, cfg, spec)
    cache_file = features.cache_files[0]["filename"] if features.cache_files else None
    kept, skipped = _split_skipped(features)
    outliers = chars_per_second_outliers([len(t) for t in kept["text"]], kept["seconds"], cfg.chars_per_second_z)
    if outliers:
        skipped += [_report_row(kept[i], reason) for i, reason in outliers.items()]
        kept = kept.select([i for i in range(len(kept)) if i not in outliers])
    if report_dir is not None:
        write_skipped(skipped, report_dir / "skipped.csv")
    for row in skipped:
        logger.warning("skipped %s (%s): %s", row["id"], row["path"], row["reason"])
    _abort_if_mostly_bad(len(skipped), len(features), cfg, report_dir, skipped)
    warnings = [{"id": i, "warning": w} for i, w in zip(kept["id"], kept["warning"]) if w]
    speakers = sorted(set(kept["speaker"]))
    index = {name: i for i, name in enumerate(speakers)}
    # add_column, not map: a map would rewrite every mel just to attach one integer per clip.
    kept = kept.flatten_indices().add_column("speaker_id", [index[s] for s in kept["speaker"]])
    train, held_out = _split(kept, cfg)
    return PreparedData(
        _cap_minutes(train, cfg), held_out, speakers, skipped, warnings, len(features), cache_file, from_cache
    )


def _split_skipped(features: Dataset) -> tuple[Dataset, list[dict]]:
    reasons = features["skip_reason"]
    bad = [i for i, reason in enumerate(reasons) if reason]
    skipped = [_report_row(features[i], reasons[i]) for i in bad]
    kept = features.filter(lambda r: not r, input_columns="skip_reason", desc="drop skipped clips")
    return kept, skipped


def _report_row(row: dict, reason: str) -> dict:
    return {"id": row["id"], "speaker": row["speaker"], "path": row["audio"].get("path"), "reason": reason}


def _abort_if_mostly_bad(bad: int, total: int, cfg: DataConfig, report_dir: Path | None, skipped: list[dict]) -> None:
    where = f"; every reason is in {report_dir / 'skipped.csv'}" if report_dir else ""
    top = ", ".join(f"{kind} ({n})" for kind, n in top_reasons(skipped))
    if skipped:  # one reason in full: it names the setting or file to fix (e.g. data.min_seconds=15.0)
        example = next(r for r in skipped if reason_kind(r["reason"]) == top_reasons(skipped, 1)[0][0])
        top += f"; e.g. {example['id']}: {example['reason']}"
    if bad == total:
        raise DataError(f"no usable clips left in {cfg.path}: all {total} were skipped: {top}{where}")
    if bad > cfg.max_bad_fraction * total:
        raise DataError(
            f"{bad} of {total} clips in {cfg.path} are unusable, more than data.max_bad_fraction="
            f"{cfg.max_bad_fraction}; top reasons: {top}{where}"
        )


def top_reasons(skipped: list[dict], n: int = 5) -> list[tuple[str, int]]:
    return Counter(reason_kind(r["reason"]) for r in skipped).most_common(n)


def write_skipped(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=REPORT_COLUMNS)
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


def _prepare_streaming(raw: IterableDataset, cfg: DataConfig, spec: FeatureSpec, report_dir: Path | None) -> PreparedData:
    """Lazily featurised; a skipped clip is logged and appended to skipped.csv when it is met.
    Whole-corpus checks (speaking-rate outliers, the bad-share abort) need the whole corpus and
    do not run here; `hf-vclone prepare` without streaming runs them."""
    if cfg.max_minutes is not None:
        raise DataError("data.max_minutes needs the whole corpus; remove it or set data.streaming: false")
    report = report_dir / "skipped.csv" if report_dir else None
    if report is not None:
        write_skipped([], report)

    def usable(row: dict) -> bool:
        if not row["skip_reason"]:
            return True
        logger.warning("skipped %s: %s", row["id"], row["skip_reason"])
        if report is not None:
            with report.open("a", newline="", encoding="utf-8") as f:
                csv.DictWriter(f, fieldnames=REPORT_COLUMNS).writerow(_report_row(row, row["skip_reason"]))
        return False

    speakers = _wanted_or_error(cfg)
    index = {name: i for i, name in enumerate(speakers)}
    stream = featurize_dataset(raw, cfg, spec)[0].filter(usable)
    stream = stream.map(lambda s: {"speaker_id": index.get(s, 0)}, input_columns="speaker")
    held_out = stream.take(cfg.eval_size) if cfg.eval_size > 0 else None
    train = stream.skip(cfg.eval_size) if cfg.eval_size > 0 else stream
    return PreparedData(train, held_out, speakers)


def _wanted_or_error(cfg: DataConfig) -> list[str]:
    if cfg.speaker is None:
        raise DataError("data.streaming cannot list speakers ahead of time; name them with data.speaker")
    return sorted([cfg.speaker] if isinstance(cfg.speaker, str) else cfg.speaker)
