"""How much of a VITS base's posterior latent carries sound, channel by channel: for two held-out
recordings of one voice, the variance of the posterior mean over time against the posterior's own
variance (a signal-to-noise ratio per channel). A collapsed channel has SNR near 0.

    cd benchmarks && ../.venv/bin/python vits_channels.py ../assets/vits_demo_base
"""
import sys
import tempfile

import numpy as np
import torch
from pathlib import Path
sys.path.insert(0, ".")
from hf_vclone.synthesize import load_voice
from hf_vclone.models.vits import _core
from base_cer import held_out_sentences, real_recordings
torch.manual_seed(0)
voice = load_voice(sys.argv[1]); vits, tv = _core(voice.voice.tts), voice.voice
texts = held_out_sentences(2)
with tempfile.TemporaryDirectory() as d:
    real = real_recordings("us_f2", texts, voice.sampling_rate, Path(d))
with torch.no_grad():
  for wave in real:
    w = torch.from_numpy(wave[: len(wave) // tv.hop * tv.hop].astype(np.float32))[None]
    lin = tv.spectrogram.linear(w); T = lin.shape[-1]; fm = torch.ones(1, 1, T)
    z, m_q, logs_q = vits.posterior_encoder(lin, fm)
    sig = m_q[0].var(-1)            # variance of the posterior mean over time, per channel
    noise = torch.exp(logs_q[0]).pow(2).mean(-1)  # posterior variance, per channel
    snr = (sig / noise).sort(descending=True).values
    print("channels:", len(snr), " SNR (var of mean over time / posterior var), top 12:", [round(float(x), 2) for x in snr[:12]])
    print("  channels with SNR > 1:", int((snr > 1).sum()), " > 0.1:", int((snr > 0.1).sum()), " median:", round(float(snr.median()), 4))
