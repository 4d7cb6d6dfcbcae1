"""Which durations make a VITS voice read? The text prior of held-out sentences, expanded by
durations from different sources, through the reverse flow and the decoder (noise 0), each
transcribed by the offline ASR (Whisper-base, greedy):

- search: the monotonic alignment of the real recording, inside espeak-ng's windows (as training finds it);
- rule: espeak-ng's own phoneme timings by the fixed rule of `vits.alignment: espeak_durations`;
- predicted: the duration predictor at noise 0 with VITS' ceil (what the voice says at speaking rate 1);
- predicted, total from the recording: the predictor's proportions, the sentence's total length the real one's;
- predicted, words from espeak-ng: the predictor's proportions within each word, each word's length the rule's.

Session 18 (benchmarks/README.md, "The pace") used it to find that the predictor's proportions are
fine and its total is short, which `vits.calibrate_length` then fixes.

    cd benchmarks && ../.venv/bin/python vits_duration_sources.py ../outputs/vits_deep_text/checkpoint-2000 --speaker us_f2
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from hf_vclone.models.vits import _core
from hf_vclone.synthesize import load_voice
from base_cer import cer, held_out_sentences, real_recordings
from vits_diagnosis import aligned_latents
from vits_durations import predicted_durations


def share(total: int, weights: np.ndarray) -> np.ndarray:
    """`total` frames over tokens in proportion to `weights`, at least one each, rounded by largest remainder."""
    extra = total - len(weights)
    parts = extra * np.maximum(weights, 1e-6) / np.maximum(weights, 1e-6).sum()
    frames = np.floor(parts).astype(int)
    frames[np.argsort(-(parts - frames))[: extra - frames.sum()]] += 1
    return frames + 1


def within_groups(totals: np.ndarray, weights: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each group of tokens gets the frames `totals` gives it, shared by `weights`."""
    out = np.zeros_like(totals)
    for g in np.unique(groups):
        idx = np.where(groups == g)[0]
        out[idx] = share(int(totals[idx].sum()), weights[idx])
    return out


@torch.no_grad()
def speak(vits, prior_mean: torch.Tensor, durations: np.ndarray) -> np.ndarray:
    """The prior's mean, each token repeated for its frames, through the reverse flow and the decoder."""
    latent = torch.repeat_interleave(prior_mean, torch.as_tensor(durations, dtype=torch.long), dim=2)
    return vits.decoder(vits.flow(latent, torch.ones(1, 1, latent.shape[2]), reverse=True))[0, 0].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("voice")
    parser.add_argument("--speaker", default="us_f2")
    parser.add_argument("--sentences", type=int, default=12)
    args = parser.parse_args()
    torch.manual_seed(0)
    voice = load_voice(args.voice)
    vits, texts = _core(voice.voice.tts), held_out_sentences(args.sentences)
    with tempfile.TemporaryDirectory() as tmp:
        real = real_recordings(args.speaker, texts, voice.sampling_rate, Path(tmp))
    waves: dict[str, list[np.ndarray]] = {}
    for wave, text in zip(real, texts):
        wave = wave.astype(np.float32)
        searched = aligned_latents(voice, wave, text, espeak_voice=args.speaker)
        rule = aligned_latents(voice, wave, text, espeak_voice=args.speaker, fixed=True)["durations"].numpy().astype(int)
        predicted = predicted_durations(vits, searched["hidden"])
        phonemes = voice.speaking.frontend(text)
        symbols = voice.processor.prepare_for_tokenization(phonemes, normalize=voice.processor.normalize)[0]
        tokens = [c for s in symbols for c in ("_", s)] + ["_"] if voice.processor.add_blank else list(symbols)
        words = np.cumsum([token == " " for token in tokens])
        ids = torch.tensor([voice.processor(phonemes)["input_ids"]])
        mask = torch.ones_like(ids)
        prior = vits.text_encoder(input_ids=ids, padding_mask=mask[:, :, None].float(), attention_mask=mask)
        prior_mean = prior.prior_means.transpose(1, 2)
        sources = {
            "search (the real recording's alignment)": searched["durations"].numpy().astype(int),
            "rule (espeak-ng's timings)": rule,
            "predicted, noise 0, ceil": np.maximum(np.ceil(predicted), 1).astype(int),
            "predicted, total from the recording": within_groups(rule, predicted, np.zeros(len(rule), dtype=int)),
            "predicted, words from espeak-ng": within_groups(rule, predicted, words),
        }
        for name, durations in sources.items():
            waves.setdefault(name, []).append(speak(vits, prior_mean, durations))
    for name, generated in waves.items():
        value, heard = cer(generated, texts, voice.sampling_rate)
        length = sum(map(len, generated)) / sum(map(len, real))
        print(f"{name:42s} CER {value:.3f}   length / real {length:.2f}   e.g. {heard[2]!r}")


if __name__ == "__main__":
    main()
