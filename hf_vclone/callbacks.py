"""Listening during training: at each evaluation, speak fixed held-out sentences, score them,
and log the audio, mel spectrograms and (for a model with attention) the text alignment where
the user looks (files, plus TensorBoard, wandb or trackio when named in `report_to`).

None of the anchor tools reports voice metrics while training, only the loss; yet the loss
of an autoregressive TTS model says little about whether it has started to sound like the
speaker. The scores come back as `eval_mcd`, `eval_f0_rmse_cents`, `eval_speaker_similarity`,
and `eval_cer` and `eval_wer` (offline Whisper-base by default; none with `evaluation.asr_model: null`),
so `metric_for_best_model: mcd` (with `greater_is_better: false`) keeps the best-sounding checkpoint.
A model with attention (SpeechT5) also reports `eval_alignment_diagonality` and draws its alignment
(alignment.py): whether the decoder attends to its text in order, the first thing to check when
samples drone or babble.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from .evaluation import Spoken, score, speak
from .media_log import media_sinks
from .plots import alignment_plot, spectrogram_comparison

# (voice, text) -> (log10 mel, wave) or (log10 mel, wave, alignment or None), as evaluation.System
SpeakFn = Callable[[torch.nn.Module, str], tuple[np.ndarray, ...]]


class VoiceEvaluator:
    def __init__(self, texts: list[str], ref_mels: list[np.ndarray], ref_waves: list[np.ndarray], ids: list[str],
                 speak_fn: SpeakFn, sampling_rate: int,
                 speaker_encoder: str | None, out_dir: Path, asr_model: str | None = None,
                 asr_language: str | None = "en") -> None:
        self.texts, self.ref_mels, self.ref_waves, self.ids = texts, ref_mels, ref_waves, ids
        self.speak_fn, self.rate = speak_fn, sampling_rate
        self.speaker_encoder, self.out_dir = speaker_encoder, out_dir
        self.asr_model, self.asr_language = asr_model, asr_language

    def __call__(self, voice: torch.nn.Module, step: int, callbacks: list) -> dict[str, float]:
        was_training = voice.training
        voice.eval()
        try:
            spoken = speak(partial(self.speak_fn, voice), self.texts, f"step {step}", progress=False)
        finally:
            voice.train(was_training)
        summary = score(spoken, self.ref_mels, self.ref_waves, self.rate, self.speaker_encoder,
                        self.texts, self.asr_model, self.asr_language)["summary"]
        self._write(spoken, step, callbacks)
        if summary["mcd"] is None:
            # No sentence had a plausible length: "infinitely far", so a checkpoint in that state
            # never wins `metric_for_best_model: mcd` (a missing key would crash the Trainer).
            summary["mcd"] = float("inf")
        keys = ("mcd", "length_ratio_mean", "f0_rmse_cents", "voicing_error", "speaker_similarity", "cer", "wer",
                "alignment_diagonality")
        return {k: float(summary[k]) for k in keys if summary.get(k) is not None}

    def _write(self, spoken: Spoken, step: int, callbacks: list) -> None:
        folder = self.out_dir / "eval_samples" / f"step-{step}"
        folder.mkdir(parents=True, exist_ok=True)
        audio, images = {}, {}
        spoken_clips = zip(self.ids, spoken.mels, spoken.waves, spoken.alignments)
        for i, (clip_id, mel, wave, alignment) in enumerate(spoken_clips):
            sf.write(str(folder / f"{clip_id}.wav"), wave, self.rate)
            audio[f"eval/{clip_id}"] = wave
            images[f"eval/{clip_id}_mel"] = spectrogram_comparison(
                {"reference": self.ref_mels[i], f"step {step}": mel}, self.texts[i], folder / f"{clip_id}.png"
            )
            if alignment is not None:
                images[f"eval/{clip_id}_alignment"] = alignment_plot(
                    {f"step {step}": alignment}, self.texts[i], folder / f"{clip_id}_alignment.png"
                )
        for sink in media_sinks(callbacks):
            sink.log(step, audio, images, self.rate)
