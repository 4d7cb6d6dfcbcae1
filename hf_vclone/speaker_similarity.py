"""Speaker similarity: cosine between speaker embeddings of a real recording and synthesized speech.

MCD says how close two spectrograms are frame by frame; it does not say whether the clone sounds
like the *person*. A speaker encoder, trained to tell speakers apart whatever they say, does.
Two encoders sit behind one interface (`SpeakerEncoder.embed`):

- a pretrained `WavLMForXVector` (e.g. `microsoft/wavlm-base-plus-sv`) when its weights can be had,
  from the Hub or a local `save_pretrained` folder;
- "offline": the small TDNN in `assets/speaker_encoder/`, trained by
  `benchmarks/train_speaker_encoder.py` on espeak-ng voices that exclude the demo corpus's voices,
  so the instrument has not seen the voices it judges.

Scores from different encoders are on different scales: compare systems under one encoder only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from .data.audio import resample, to_mono
from .errors import UserError
from .models.loading import ModelLoadError, from_pretrained
from .speaker_encoder_model import TDNNSpeakerEncoder, is_encoder_dir

OFFLINE_DIR = Path(__file__).resolve().parents[1] / "assets" / "speaker_encoder"
DEFAULT_KEY = "evaluation.speaker_encoder"


def _fix(key: str) -> str:
    return (
        f"set {key} to a WavLMForXVector Hub id (microsoft/wavlm-base-plus-sv) or save_pretrained folder, "
        "or to 'offline' for the bundled encoder"
    )


class SpeakerEncoder(Protocol):
    name: str  # which model made the embeddings; scores are only comparable under one name

    def embed(self, wave: np.ndarray, sampling_rate: int) -> np.ndarray:
        """Mono (samples,) or (samples, channels) float waveform -> unit-norm 1-D embedding."""
        ...


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity; embeddings are unit-norm already, but callers may pass averaged ones."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    if denom == 0.0:
        raise ValueError("cosine of a zero vector is undefined")
    return float(np.clip(a @ b / denom, -1.0, 1.0))


def equal_error_rate(scores: np.ndarray, same: np.ndarray) -> float:
    """The error rate where false accepts equal false rejects, sweeping the threshold over scores."""
    order = np.argsort(-scores)
    same = same[order].astype(np.float64)
    false_accept = np.cumsum(1 - same) / (1 - same).sum()
    false_reject = 1 - np.cumsum(same) / same.sum()
    i = int(np.argmin(np.abs(false_accept - false_reject)))
    return float((false_accept[i] + false_reject[i]) / 2)


def pair_scores(a: list[np.ndarray], names_a: list[str], b: list[np.ndarray] | None = None,
                names_b: list[str] | None = None) -> dict:
    """Mean same/different-speaker cosine and EER: all pairs within `a`, or every a x b pair.

    How an encoder is checked before it is trusted to judge voices (see train_speaker_encoder.py)."""
    matrix = np.stack(a) @ np.stack(b if b is not None else a).T
    same = np.array(names_a)[:, None] == np.array(names_b if b is not None else names_a)[None, :]
    keep = np.triu(np.ones_like(same), k=1) if b is None else np.ones_like(same)
    scores, same = matrix[keep], same[keep]
    return {"speakers": len(set(names_a)), "clips": len(a), "same_pairs": int(same.sum()),
            "different_pairs": int((~same).sum()), "same_cosine": float(scores[same].mean()),
            "different_cosine": float(scores[~same].mean()), "eer": equal_error_rate(scores, same)}


def _prepare(wave: np.ndarray, sampling_rate: int, target: int) -> np.ndarray:
    wave = resample(to_mono(np.asarray(wave, dtype=np.float32)), int(sampling_rate), target)
    # Both encoders need a few frames (the STFT's reflect padding, WavLM's conv stack); a speaker
    # estimate from under 0.1 s would mean nothing anyway.
    if len(wave) < target // 10:
        raise ValueError(f"clip too short to embed: {len(wave) / target:.3f} s (at least 0.1 s)")
    return wave


def offline_features(target_rate: int = 16000) -> Callable[[np.ndarray, int], np.ndarray]:
    """(wave, rate) -> the log-mel the offline encoder reads. Training calls this same function,
    so the encoder never sees features computed any other way."""
    from transformers import SpeechT5FeatureExtractor

    from .data.features import LogMel

    log_mel = LogMel(SpeechT5FeatureExtractor(sampling_rate=target_rate))
    return lambda wave, rate: log_mel(_prepare(wave, rate, target_rate))


class OfflineSpeakerEncoder:
    """The committed TDNN on the same log-mel the TTS models use (SpeechT5's extractor, 16 kHz)."""

    def __init__(self, directory: str | Path = OFFLINE_DIR) -> None:
        self.model = TDNNSpeakerEncoder.load(directory)
        self.features = offline_features(self.model.config.sampling_rate)
        bundled = Path(directory).resolve() == OFFLINE_DIR
        self.name = "offline-tdnn" if bundled else f"offline-tdnn:{directory}"

    def embed(self, wave: np.ndarray, sampling_rate: int) -> np.ndarray:
        mel = self.features(wave, sampling_rate)
        with torch.no_grad():
            return self.model(torch.from_numpy(mel)[None]).numpy()[0]


class WavLMSpeakerEncoder:
    """A pretrained `WavLMForXVector`: its x-vector head output, L2-normalised."""

    def __init__(self, name_or_path: str, key: str = DEFAULT_KEY) -> None:
        from transformers import AutoConfig, AutoFeatureExtractor, WavLMForXVector

        config = from_pretrained(AutoConfig, name_or_path, key)
        # A WavLMModel (or any other) checkpoint would load with a random x-vector head: refuse it.
        if config.model_type != "wavlm" or "WavLMForXVector" not in (config.architectures or []):
            raise UserError(
                f"{key}: {name_or_path!r} is a {config.model_type} model {config.architectures}, not a "
                f"WavLMForXVector; {_fix(key)}"
            )
        self.model, info = from_pretrained(WavLMForXVector, name_or_path, key, output_loading_info=True)
        # The classifier, AM-softmax weights and mask embedding do not touch `embeddings`.
        unused = ("classifier.", "objective.", "wavlm.masked_spec_embed")
        missing = sorted(k for k in info["missing_keys"] if not k.startswith(unused))
        if missing:
            raise UserError(f"{key}: {name_or_path!r} lacks weights {missing[:4]}...; {_fix(key)}")
        self.model.eval()
        self.extractor = from_pretrained(AutoFeatureExtractor, name_or_path, key)
        self.sampling_rate = int(self.extractor.sampling_rate)
        self.name = f"wavlm-xvector:{name_or_path}"

    def embed(self, wave: np.ndarray, sampling_rate: int) -> np.ndarray:
        wave = _prepare(wave, sampling_rate, self.sampling_rate)
        inputs = self.extractor(wave, sampling_rate=self.sampling_rate, return_tensors="pt")
        with torch.no_grad():
            embedding = self.model(**inputs).embeddings
        return torch.nn.functional.normalize(embedding, dim=-1).numpy()[0]


def load_speaker_encoder(name_or_path: str | None = None, key: str = DEFAULT_KEY) -> SpeakerEncoder:
    """None / "offline" -> the committed encoder; a folder of ours -> that one; else WavLMForXVector.

    `key` is the setting the caller read `name_or_path` from; errors name it. Cached, because the
    metric is computed at every evaluation during training and a WavLM load takes seconds (errors
    are not cached, so a fixed folder loads on the next call)."""
    return _load(name_or_path or None, key)


@functools.lru_cache(maxsize=4)
def _load(name_or_path: str | None, key: str) -> SpeakerEncoder:
    if name_or_path in (None, "offline"):
        if not is_encoder_dir(OFFLINE_DIR):
            raise UserError(
                f"{key}: the offline speaker encoder is missing from {OFFLINE_DIR}; rebuild it with "
                f"`.venv/bin/python benchmarks/train_speaker_encoder.py`, or set {key} to a WavLMForXVector"
            )
        return OfflineSpeakerEncoder(OFFLINE_DIR)
    if is_encoder_dir(name_or_path):
        return OfflineSpeakerEncoder(name_or_path)
    try:
        return WavLMSpeakerEncoder(name_or_path, key)
    except ModelLoadError as err:
        raise ModelLoadError(f"{err}; {_fix(key)}") from None
