"""Does a VITS base's latent carry the words, and does the decoder train on them? (issue 19, session 15)

Three measurements on held-out sentences of one espeak-ng voice, none of them using the decoder:

1. **posterior SNR**: per latent channel, the variance across frames of the posterior mean over the
   mean variance of the posterior's noise, exp(2 log_std). Below 1 a channel's sample is mostly noise.
2. **a linear probe**: ridge regression from the latent (+- 3 frames) to the log linear magnitude,
   fit on `--fit` sentences: one on the posterior means, applied to the test sentences' means and to
   the prior path's latent (the text prior stretched by the real recording's espeak-ng-windowed
   alignment, through the reverse flow, noise 0); one fit on posterior samples, applied to samples.
3. **Griffin-Lim + Whisper** on each probe's magnitude: CER, with the true magnitude's as the floor.

If the mean reads and the sample does not, a decoder trained on the sample (as VITS trains it) learns
from noise; `vits.posterior_noise` trains it nearer the mean.

    cd benchmarks && ../.venv/bin/python vits_posterior_probe.py ../assets/vits_demo_base --speaker us_f2
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import librosa
import numpy as np
import torch

from hf_vclone.models.vits import _core
from hf_vclone.synthesize import load_voice
from base_cer import cer, held_out_sentences, real_recordings
from vits_diagnosis import aligned_latents

CONTEXT = 3  # frames either side in the probe's input
RIDGE = 10.0


def windowed(x: np.ndarray) -> np.ndarray:
    """(frames, channels) -> (frames, channels x (2 CONTEXT + 1)): each frame with its neighbours."""
    padded = np.pad(x, ((CONTEXT, CONTEXT), (0, 0)), mode="edge")
    return np.concatenate([padded[i:i + len(x)] for i in range(2 * CONTEXT + 1)], 1)


@torch.no_grad()
def latents(voice, wave: np.ndarray, text: str, espeak_voice: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """({mean, sample, prior, std}: (frames, channels), log linear magnitude (frames, bins)) of one recording."""
    z = aligned_latents(voice, wave.astype(np.float32), text, espeak_voice)
    prior = _core(voice.voice.tts).flow(z["prior_mean"], z["frame_mask"], reverse=True)  # noise 0
    out = {"mean": z["mean"], "sample": z["sample"], "prior": prior, "std": z["log_std"].exp()}
    return {k: v[0].T.numpy() for k, v in out.items()}, np.log(z["linear"][0].T.numpy() + 1e-5)


def fit_probe(inputs: list[np.ndarray], targets: list[np.ndarray]):
    """Ridge regression from windowed, standardised latents to log magnitudes; returns the map."""
    x = np.concatenate([windowed(i) for i in inputs])
    y = np.concatenate(targets)
    centre, scale, y_centre = x.mean(0), x.std(0) + 1e-6, y.mean(0)
    xn = (x - centre) / scale
    weights = np.linalg.solve(xn.T @ xn + RIDGE * np.eye(xn.shape[1]), xn.T @ (y - y_centre))
    return lambda latent: ((windowed(latent) - centre) / scale) @ weights + y_centre


def griffin_lim(log_magnitude: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    return librosa.griffinlim(np.exp(log_magnitude.T), n_iter=32, hop_length=hop, n_fft=n_fft, random_state=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("voice")
    parser.add_argument("--speaker", default="us_f2", help="the espeak-ng demo voice whose recordings are probed")
    parser.add_argument("--sentences", type=int, default=12, help="test sentences")
    parser.add_argument("--fit", type=int, default=60, help="held-out sentences the probe is fitted on")
    args = parser.parse_args()
    torch.manual_seed(0)
    voice = load_voice(args.voice)
    rate, hop = voice.sampling_rate, voice.voice.hop
    n_fft = 2 * (voice.voice.spectrogram.linear(torch.zeros(1, 4 * hop)).shape[1] - 1)
    texts = held_out_sentences(args.sentences + args.fit)
    with tempfile.TemporaryDirectory() as tmp:
        real = real_recordings(args.speaker, texts, rate, Path(tmp))
    rows = [latents(voice, w, t, args.speaker) for w, t in zip(real, texts)]
    test, fit = rows[:args.sentences], rows[args.sentences:]

    means = np.concatenate([r["mean"] for r, _ in test])
    noise = np.concatenate([r["std"] for r, _ in test]) ** 2
    snr = np.sort(means.var(0) / noise.mean(0))[::-1]
    print(f"posterior SNR per channel: max {snr[0]:.2f}, median {np.median(snr):.2f}; "
          f"{int((snr > 1).sum())} of {len(snr)} channels above 1; mean posterior std {np.sqrt(noise).mean():.2f}")

    test_texts = texts[:args.sentences]
    print(f"{'probe fitted on -> applied to':36s} R2      Griffin-Lim CER")
    for fitted, applied in (("mean", "mean"), ("sample", "sample"), ("mean", "prior")):
        probe = fit_probe([r[fitted] for r, _ in fit], [m for _, m in fit])
        predictions = [probe(r[applied]) for r, _ in test]
        y_centre = np.concatenate([m for _, m in fit]).mean(0)
        residual = sum(((p - m) ** 2).sum() for p, (_, m) in zip(predictions, test))
        total = sum(((m - y_centre) ** 2).sum() for _, m in test)
        value = cer([griffin_lim(p, n_fft, hop) for p in predictions], test_texts, rate)[0]
        print(f"{fitted + ' -> ' + applied:36s} {1 - residual / total:6.3f}  {value:.3f}")
    floor = cer([griffin_lim(m, n_fft, hop) for _, m in test], test_texts, rate)[0]
    print(f"{'(the true magnitude)':36s}         {floor:.3f}")
    print(f"{'(the real recordings)':36s}         {cer(list(real[:args.sentences]), test_texts, rate)[0]:.3f}")


if __name__ == "__main__":
    main()
