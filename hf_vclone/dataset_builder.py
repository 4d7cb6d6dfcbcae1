"""`hf-vclone dataset RAW... --out DIR`: long raw recordings in, a clean LJSpeech voice folder out.

Each recording is decoded (soundfile: wav, flac, ogg, mp3; any rate, mono or stereo), cut at its
pauses (slicing.py), and every clip is transcribed offline by Whisper through faster-whisper
(the same model as the intelligibility metric). The output is what `data.format: ljspeech`
trains on directly, plus a review table of where each clip came from and how sure Whisper was:

    DIR/wavs/<source>_<nnnn>.wav   mono, the source's sampling rate (preparation resamples later)
    DIR/metadata.csv               id|transcript
    DIR/review.csv                 id, source, start, end, seconds, text, avg_logprob, no_speech_prob, flag
    DIR/review.md                  totals, files that gave no clips and why, clips to check
    DIR/.sources.json              finished sources (path, size, mtime): a re-run skips them

Nothing stops the whole run: a file that does not decode, or holds no speech, is named in the
review with its reason and the next file goes on.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from tqdm.auto import tqdm

from .data.audio import ClipError, decode, to_mono
from .data.formats.common import AUDIO_SUFFIXES
from .errors import UserError
from .slicing import VAD_RATE, Span, plan_clips, speech_regions

LOW_LOGPROB = -1.0     # Whisper's own "this decode failed" line (openai-whisper's logprob_threshold)
HIGH_NO_SPEECH = 0.6   # and its no-speech threshold
REVIEW_COLUMNS = ["id", "source", "start", "end", "seconds", "text", "avg_logprob", "no_speech_prob", "flag"]
STATE = ".sources.json"


@dataclass
class BuildOptions:
    min_seconds: float = 1.0
    max_seconds: float = 12.0
    min_pause: float = 0.3
    pad: float = 0.2
    language: str | None = "en"
    asr_model: str = "whisper-base"


@dataclass
class BuildReport:
    clips: int = 0
    seconds: float = 0.0
    skipped_sources: dict[str, str] = field(default_factory=dict)  # source -> reason
    reused_sources: list[str] = field(default_factory=list)
    flagged: int = 0

    def summary(self) -> str:
        return (f"{self.clips} clips, {self.seconds / 60:.1f} minutes; {len(self.reused_sources)} sources already "
                f"done; {len(self.skipped_sources)} gave no clips; {self.flagged} clips flagged for review")


def find_sources(raw: list[str | Path], exclude: Path | None = None) -> list[Path]:
    """The audio files named, and those inside folders named (recursively), in a stable order;
    never the clips of the output folder `exclude` (`--out` may sit inside a folder of recordings)."""
    out: list[Path] = []
    skip = exclude.resolve() if exclude else None
    for item in map(Path, raw):
        if item.is_dir():
            out += sorted(p for p in item.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
                          and not (skip and skip in p.resolve().parents))
        elif item.is_file():
            out.append(item)
        else:
            raise UserError(f"{item} is neither an audio file nor a folder; give recordings ({', '.join(AUDIO_SUFFIXES)}) "
                            "or folders of them")
    if not out:
        raise UserError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) in {', '.join(map(str, raw))}")
    return out


def build_dataset(raw: list[str | Path], out: str | Path, options: BuildOptions | None = None) -> BuildReport:
    options = options or BuildOptions()
    out = Path(out)
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    sources = find_sources(raw, exclude=out)
    state = _load_state(out)
    report = BuildReport()
    transcriber = None
    for source in tqdm(sources, desc="recordings", unit="file"):
        key, stamp = str(source.resolve()), _stamp(source)
        if state.get(key, {}).get("stamp") == stamp:
            report.reused_sources.append(str(source))
            continue
        try:
            wave, rate = _decode(source)
            spans = plan_clips(speech_regions(_for_vad(wave, rate), options.max_seconds, options.min_pause),
                               len(wave) / rate, options.min_seconds, options.max_seconds, options.pad)
            if not spans:
                raise ClipError("no speech found: the voice activity detector heard nothing in it")
        except ClipError as err:
            report.skipped_sources[str(source)] = str(err)
            state[key] = {"stamp": stamp, "rows": [], "skipped": str(err)}
            _save_state(out, state)
            continue
        transcriber = transcriber or _transcriber(options)
        stem = state.get(key, {}).get("stem") or _unique_stem(source, state)
        for old in (out / "wavs").glob(f"{stem}_[0-9][0-9][0-9][0-9].wav"):
            old.unlink()  # a changed recording: its earlier clips go
        rows = _write_clips(source, stem, wave, rate, spans, out, transcriber, options)
        state[key] = {"stamp": stamp, "stem": stem, "rows": rows, "skipped": ""}
        _save_state(out, state)  # after every file: an interrupted run resumes at the next one
    _write_outputs(out, state, report)
    return report


def _decode(source: Path) -> tuple[np.ndarray, int]:
    wave, rate = decode(str(source))
    return to_mono(wave), rate


def _for_vad(wave: np.ndarray, rate: int) -> np.ndarray:
    return soxr.resample(wave, rate, VAD_RATE) if rate != VAD_RATE else wave


def _transcriber(options: BuildOptions):
    """faster-whisper's model itself: the review needs its confidences, not only its text."""
    from .intelligibility import FasterWhisper, load_asr

    asr = load_asr(options.asr_model, options.language, key="--asr-model")
    if not isinstance(asr, FasterWhisper):
        raise UserError(f"--asr-model {options.asr_model}: the dataset builder needs a CTranslate2 Whisper "
                        "(faster-whisper) for its confidences; give whisper-base or a CTranslate2 folder")
    return asr.model


