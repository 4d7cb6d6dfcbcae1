"""Where each token of a clip lies in time, from espeak-ng's own phoneme timings (`vits.alignment: espeak`).

Why: the offline demo corpus is espeak-ng speech, so its true phoneme durations exist. The monotonic
alignment search has to find them from a text prior that, on our small bases, explains about 5% of
the latent (benchmarks/README.md, "The text side on a frozen latent"); a text encoder trained on the
search's alignments learns a blur of neighbouring phonemes. libespeak-ng reports the sample where
each phoneme starts (phoneme events), and its samples are exactly those `espeak-ng -w` writes, with
which the corpus is made (benchmarks/espeak_phoneme_events.py checks that).

So for a clip we speak its text again through the library in the clip's espeak-ng voice, find the
trimmed clip inside that audio (the silence trim removed a leading stretch), and give each token a
window of frames: the frames of the phoneme its symbol belongs to, widened by `slack` frames. The
search then runs inside those windows (VitsVoice.forward), so it keeps deciding how the frames of a
multi-symbol phoneme (`aɪ`), stress marks and blanks are shared, but can no longer drift onto a
neighbouring phoneme.
"""

from __future__ import annotations

import difflib
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np

from ..data.audio import ClipError, resample
from ..errors import UserError

_CHILD = Path(__file__).with_name("espeak_child.py")


def espeak_arguments(voice: str) -> list[str]:
    """`vits.espeak_voice` as espeak-ng arguments: a demo corpus voice's (us_f2), or the arguments given."""
    from ..data.demo_corpus import BASE_VOICES, NEAR_TARGET_VOICE, TARGET_VOICE

    table = {**BASE_VOICES, **TARGET_VOICE, **NEAR_TARGET_VOICE}
    if voice in table:
        return table[voice]
    args = voice.split()
    try:
        voice_arguments(args)
    except ValueError as err:
        raise UserError(f"vits.espeak_voice: {voice!r} is neither a demo corpus voice ({', '.join(table)}) nor "
                        f"espeak-ng arguments: {err}") from None
    return args


def voice_arguments(args: list[str]) -> tuple[str, int, int]:
    """(voice, pitch, words per minute) from espeak-ng command arguments such as
    ["-v", "en-us+f2", "-p", "55", "-s", "170"] (the demo corpus's voice table)."""
    known = {"-v": "en-us", "-p": "50", "-s": "175"}  # espeak-ng's own defaults
    if len(args) % 2:
        raise ValueError(f"espeak-ng arguments come in pairs (-v VOICE -p PITCH -s WPM): {args}")
    for flag, value in zip(args[::2], args[1::2]):
        if flag not in known or (flag != "-v" and not value.isdigit()):
            raise ValueError(f"{flag} {value}: expected -v VOICE, -p PITCH (0-99) or -s WORDS_PER_MINUTE")
        known[flag] = value
    return known["-v"], int(known["-p"]), int(known["-s"])


def speak(text: str, voice: str, pitch: int, wpm: int) -> tuple[np.ndarray, int, list[tuple[int, str]]]:
    """(float32 samples, rate, [(start sample, IPA phoneme)]) from libespeak-ng, as `espeak-ng -w`
    would speak it. Events whose phoneme is empty mark pauses and the end.

    Each call runs in a fresh interpreter (espeak_child.py). Why: libespeak-ng carries state from one
    utterance to the next. In one process the second sentence differed from the command's output (one
    process per sentence) from about the 64th sample on. A forked child was not enough either: it
    inherits a library the parent has already used (the test suite's workers do), and then it
    differed too."""
    proc = subprocess.run([sys.executable, "-I", str(_CHILD), text, voice, str(pitch), str(wpm)],
                          capture_output=True, timeout=120)
    if proc.returncode != 0 or not proc.stdout:
        why = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise ClipError(f"libespeak-ng could not speak {text[:40]!r} in voice {voice!r}: {why[0]} (install "
                        "espeak-ng: make setup does; or check vits.espeak_voice)")
    samples, rate, phonemes = pickle.loads(proc.stdout)
    return np.frombuffer(samples, dtype=np.int16).astype(np.float32) / 32768.0, rate, phonemes


