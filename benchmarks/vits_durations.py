"""How well does a VITS voice's duration predictor predict the durations training gives it?

For held-out recordings, the per-token durations of the alignment as training finds it (the search,
inside espeak-ng's phoneme windows: `vits_diagnosis.aligned_latents`) against the predictor's at noise
0, before and after VITS' ceil, with a constant (the mean) as the floor to beat. `--espeak-durations`:
against the durations `vits.alignment: espeak_durations` trains on instead. Free-running speech
reads worse than the prior given the real durations (benchmarks/README.md, session 16); this says
whether the predictor is why.

    cd benchmarks && ../.venv/bin/python vits_durations.py ../assets/vits_demo_base --speaker us_f2
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from hf_vclone.models.vits import _core
from hf_vclone.synthesize import load_voice
from base_cer import held_out_sentences, real_recordings
from vits_diagnosis import aligned_latents


@torch.no_grad()
def predicted_durations(vits, hidden: torch.Tensor) -> np.ndarray:
    """exp(log-duration) per token at noise 0, stochastic or deterministic predictor."""
    mask = torch.ones(1, 1, hidden.shape[-1])
    if vits.config.use_stochastic_duration_prediction:
        log_duration = vits.duration_predictor(hidden, mask, reverse=True, noise_scale=0.0)
    else:
        log_duration = vits.duration_predictor(hidden, mask)
    return torch.exp(log_duration)[0, 0].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("voice")
    parser.add_argument("--speaker", default="us_f2")
    parser.add_argument("--sentences", type=int, default=12)
    parser.add_argument("--espeak-durations", action="store_true",
                        help="the targets are the durations espeak-ng's timings give (vits.alignment: espeak_durations)")
    args = parser.parse_args()
    torch.manual_seed(0)
    voice = load_voice(args.voice)
    vits, texts = _core(voice.voice.tts), held_out_sentences(args.sentences)
    with tempfile.TemporaryDirectory() as tmp:
        real = real_recordings(args.speaker, texts, voice.sampling_rate, Path(tmp))
    predicted, target = [], []
    for wave, text in zip(real, texts):
        z = aligned_latents(voice, wave.astype(np.float32), text, espeak_voice=args.speaker,
                            fixed=args.espeak_durations)
        predicted.append(predicted_durations(vits, z["hidden"]))
        target.append(z["durations"].numpy())
    p, t = np.concatenate(predicted), np.concatenate(target)
    print(f"{len(t)} tokens, {t.mean():.2f} frames per token in the alignment")
    print(f"predicted, noise 0: mean exp {p.mean():.2f}, after the ceil {np.ceil(p).mean():.2f}")
    print(f"correlation with the alignment's: {np.corrcoef(p, t)[0, 1]:.3f}")
    print(f"mean absolute error after the ceil: {np.abs(np.ceil(p) - t).mean():.2f} frames "
          f"(a constant, the mean: {np.abs(t - t.mean()).mean():.2f})")


if __name__ == "__main__":
    main()
