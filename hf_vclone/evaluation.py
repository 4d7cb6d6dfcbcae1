"""Score voices on held-out sentences: samples, metrics.json, spectrograms and a report.

A "system" turns text into a log-mel (and a vocoder turns that into audio): the untouched base,
the fine-tuned voice. Each speaks the same held-out sentences with the same seed and is compared
with the target speaker's real recording of that sentence:

- MCD with DTW, beside the length ratio (a distance counts only when the length is plausible);
- log-F0 RMSE in cents and the voicing error;
- speaker similarity from a speaker encoder (the report names which one);
- real-time factor of synthesis (seconds of compute per second of audio);
- intelligibility: CER and WER of an ASR model's transcripts against the text
  (`evaluation.asr_model`, offline Whisper-base by default; null: reported as skipped, never
  estimated). The real recordings are transcribed too: their CER is the floor this voice and
  this ASR allow, which a clone's CER is read against;
- for a system that reads its text through attention (SpeechT5), the alignment's diagonality
  (alignment.py), with the first sentence's alignment drawn in alignments.png.

The metrics are `evaluate` modules in `hf_vclone.metric_modules`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import evaluate
import numpy as np
import soundfile as sf
from datasets import Dataset
from tqdm.auto import tqdm

from .alignment import diagonality
from .config import EvaluationConfig
from .intelligibility import EXTRA_TOKENS, MAX_SECONDS, TOKENS_PER_SECOND, describe, transcribe
from .metric_modules import metric_path
from .metrics import LENGTH_RATIO_BOUNDS
from .other_voices import nearest
from .pitch import HOP_LENGTH
from .plots import alignment_plot, spectrogram_comparison
from .report import ALIGNMENTS, write_report

MelFn = Callable[[str], np.ndarray]  # text -> (frames, bins) log10 mel
# text -> (log10 mel, waveform), or (log10 mel, waveform, alignment or None): one voice speaking. The
# alignment, (decoder steps, text tokens), comes from the same generation as the mel (a backend's
# speak, an Utterance); real recordings and backends without attention give none.
System = Callable[[str], tuple[np.ndarray, ...]]
ReferenceFn = Callable[[dict], np.ndarray]  # dataset row -> cleaned reference waveform at the model's rate
CER_SKIPPED = "skipped: evaluation.asr_model is null (intelligibility is not estimated without an ASR model)"


def cer_note(asr_model: str | None, language: str | None = "en") -> str:
    """What the CER and WER columns mean, for metrics.json and the report."""
    if asr_model is None:
        return CER_SKIPPED
    return (f"{describe(asr_model, language)} transcribes each sample, the real recordings included (their "
            f"CER is the floor for this voice and ASR); CER and WER against the input text after Whisper's text "
            f"normalisation of both. Hallucination guard: each clip is cut to {MAX_SECONDS:.0f} s and its "
            f"transcript to {TOKENS_PER_SECOND:g} tokens per second + {EXTRA_TOKENS}")


@dataclass
class Spoken:
    mels: list[np.ndarray]
    waves: list[np.ndarray]
    seconds: float  # wall time spent synthesizing
    alignments: list[np.ndarray | None] = field(default_factory=list)  # (steps, tokens) each; empty: none


@cache
def _metric(name: str) -> evaluate.EvaluationModule:
    return evaluate.load(metric_path(name))


def speak(system: System, texts: list[str], name: str, progress: bool = True) -> Spoken:
    spoken = Spoken([], [], 0.0)
    for text in tqdm(texts, desc=f"synthesize held-out sentences ({name})", unit="sentence", disable=not progress):
        start = time.perf_counter()
        mel, wave, *alignment = system(text)
        spoken.seconds += time.perf_counter() - start
        spoken.mels.append(mel)
        spoken.waves.append(wave)
        spoken.alignments.append(alignment[0] if alignment else None)
    return spoken


def alignment_scores(spoken: Spoken) -> tuple[float | None, list[dict]]:
    """Mean diagonality over the sentences that have an alignment (None if none has), and each
    sentence's (empty where it has none)."""
    scores = [None if a is None else diagonality(a) for a in spoken.alignments] or [None] * len(spoken.mels)
    known = [s for s in scores if s is not None]
    return (float(np.mean(known)) if known else None,
            [{} if s is None else {"alignment_diagonality": s} for s in scores])