def find_offset(clip: np.ndarray, spoken: np.ndarray, step: int, window: int = 4096) -> tuple[int, float]:
    """(samples trimmed from the front, correlation): where `clip` starts inside `spoken`, both at
    the same rate. The trim cuts on a grid of `step` samples, so only those offsets are tried."""
    n = min(window, len(clip))
    head = clip[:n] - clip[:n].mean()
    best, best_corr = 0, -1.0
    for offset in range(0, max(1, len(spoken) - n + 1), step):
        part = spoken[offset: offset + n]
        part = part - part.mean()
        denom = float(np.linalg.norm(head) * np.linalg.norm(part))
        corr = float(head @ part) / denom if denom > 0 else -1.0
        if corr > best_corr:
            best, best_corr = offset, corr
    return best, best_corr


def symbol_spans(symbols: str, events: list[tuple[float, float, str]]) -> list[tuple[float, float] | None]:
    """For each symbol of the tokenizer's phoneme string, the (start, end) seconds of the event
    phoneme it matches, or None (stress marks, spaces, punctuation, symbols the two phonemisations
    spell differently). Matching is character-wise (difflib), so `aɪ` in both maps symbol to symbol."""
    event_chars, owner = [], []
    for index, (_, _, ipa) in enumerate(events):
        event_chars.extend(ipa)
        owner.extend([index] * len(ipa))
    spans: list[tuple[float, float] | None] = [None] * len(symbols)
    matcher = difflib.SequenceMatcher(None, symbols, "".join(event_chars), autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            start, end, _ = events[owner[b + k]]
            spans[a + k] = (start, end)
    return spans


def token_windows(spans: list[tuple[float, float] | None], add_blank: bool, frames: int, frame_seconds: float,
                  offset_seconds: float, slack: int = 1) -> list[list[int]]:
    """[first, last] frame each token may take. A matched symbol: its phoneme's frames +- slack; an
    unmatched one, and a blank, may take anything from its previous matched neighbour's first frame
    to its next one's last (so a pause or a stress mark stays between the phonemes around it)."""
    def frame(seconds: float) -> float:
        return (seconds - offset_seconds) / frame_seconds

    tokens: list[tuple[float, float] | None] = []
    for span in spans:
        tokens += [None, span] if add_blank else [span]
    tokens += [None] if add_blank else []
    known = [None if t is None else (int(np.floor(frame(t[0]) + 1e-6)) - slack, int(np.ceil(frame(t[1]) - 1e-6)) - 1 + slack)
             for t in tokens]
    windows, last = [], 0
    following = [frames - 1] * len(known)
    upcoming = frames - 1
    for i in range(len(known) - 1, -1, -1):
        following[i] = upcoming
        if known[i] is not None:
            upcoming = known[i][1]
    for i, window in enumerate(known):
        lo, hi = window if window is not None else (last, following[i])
        lo, hi = max(0, min(lo, frames - 1)), max(0, min(hi, frames - 1))
        windows.append([lo, max(lo, hi)])
        if window is not None:
            last = lo
    return windows


def token_durations(spans: list[tuple[float, float] | None], add_blank: bool, frames: int, frame_seconds: float,
                    offset_seconds: float) -> list[int]:
    """Frames per token by a fixed rule (`vits.alignment: espeak_durations`), summing to `frames`, at
    least 1 each. A matched symbol ends where its phoneme ends (the symbols sharing one phoneme, `aɪ`,
    split it evenly); the unmatched tokens between two phonemes (blanks, stress marks, spaces) share
    the gap between them, usually none, a pause after a comma; the first and last runs take the
    leading and trailing silence. Ends are rounded to frames cumulatively, so no error builds up,
    and then moved just enough that every token keeps one frame (taken from the token after it).

    Why a rule: the search splits a phoneme's frames between the phoneme and its blank by the
    model's likelihood, differently from one checkpoint to the next, and the duration predictor then
    learns targets nothing in the text predicts (benchmarks/README.md, "the durations")."""
    tokens: list[tuple[float, float] | None] = []
    for span in spans:
        tokens += [None, span] if add_blank else [span]
    tokens += [None] if add_blank else []
    n = len(tokens)
    if n > frames:
        raise ClipError(f"vits.alignment espeak_durations: {frames} frames for {n} tokens; every token needs one")

    def frame(seconds: float) -> float:
        return min(max((seconds - offset_seconds) / frame_seconds, 0.0), float(frames))

    starts: list[float | None] = [None] * n
    ends: list[float | None] = [None] * n
    k = 0
    while k < n:  # matched tokens: the symbols of one phoneme (the same span, in a row) split it evenly
        if tokens[k] is None:
            k += 1
            continue
        group = [k]
        for j in range(k + 1, n):
            if tokens[j] == tokens[k]:
                group.append(j)
            elif tokens[j] is not None:
                break
        start, end = frame(tokens[k][0]), frame(tokens[k][1])
        for i, j in enumerate(group):
            starts[j] = start + (end - start) * i / len(group)
            ends[j] = start + (end - start) * (i + 1) / len(group)
        k = group[-1] + 1
    previous_end, j = 0.0, 0
    while j < n:  # a run of unmatched tokens shares the gap up to the next phoneme's start
        if ends[j] is not None:
            previous_end = max(previous_end, ends[j])  # type: ignore[type-var]
            ends[j] = previous_end
            j += 1
            continue
        run_end = next((m for m in range(j, n) if ends[m] is not None), n)
        gap_end = max(starts[run_end] if run_end < n else float(frames), previous_end)  # type: ignore[type-var]
        for i, m in enumerate(range(j, run_end)):
            ends[m] = previous_end + (gap_end - previous_end) * (i + 1) / (run_end - j)
        previous_end, j = gap_end, run_end
    bounds = [int(round(e)) for e in ends]  # type: ignore[arg-type]
    bounds[-1] = frames
    for j in range(n):  # every token at least one frame, and room left for those after it
        bounds[j] = min(max(bounds[j], (bounds[j - 1] if j else 0) + 1), frames - (n - 1 - j))
    return [b - a for a, b in zip([0] + bounds[:-1], bounds)]


class EspeakAligner:
    """Token windows for clips that espeak-ng spoke in one voice (`vits.espeak_voice`). With `fixed`
    (`vits.alignment: espeak_durations`) each window is exactly the frames `token_durations` gives the
    token, so the search has one path left: the rule's."""

    def __init__(self, espeak_args: list[str], rate: int, hop: int, min_correlation: float = 0.98,
                 fixed: bool = False) -> None:
        self.voice = voice_arguments(espeak_args)
        self.rate, self.hop, self.min_correlation, self.fixed = rate, hop, min_correlation, fixed

    def token_windows(self, tokenizer, text: str, wave: np.ndarray, frames: int,  # type: ignore[no-untyped-def]
                      tokens: int) -> list[list[int]]:
        """Windows for the tokens a (phonemizing) VitsTokenizer makes of `text`."""
        symbols = tokenizer.prepare_for_tokenization(text, normalize=tokenizer.normalize)[0]
        windows = self.windows(text, symbols, wave, frames, tokenizer.add_blank)
        if len(windows) != tokens:
            raise ClipError(f"vits.alignment espeak: {len(windows)} windows for {tokens} tokens; the tokenizer's "
                            f"phonemes {symbols!r} are not one token per symbol")
        return windows

    def windows(self, text: str, symbols: str, wave: np.ndarray, frames: int, add_blank: bool) -> list[list[int]]:
        spoken, spoken_rate, events = speak(text, *self.voice)
        spoken = resample(spoken, spoken_rate, self.rate)
        offset, corr = find_offset(wave, spoken, step=256)  # data/audio.trim_silence cuts on a 256-sample grid
        if corr < self.min_correlation:
            raise ClipError(f"vits.alignment espeak: this clip is not espeak-ng's {' '.join(map(str, self.voice))} "
                            f"reading its text (best match {corr:.2f} < {self.min_correlation}); set vits.espeak_voice "
                            "to the voice that spoke it, or use vits.alignment: search")
        starts = [(sample / spoken_rate, ipa) for sample, ipa in events]
        timed = [(s, starts[i + 1][0] if i + 1 < len(starts) else len(spoken) / self.rate, ipa)
                 for i, (s, ipa) in enumerate(starts)]
        spans = symbol_spans(symbols, timed)
        if self.fixed:
            bounds = np.cumsum([0] + token_durations(spans, add_blank, frames, self.hop / self.rate, offset / self.rate))
            return [[int(a), int(b) - 1] for a, b in zip(bounds[:-1], bounds[1:])]
        return token_windows(spans, add_blank, frames, self.hop / self.rate, offset / self.rate)
