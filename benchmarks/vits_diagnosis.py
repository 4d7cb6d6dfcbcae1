"""Where does a VITS base lose the words? Three paths from the same held-out sentences, each
transcribed by the offline ASR (Whisper-base, greedy), against the real recordings:

1. **decoder**: the real recording's posterior latent through the decoder (text not used): can the
   waveform generator render speech at all?
2. **prior, real durations**: the text encoder's prior, stretched by the monotonic alignment of the
   real recording (as in training), through the reverse flow and the decoder: does the text side
   know what each phoneme sounds like?
3. **free-running**: `synthesize`, with predicted durations: what a user hears.

A path that is intelligible where the next one is not locates the problem.

    .venv/bin/python benchmarks/vits_diagnosis.py outputs/vits_demo_base/checkpoint-2000 --speaker us_f2
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from hf_vclone.data.demo_corpus import DEMO_CLIPS, corpus_sentences
from hf_vclone.models.vits import _core
from hf_vclone.synthesize import load_voice
from hf_vclone.vits.alignment import maximum_path
from base_cer import cer, held_out_sentences, real_recordings


@torch.no_grad()
def aligned_latents(voice, wave: np.ndarray, text: str, espeak_voice: str | None = None,
                    fixed: bool = False) -> dict[str, torch.Tensor]:
    """One recording's posterior (`sample`, `mean`, `log_std`: (1, channels, frames)) and the text
    prior stretched by its alignment as training finds it (`prior_mean`, `prior_log_std`), plus the
    `frame_mask`, the text encoder's `hidden` state and the alignment's `durations` (tokens,). With
    `espeak_voice`, the alignment is searched inside espeak-ng's phoneme windows, as `vits.alignment:
    espeak` trains; with `fixed` too, the alignment is the rule's durations (`vits.alignment: espeak_durations`)."""
    from hf_vclone.models.vits import _prior_log_likelihood, outside_window_penalty

    vits, train_voice = _core(voice.voice.tts), voice.voice
    phonemes = voice.speaking.frontend(text)
    ids = torch.tensor([voice.processor(phonemes)["input_ids"]])
    mask = torch.ones_like(ids)
    encoded = vits.text_encoder(input_ids=ids, padding_mask=mask[:, :, None].float(), attention_mask=mask)
    mean, log_std = encoded.prior_means.transpose(1, 2), encoded.prior_log_variances.transpose(1, 2)
    hop = train_voice.hop
    linear = train_voice.spectrogram.linear(torch.from_numpy(wave[: len(wave) // hop * hop])[None])
    frames = linear.shape[-1]
    frame_mask = torch.ones(1, 1, frames)
    latents, posterior_mean, posterior_log_std = vits.posterior_encoder(linear, frame_mask)
    likelihood = _prior_log_likelihood(vits.flow(latents, frame_mask, reverse=False), mean, log_std)
    if espeak_voice:
        from hf_vclone.vits.espeak_timing import EspeakAligner, espeak_arguments

        aligner = EspeakAligner(espeak_arguments(espeak_voice), voice.sampling_rate, hop, fixed=fixed)
        windows = aligner.token_windows(voice.processor, phonemes, wave, frames, ids.shape[1])
        likelihood = likelihood + outside_window_penalty(torch.tensor([windows]), frames)
    alignment = maximum_path(likelihood, torch.ones(1, frames, ids.shape[1], dtype=torch.bool)).float()
    return {"sample": latents, "mean": posterior_mean, "log_std": posterior_log_std, "frame_mask": frame_mask,
            "linear": linear, "hidden": encoded.last_hidden_state.transpose(1, 2),
            "durations": alignment.sum(1)[0],
            "prior_mean": torch.bmm(alignment, mean.transpose(1, 2)).transpose(1, 2),
            "prior_log_std": torch.bmm(alignment, log_std.transpose(1, 2)).transpose(1, 2)}


@torch.no_grad()
def paths(voice, wave: np.ndarray, text: str, noise: float = 0.667,
          espeak_voice: str | None = None, fixed: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(decoder on the posterior's sample, on its mean, prior with the real alignment) for one recording
    (`aligned_latents`). The mean is what a voice trained with `vits.posterior_noise: 0` decodes."""
    vits, z = _core(voice.voice.tts), aligned_latents(voice, wave, text, espeak_voice, fixed)
    decoded = vits.decoder(z["sample"])[0, 0].numpy()
    decoded_mean = vits.decoder(z["mean"])[0, 0].numpy()
    prior = z["prior_mean"] + torch.randn_like(z["prior_mean"]) * torch.exp(z["prior_log_std"]) * noise
    prior = vits.decoder(vits.flow(prior, z["frame_mask"], reverse=True))[0, 0].numpy()
    return decoded, decoded_mean, prior


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("voice")
    parser.add_argument("--speaker", default="us_f2")
    parser.add_argument("--sentences", type=int, default=6)
    parser.add_argument("--training-sentences", action="store_true",
                        help="the base voice's first training sentences instead of held-out ones: over- or underfit?")
    parser.add_argument("--noise", type=float, default=0.667,
                        help="noise scale of paths 2 and 3 (VITS samples the prior with 0.667)")
    parser.add_argument("--duration-noise", type=float, default=None,
                        help="noise scale of the stochastic duration predictor in path 3 (the voice's own, 0.8 in VITS, if unset)")
    parser.add_argument("--speaking-rate", type=float, default=None,
                        help="path 3's speaking rate (VitsConfig.speaking_rate: durations divided by it; the voice's own if unset)")
    parser.add_argument("--free-only", action="store_true",
                        help="only the real recordings and path 3 (a quick sweep of the inference settings)")
    parser.add_argument("--espeak-windows", action="store_true",
                        help="path 2 searches inside espeak-ng's phoneme windows (vits.alignment: espeak)")
    parser.add_argument("--espeak-durations", action="store_true",
                        help="path 2 takes the durations espeak-ng's timings give (vits.alignment: espeak_durations)")
    args = parser.parse_args()
    torch.manual_seed(0)
    voice = load_voice(args.voice)
    _core(voice.voice.tts).noise_scale = args.noise  # what VitsModel's inference samples the prior with
    if args.duration_noise is not None:
        _core(voice.voice.tts).noise_scale_duration = args.duration_noise
    if args.speaking_rate is not None:
        _core(voice.voice.tts).speaking_rate = args.speaking_rate
    rate, texts = voice.sampling_rate, held_out_sentences(args.sentences)
    if args.training_sentences:
        texts = corpus_sentences(DEMO_CLIPS, 0, [])[args.speaker][:args.sentences]
    with tempfile.TemporaryDirectory() as tmp:
        real = real_recordings(args.speaker, texts, rate, Path(tmp))
    espeak = args.speaker if args.espeak_windows or args.espeak_durations else None
    free = [voice.synthesize(t)[0] for t in texts]
    systems = [("real recording", real), ("3. free-running", free)]
    if not args.free_only:
        decoded, decoded_mean, prior = zip(*(paths(voice, w.astype(np.float32), t, args.noise, espeak_voice=espeak,
                                     fixed=args.espeak_durations)
                               for w, t in zip(real, texts)))
        systems[1:1] = [("1. decoder (posterior sample)", decoded), ("1b. decoder (posterior mean)", decoded_mean),
                        ("2. prior, real durations", prior)]
    print(f"free-running length / real length: {sum(map(len, free)) / sum(map(len, real)):.2f}")
    for name, waves in systems:
        value, heard = cer(list(waves), texts, rate)
        # a constant offset and a saturated tanh are invisible in the mel loss (benchmarks/README.md, session 12)
        offset = float(np.mean([np.mean(w) for w in waves]))
        saturated = float(np.mean([np.mean(np.abs(w) > 0.99) for w in waves]))
        print(f"{name:32s} CER {value:.3f}   offset {offset:+.3f}, {saturated:.0%} of samples at |x| > 0.99   "
              f"e.g. {heard[2]!r}")


if __name__ == "__main__":
    main()
