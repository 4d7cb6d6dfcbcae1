"""How much of a VITS base's posterior latent carries sound, channel by channel: for two held-out
recordings of one voice, the variance of the posterior mean over time against the posterior's own
variance (a signal-to-noise ratio per channel). A collapsed channel has SNR near 0.

    cd benchmarks && ../.venv/bin/python vits_channels.py ../assets/vits_demo_base
"""
import sys

import torch

from vits_probe import held_out_spectrograms

_, vits, _, pairs = held_out_spectrograms(sys.argv[1])
with torch.no_grad():
    for _, lin in pairs:
        _, m_q, logs_q = vits.posterior_encoder(lin, torch.ones(1, 1, lin.shape[-1]))
        signal = m_q[0].var(-1)  # variance of the posterior mean over time, per channel
        noise = torch.exp(logs_q[0]).pow(2).mean(-1)  # posterior variance, per channel
        snr = (signal / noise).sort(descending=True).values
        print("channels:", len(snr), " SNR (var of mean over time / posterior var), top 12:",
              [round(float(x), 2) for x in snr[:12]])
        print("  channels with SNR > 1:", int((snr > 1).sum()), " > 0.1:", int((snr > 0.1).sum()),
              " median:", round(float(snr.median()), 4))
