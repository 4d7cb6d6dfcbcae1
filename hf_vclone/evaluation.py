"""Score voices on held-out sentences: samples, a spectrogram comparison and metrics.json.

A "system" is anything that turns text into a log-mel: the untouched base, the fine-tuned voice.
Each speaks the same held-out sentences with the same seed, and each is compared with the
target speaker's real recording of that sentence (MCD with DTW, beside the length ratio).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
from datasets import Dataset
from tqdm.auto import tqdm

from .config import EvaluationConfig
from .data.audio import decode, to_mono
from .metrics import LENGTH_RATIO_BOUNDS, mcd_dtw, summarize
from .plots import spectrogram_comparison

MelFn = Callable[[str], np.ndarray]  # text -> (frames, bins) log10 mel
AudioFn = Callable[[np.ndarray], np.ndarray]  # mel -> waveform


def compare_systems(
    systems: dict[str, MelFn], to_audio: AudioFn, rows: Dataset, cfg: EvaluationConfig, out_dir: str | Path,
    sampling_rate: int, notes: dict | None = None,
) -> dict:
    out_dir = Path(out_dir)
    samples_dir = out_dir / "samples"
    samples_dir.mkdir(parents=True, exist_ok=True)
    rows = rows.select(range(min(cfg.num_samples, len(rows))))
    per_sample, distances = [], {name: [] for name in systems}
    first_mels: dict[str, np.ndarray] = {}
    for i, row in enumerate(tqdm(rows, desc="synthesize held-out sentences", unit="sentence")):
        reference = np.asarray(row["labels"], dtype=np.float32)
        _write_reference(row, samples_dir / f"{row['id']}_reference.wav")
        entry = {"id": row["id"], "text": row["text"], "reference_frames": len(reference)}
        mels = {"reference (real recording)": reference}
        for name, mel_fn in systems.items():
            mel = mel_fn(row["text"])
            distance = mcd_dtw(reference, mel)
            distances[name].append(distance)
            entry[name] = {**distance.as_dict(), "frames": len(mel), "wav": f"samples/{row['id']}_{name}.wav"}
            sf.write(str(samples_dir / f"{row['id']}_{name}.wav"), to_audio(mel), sampling_rate)
            mels[name] = mel
        per_sample.append(entry)
        if i == 0:
            first_mels, first_text = mels, row["text"]
    report = {
        "metric": (
            "MCD (dB, DTW-aligned mel-cepstra c1-c13 from the 80-band log-mel); lower is closer. "
            "Compare systems within this file; the scale differs from MCD on WORLD/SPTK mel-cepstra."
        ),
        "length_ratio_bounds": list(LENGTH_RATIO_BOUNDS),
        **(notes or {}),
        "systems": {name: summarize(d) for name, d in distances.items()},
        "samples": per_sample,
    }
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if first_mels:
        spectrogram_comparison(first_mels, f'"{first_text}"', out_dir / "spectrograms.png")
    return report


def closest_system(systems: dict[str, MelFn], rows: Dataset, count: int = 2) -> tuple[str, dict[str, float]]:
    """The system whose output is nearest (mean MCD) to `rows`' recordings.

    Used to give the base model its best voice for the comparison: the base speaker nearest
    the target, chosen on *training* clips so the held-out sentences stay unseen."""
    rows = rows.select(range(min(count, len(rows))))
    scores = {}
    for name, mel_fn in tqdm(systems.items(), desc="pick the base voice nearest the target", unit="voice"):
        scores[name] = float(np.mean([mcd_dtw(np.asarray(r["labels"]), mel_fn(r["text"])).mcd for r in rows]))
    return min(scores, key=scores.get), scores


def _write_reference(row: dict, path: Path) -> None:
    wave, rate = decode(row["audio"].get("path"), row["audio"].get("bytes"))
    sf.write(str(path), to_mono(wave), rate)
