"""What does a VITS voice's discriminator call real? Its mean score per sub-discriminator for
stretches of real recordings, of another voice, of real audio altered (noise, level, a one-sample
shift) and of the voice's own decoder output (the real recording's posterior latent decoded).

A healthy adversary scores all of them somewhere between 0 and 1. One that calls every real variant
1.00 and the decoder's output 0.00 has found a trivial tell, e.g. a constant offset (session 12:
benchmarks/README.md, "The decoder was saturated").

    .venv/bin/python benchmarks/vits_discriminator_probe.py outputs/vits_espeak_stage3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from base_cer import held_out_sentences, real_recordings  # noqa: E402
from hf_vclone.models.vits import _core  # noqa: E402
from hf_vclone.synthesize import load_voice  # noqa: E402
from hf_vclone.vits.discriminator_import import read_discriminator  # noqa: E402

SEGMENT, START = 8192, 4000


def stretch(wave: np.ndarray, start: int = START) -> torch.Tensor:
    return torch.from_numpy(np.asarray(wave[start:start + SEGMENT], dtype=np.float32))[None, None]


@torch.no_grad()
def decoded(voice, wave: np.ndarray) -> np.ndarray:
    vits, train_voice = _core(voice.voice.tts), voice.voice
    hop = train_voice.hop
    w = torch.from_numpy(wave[: len(wave) // hop * hop].astype(np.float32))[None]
    linear = train_voice.spectrogram.linear(w)
    latents, _, _ = vits.posterior_encoder(linear, torch.ones(1, 1, linear.shape[-1]))
    return vits.decoder(latents)[0, 0].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("voice", help="a VITS voice or checkpoint folder with discriminator.safetensors")
    parser.add_argument("--speaker", default="us_f2")
    parser.add_argument("--other", default="gb_m3")
    parser.add_argument("--sentences", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    voice = load_voice(args.voice)
    discriminator = read_discriminator(args.voice).build().eval()
    texts = held_out_sentences(args.sentences)
    with tempfile.TemporaryDirectory() as tmp:
        real = real_recordings(args.speaker, texts, voice.sampling_rate, Path(tmp))
        other = real_recordings(args.other, texts, voice.sampling_rate, Path(tmp))
    for i, (r, o) in enumerate(zip(real, other)):
        d = decoded(voice, r)
        print(f"sentence {i}: decoder output mean {d.mean():+.3f}, std {d.std():.3f}, "
              f"{np.mean(np.abs(d) > 0.99):.0%} of samples at |x| > 0.99 (the recording: mean {r.mean():+.3f}, std {r.std():.3f})")
        for name, x in (("real", stretch(r)), (f"another voice ({args.other})", stretch(o)),
                        ("real + noise 1e-3", stretch(r + 1e-3 * rng.standard_normal(len(r)).astype(np.float32))),
                        ("real x 0.5", stretch(r * 0.5)), ("real, 1 sample later", stretch(r, START + 1)),
                        ("decoder output", stretch(d))):
            with torch.no_grad():
                scores, _ = discriminator(x)
            print(f"  {name:28s}", " ".join(f"{float(s.mean()):5.2f}" for s in scores))


if __name__ == "__main__":
    main()