def _unique_stem(source: Path, state: dict) -> str:
    """Clip ids start with the recording's name; `a/take.wav` and `b/take.wav` get take, take_2."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", source.stem).strip("_") or "recording"
    used = {entry.get("stem") for entry in state.values()}
    stem, n = base, 1
    while stem in used:
        n += 1
        stem = f"{base}_{n}"
    return stem


def _write_clips(source: Path, stem: str, wave: np.ndarray, rate: int, spans: list[Span], out: Path, model,
                 options: BuildOptions) -> list[dict]:
    rows = []
    for n, span in enumerate(tqdm(spans, desc=f"transcribe {source.name}", unit="clip", leave=False)):
        clip = wave[int(span.start * rate): int(span.end * rate)]
        clip_id = f"{stem}_{n:04d}"
        sf.write(out / "wavs" / f"{clip_id}.wav", clip, rate, subtype="PCM_16")
        text, logprob, no_speech = _transcribe(model, clip, rate, options.language)
        flags = [span.flag] if span.flag else []
        if not text:
            flags.append("empty transcript: Whisper heard no words")
        elif logprob < LOW_LOGPROB or no_speech > HIGH_NO_SPEECH:
            flags.append(f"low confidence: average log-probability {logprob:.2f}, no-speech probability {no_speech:.2f}")
        rows.append({"id": clip_id, "source": str(source), "start": span.start, "end": span.end,
                     "seconds": round(span.seconds, 3), "text": text, "avg_logprob": round(logprob, 3),
                     "no_speech_prob": round(no_speech, 3), "flag": "; ".join(flags)})
    return rows


def _transcribe(model, clip: np.ndarray, rate: int, language: str | None) -> tuple[str, float, float]:
    """(text, mean average log-probability, highest no-speech probability) of one clip."""
    audio = soxr.resample(clip, rate, VAD_RATE) if rate != VAD_RATE else clip
    segments, _ = model.transcribe(np.asarray(audio, np.float32), language=language, beam_size=1, temperature=0.0,
                                   condition_on_previous_text=False, vad_filter=False, without_timestamps=True)
    segments = list(segments)
    if not segments:
        return "", 0.0, 1.0
    text = " ".join(s.text.strip() for s in segments).strip().replace("|", " ")
    return text, float(np.mean([s.avg_logprob for s in segments])), float(max(s.no_speech_prob for s in segments))


def _write_outputs(out: Path, state: dict, report: BuildReport) -> None:
    rows = [r for entry in state.values() for r in entry["rows"]]
    with open(out / "metadata.csv", "w", encoding="utf-8") as f:
        f.writelines(f"{r['id']}|{r['text']}\n" for r in rows if r["text"])
    with open(out / "review.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, REVIEW_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    report.clips = len(rows)
    report.seconds = float(sum(r["seconds"] for r in rows))
    report.flagged = sum(1 for r in rows if r["flag"])
    report.skipped_sources = {k: v["skipped"] for k, v in state.items() if v["skipped"]}
    lines = ["# Dataset build review", "", report.summary(), "",
             "Clips without a transcript are left out of metadata.csv (their audio stays in wavs/).", ""]
    if report.skipped_sources:
        lines += ["## Recordings that gave no clips", "", "| file | reason |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in sorted(report.skipped_sources.items())] + [""]
    flagged = [r for r in rows if r["flag"]]
    if flagged:
        lines += ["## Clips to check", "", "| clip | source | start-end (s) | transcript | why |", "|---|---|---|---|---|"]
        lines += [f"| {r['id']} | {Path(r['source']).name} | {r['start']:.2f}-{r['end']:.2f} | {r['text']} | {r['flag']} |"
                  for r in flagged] + [""]
    (out / "review.md").write_text("\n".join(lines), encoding="utf-8")


def read_review(out: str | Path) -> list[dict]:
    """review.csv's rows, numbers as numbers."""
    with open(Path(out) / "review.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for key in ("start", "end", "seconds", "avg_logprob", "no_speech_prob"):
            r[key] = float(r[key])
    return rows


def _stamp(source: Path) -> list:
    info = source.stat()
    return [info.st_size, int(info.st_mtime)]


def _load_state(out: Path) -> dict:
    path = out / STATE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise UserError(f"{path} is damaged; delete it to rebuild {out} from scratch") from None


def _save_state(out: Path, state: dict) -> None:
    tmp = out / f"{STATE}.tmp"
    tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
    os.replace(tmp, out / STATE)  # atomic: a crash leaves the previous state whole