def _on_f0_grid(mels: list[np.ndarray], waves: list[np.ndarray]) -> bool:
    return all(len(m) == 1 + len(w) // HOP_LENGTH for m, w in zip(mels, waves))


def intelligibility(waves: list[np.ndarray], rate: int, texts: list[str], asr_model: str,
                    language: str | None = "en") -> tuple[dict, list[dict]]:
    """CER and WER of what `asr_model` hears in `waves`, over the set and per sample (with the transcript)."""
    heard = transcribe(asr_model, waves, rate, language)
    cer = _metric("character_error_rate").compute(predictions=heard, references=texts, language=language)
    wer = _metric("word_error_rate").compute(predictions=heard, references=texts, language=language)
    per_sample = [{"transcript": t, "cer": c, "wer": w}
                  for t, c, w in zip(heard, cer["per_sample"], wer["per_sample"])]
    return {"cer": cer["cer"], "wer": wer["wer"]}, per_sample


def score(spoken: Spoken, ref_mels: list[np.ndarray], ref_waves: list[np.ndarray], rate: int,
          speaker_encoder: str | None, texts: list[str] | None = None, asr_model: str | None = None,
          asr_language: str | None = "en") -> dict:
    """All metrics for one system; `per_sample` keeps each sentence's figures.

    CER and WER need both `asr_model` and the `texts` the system was asked to speak."""
    mcd = _metric("mel_cepstral_distortion").compute(predictions=spoken.mels, references=ref_mels)
    # The mels align the F0 frames (DTW) only when they share F0's frame grid (SpeechT5's); other
    # models' features (VITS's hop) leave the alignment to the F0 contours themselves.
    on_grid = _on_f0_grid(spoken.mels, spoken.waves) and _on_f0_grid(ref_mels, ref_waves)
    f0 = _metric("f0_error").compute(
        predictions=spoken.waves, references=ref_waves, sampling_rate=rate,
        prediction_mels=spoken.mels if on_grid else None, reference_mels=ref_mels if on_grid else None,
    )
    sim = _metric("speaker_similarity").compute(
        predictions=spoken.waves, references=ref_waves, sampling_rate=rate, encoder=speaker_encoder
    )
    alignment, alignment_per_sample = alignment_scores(spoken)
    per_sample = [
        {**d, **p, "speaker_similarity": s, **a}
        for d, p, s, a in zip(mcd.pop("per_sample"), f0.pop("per_sample"), sim.pop("per_sample"), alignment_per_sample)
    ]
    heard = {"cer": None, "wer": None}
    if asr_model is not None and texts is not None:
        heard, samples = intelligibility(spoken.waves, rate, texts, asr_model, asr_language)
        for sample, extra in zip(per_sample, samples):
            sample.update(extra)
    summary = {
        "mcd": mcd["mcd"], "counted": mcd["counted"], "excluded_by_length": mcd["excluded_by_length"],
        "length_ratio_mean": mcd["length_ratio_mean"], **f0, **sim, "rtf": spoken.seconds / max(
            sum(len(w) for w in spoken.waves) / rate, 1e-9), **heard, "alignment_diagonality": alignment,
    }
    return {"summary": summary, "per_sample": per_sample}


METRICS_NOTE = (
    "MCD: dB, DTW-aligned mel-cepstra c1-c13 of the 80-band log-mel, lower is closer (compare "
    "systems within this file; the scale differs from MCD on WORLD/SPTK mel-cepstra). F0: RMSE in "
    "cents over frames voiced in both, voicing error as a share of frames. Speaker similarity: "
    "cosine of speaker embeddings, higher is closer. RTF: synthesis seconds per audio second. "
    "Alignment diagonality: Pearson correlation of decoder step and text token, each cell weighted "
    "by its cross-attention (1: attends to the text in order; ~0: a blur or a band, the text ignored; "
    "null: the system has no attention).")


def compare_systems(
    systems: dict[str, System], rows: Dataset, cfg: EvaluationConfig, out_dir: str | Path,
    sampling_rate: int, reference_audio: ReferenceFn, notes: dict | None = None,
    other_voices: dict[str, System] | None = None,
) -> dict:
    """Every system speaks the held-out sentences and is scored against the real recordings.

    `other_voices` (other_voices.py) are real recordings of other speakers reading the same
    sentences, scored the same way: the nearest of them is the bar a clone should pass."""
    out_dir = Path(out_dir)
    samples_dir = out_dir / "samples"
    samples_dir.mkdir(parents=True, exist_ok=True)
    rows = rows.select(range(min(cfg.num_samples, len(rows))))
    texts, ids = list(rows["text"]), list(rows["id"])
    ref_mels = [np.asarray(m, dtype=np.float32) for m in rows["labels"]]
    ref_waves = [reference_audio(row) for row in rows]
    for clip_id, wave in zip(ids, ref_waves):
        sf.write(str(samples_dir / f"{clip_id}_reference.wav"), wave, sampling_rate)
    reference, ref_heard = {"cer": None, "wer": None}, [None] * len(ids)
    if cfg.asr_model is not None:
        reference, ref_heard = intelligibility(ref_waves, sampling_rate, texts, cfg.asr_model, cfg.asr_language)
    results, spoken_by = {}, {}
    for name, system in systems.items():
        spoken = spoken_by[name] = speak(system, texts, name)
        for clip_id, wave in zip(ids, spoken.waves):
            sf.write(str(samples_dir / f"{clip_id}_{name}.wav"), wave, sampling_rate)
        results[name] = score(spoken, ref_mels, ref_waves, sampling_rate, cfg.speaker_encoder, texts, cfg.asr_model,
                              cfg.asr_language)
    others = {name: score(speak(system, texts, f"real voice {name}"), ref_mels, ref_waves, sampling_rate,
                          cfg.speaker_encoder, texts, cfg.asr_model, cfg.asr_language)
              for name, system in (other_voices or {}).items()}
    samples = _sample_entries(ids, texts, ref_mels, ref_heard, results, spoken_by)
    tests = speak_test_sentences(systems, cfg, samples_dir, sampling_rate) if cfg.test_sentences else None
    report = {
        "metrics": METRICS_NOTE,
        "length_ratio_bounds": list(LENGTH_RATIO_BOUNDS),
        "cer": cer_note(cfg.asr_model, cfg.asr_language),
        **(notes or {}),
        "systems": {name: r["summary"] for name, r in results.items()},
        "reference": reference,  # the real recordings: the intelligibility floor for this voice and ASR
        **({"other_real_voices": {name: r["summary"] for name, r in others.items()},
            "nearest_real_voice": nearest({name: r["summary"] for name, r in others.items()})} if others else {}),
        "samples": samples,
        **({"test_sentences": tests} if tests else {}),
    }
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if samples:
        mels = {"reference (real recording)": ref_mels[0], **{n: spoken_by[n].mels[0] for n in systems}}
        spectrogram_comparison(mels, f'"{texts[0]}"', out_dir / "spectrograms.png")
    _plot_first_alignments(spoken_by, f'"{texts[0]}"' if texts else "", out_dir / ALIGNMENTS)
    write_report(report, out_dir / "report.md")
    return report


def speak_test_sentences(systems: dict[str, System], cfg: EvaluationConfig, samples_dir: Path,
                         sampling_rate: int) -> dict:
    """`evaluation.test_sentences`, spoken by every system and transcribed. Without a recording only
    intelligibility can be scored, but a small voice can spare only a few clips as held-out
    sentences, and a CER over six sentences moves by 0.1 with one misheard phrase: these widen it."""
    texts = list(cfg.test_sentences)
    entries: list[dict] = [{"id": f"test_{i:02d}", "text": text} for i, text in enumerate(texts, 1)]
    summaries = {}
    for name, system in systems.items():
        spoken = speak(system, texts, f"{name}, test sentences")
        for entry, mel, wave in zip(entries, spoken.mels, spoken.waves):
            sf.write(str(samples_dir / f"{entry['id']}_{name}.wav"), wave, sampling_rate)
            entry[name] = {"frames": len(mel), "wav": f"samples/{entry['id']}_{name}.wav"}
        summaries[name] = {"cer": None, "wer": None}
        if cfg.asr_model is not None:
            summaries[name], heard = intelligibility(spoken.waves, sampling_rate, texts, cfg.asr_model, cfg.asr_language)
            for entry, extra in zip(entries, heard):
                entry[name].update(extra)
    return {"note": "sentences with no recording (evaluation.test_sentences): CER and WER only; the real "
                    "recordings' CER on the held-out clips is the floor to read them against",
            "systems": summaries, "samples": entries}


def _sample_entries(ids: list[str], texts: list[str], ref_mels: list[np.ndarray], ref_heard: list,
                    results: dict, spoken_by: dict[str, Spoken]) -> list[dict]:
    """metrics.json's per-sentence entries: the text, what the ASR heard in the real recording, and
    every system's scores, length and sample file."""
    samples = []
    for i, (clip_id, text) in enumerate(zip(ids, texts)):
        entry = {"id": clip_id, "text": text, "reference_frames": len(ref_mels[i]),
                 "reference_wav": f"samples/{clip_id}_reference.wav"}
        if ref_heard[i] is not None:  # what the ASR heard in the real recording
            entry["reference"] = ref_heard[i]
        for name in spoken_by:
            entry[name] = {**results[name]["per_sample"][i], "frames": len(spoken_by[name].mels[i]),
                           "wav": f"samples/{clip_id}_{name}.wav"}
        samples.append(entry)
    return samples


def _plot_first_alignments(spoken_by: dict[str, Spoken], title: str, path: Path) -> None:
    """The first sentence's alignment for every system that has one, or no file (a stale one from an
    earlier evaluation into this folder is removed: the report embeds the picture if the file is there)."""
    firsts = {name: s.alignments[0] if s.alignments else None for name, s in spoken_by.items()}
    alignments = {name: alignment for name, alignment in firsts.items() if alignment is not None}
    if alignments:
        alignment_plot(alignments, title, path)
    else:
        path.unlink(missing_ok=True)


def closest_system(systems: dict[str, MelFn], rows: Dataset, count: int = 2) -> tuple[str, dict[str, float]]:
    """The system whose output is nearest (mean MCD) to `rows`' recordings.

    Used to give the base model its best voice for the comparison: the base speaker nearest
    the target, chosen on *training* clips so the held-out sentences stay unseen."""
    rows = rows.select(range(min(count, len(rows))))
    refs = [np.asarray(m, np.float32) for m in rows["labels"]]
    scores = {}
    for name, mel_fn in tqdm(systems.items(), desc="pick the base voice nearest the target", unit="voice"):
        result = _metric("mel_cepstral_distortion").compute(predictions=[mel_fn(t) for t in rows["text"]], references=refs)
        scores[name] = float(np.mean([s["mcd"] for s in result["per_sample"]]))
    return min(scores, key=scores.get), scores
