"""Where to cut a long recording into TTS clips: at pauses, never inside a word.

Speech is found by Silero VAD (the ONNX model faster-whisper ships in its wheel, so nothing is
downloaded and no second copy of the VAD is installed). Each pause the VAD finds is a candidate
cut; a clip is the speech between two cuts. Why cut at every pause, then merge: TTS trains best
on clips of about one sentence, and a sentence ends at a pause; a piece shorter than
`min_seconds` (a breath, "yes.") joins its neighbour across the shorter pause, so no speech is
dropped. A stretch of speech longer than `max_seconds` without any pause is split by the VAD at
its last silence of 100 ms or more (Silero's own rule for `max_speech_duration_s`), or hard at the
limit when there is none: such clips are flagged for review, never thrown away.

Cuts are placed in the middle of the pause, so every clip keeps up to `pad` seconds of its own
silence at each edge and no two clips share a sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VAD_RATE = 16000


@dataclass(frozen=True)
class Span:
    """One clip: [start, end) in seconds of the source; `speech` is where the VAD heard speech."""

    start: float
    end: float
    speech_start: float
    speech_end: float
    flag: str = ""

    @property
    def seconds(self) -> float:
        return self.end - self.start


def speech_regions(wave16k: np.ndarray, max_seconds: float, min_pause: float = 0.3,
                   threshold: float = 0.5) -> list[tuple[float, float]]:
    """(start, end) seconds of speech, split at pauses of at least `min_pause` seconds."""
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError:
        from .errors import UserError

        raise UserError("cutting recordings needs faster-whisper (its Silero VAD); "
                        "install it with `pip install -e \".[asr]\"`") from None

    options = VadOptions(threshold=threshold, min_speech_duration_ms=150, max_speech_duration_s=max_seconds,
                         min_silence_duration_ms=int(min_pause * 1000), speech_pad_ms=30)
    stamps = get_speech_timestamps(np.asarray(wave16k, np.float32), options, sampling_rate=VAD_RATE)
    return [(s["start"] / VAD_RATE, s["end"] / VAD_RATE) for s in stamps]


def plan_clips(regions: list[tuple[float, float]], duration: float, min_seconds: float, max_seconds: float,
               pad: float = 0.2) -> list[Span]:
    """Clips from speech regions: merge neighbours while a piece is shorter than `min_seconds` and
    the merge stays within `max_seconds`, then cut each pause in its middle (at most `pad` from the
    speech on either side)."""
    pieces = [[start, end] for start, end in regions if end > start]
    merged = True
    while merged and len(pieces) > 1:
        merged = False
        for i, (start, end) in enumerate(pieces):
            if end - start >= min_seconds:
                continue
            j = _partner(pieces, i, max_seconds)
            if j is not None:
                a, b = min(i, j), max(i, j)
                pieces[a:b + 1] = [[pieces[a][0], pieces[b][1]]]
                merged = True
                break
    spans = []
    for i, (start, end) in enumerate(pieces):
        left = pieces[i - 1][1] if i else 0.0
        right = pieces[i + 1][0] if i + 1 < len(pieces) else duration
        clip_start = max(start - pad, (left + start) / 2 if i else 0.0)
        clip_end = min(end + pad, (end + right) / 2 if i + 1 < len(pieces) else duration)
        flag = ""
        if end - start < min_seconds:
            flag = f"short: {end - start:.2f} s of speech with no neighbour to join within {max_seconds:g} s"
        elif end - start >= max_seconds - 0.05:
            flag = f"long: no pause within {max_seconds:g} s, cut at the VAD's last short silence; check the edges"
        spans.append(Span(round(clip_start, 3), round(clip_end, 3), round(start, 3), round(end, 3), flag))
    return spans


def _partner(pieces: list[list[float]], i: int, max_seconds: float) -> int | None:
    """The neighbour a short piece joins: across the shorter pause, if the joined clip fits."""
    options = []
    if i > 0:
        options.append((pieces[i][0] - pieces[i - 1][1], i - 1))
    if i + 1 < len(pieces):
        options.append((pieces[i + 1][0] - pieces[i][1], i + 1))
    for _, j in sorted(options):
        a, b = min(i, j), max(i, j)
        if pieces[b][1] - pieces[a][0] <= max_seconds:
            return j
    return None
