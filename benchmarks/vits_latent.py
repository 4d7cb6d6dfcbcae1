"""Is a VITS base's text prior informative? For two held-out recordings of one voice: the posterior
sample pushed through the flow (z_p), against the text prior stretched by the alignment search.

Prints the flow's inversion error, the search's durations, the posterior's and the prior's mean
standard deviation, and how much of z_p's variance over time the prior mean explains. A prior that
explains a few per cent, with posterior std equal to prior std, is the collapse described in
benchmarks/README.md ("Why the text side fails").

    cd benchmarks && ../.venv/bin/python vits_latent.py ../outputs/vits_base_long/checkpoint-4000
"""
import argparse
import tempfile

import numpy as np
import torch
from pathlib import Path
from hf_vclone.synthesize import load_voice
from hf_vclone.models.vits import _prior_log_likelihood, _core
from hf_vclone.vits.alignment import maximum_path
from base_cer import held_out_sentences, real_recordings
torch.manual_seed(0)
parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("voice")
parser.add_argument("--speaker", default="us_f2")
args = parser.parse_args()
voice = load_voice(args.voice)
vits, tv = _core(voice.voice.tts), voice.voice
print("training mode:", vits.training, vits.flow.training)
texts = held_out_sentences(2)
with tempfile.TemporaryDirectory() as d:
    real = real_recordings(args.speaker, texts, voice.sampling_rate, Path(d))
with torch.no_grad():
  for wave, text in zip(real, texts):
    ids = torch.tensor([voice.processor(voice.speaking.frontend(text))["input_ids"]])
    mask = torch.ones_like(ids)
    enc = vits.text_encoder(input_ids=ids, padding_mask=mask[:, :, None].float(), attention_mask=mask)
    mean, log_std = enc.prior_means.transpose(1, 2), enc.prior_log_variances.transpose(1, 2)
    hop = tv.hop
    w = torch.from_numpy(wave[: len(wave) // hop * hop].astype(np.float32))[None]
    lin = tv.spectrogram.linear(w); T = lin.shape[-1]; fm = torch.ones(1, 1, T)
    z, m_q, logs_q = vits.posterior_encoder(lin, fm)
    zp = vits.flow(z, fm, reverse=False)
    zback = vits.flow(zp, fm, reverse=True)
    print("flow inverse error", (z - zback).abs().max().item(), "z std", z.std().item(), "zp std", zp.std().item())
    A = maximum_path(_prior_log_likelihood(zp, mean, log_std), torch.ones(1, T, ids.shape[1], dtype=torch.bool)).float()
    em = torch.bmm(A, mean.transpose(1, 2)).transpose(1, 2); el = torch.bmm(A, log_std.transpose(1, 2)).transpose(1, 2)
    print("durations", A.sum(1)[0].int().tolist()[:30])
    r = (zp - em) / torch.exp(el)
    print("standardised residual: mean sq", (r**2).mean().item(), " prior std mean", torch.exp(el).mean().item(),
          " posterior std mean", torch.exp(logs_q).mean().item())
    print("per-channel: var(zp over time)", zp.var(-1).mean().item(), " var(em over time)", em.var(-1).mean().item(),
          " residual var", (zp - em).var(-1).mean().item())
