"""Who decides a VITS base's alignment: for two held-out recordings of one voice, the spread over
tokens of the search's log-likelihood per frame (median), against the spread of the beta-binomial
alignment prior (vits.alignment_prior_steps, weight 1), and the durations the search finds with the
prior at weights 0 to 1000.

    cd benchmarks && ../.venv/bin/python vits_alignment_scale.py CHECKPOINT
"""
import sys

import torch

from hf_vclone.models.vits import _prior_log_likelihood
from hf_vclone.vits.alignment import beta_binomial_log_prior, maximum_path
from vits_probe import held_out_spectrograms

voice, vits, _, pairs = held_out_spectrograms(sys.argv[1])
with torch.no_grad():
    for text, lin in pairs:
        ids = torch.tensor([voice.processor(voice.speaking.frontend(text))["input_ids"]])
        mask = torch.ones_like(ids)
        enc = vits.text_encoder(input_ids=ids, padding_mask=mask[:, :, None].float(), attention_mask=mask)
        mean, log_std = enc.prior_means.transpose(1, 2), enc.prior_log_variances.transpose(1, 2)
        frames, tokens = lin.shape[-1], ids.shape[1]
        frame_mask = torch.ones(1, 1, frames)
        z, _, _ = vits.posterior_encoder(lin, frame_mask)
        ll = _prior_log_likelihood(vits.flow(z, frame_mask, reverse=False), mean, log_std)  # (1, frames, tokens)
        prior = beta_binomial_log_prior(torch.tensor([frames]), torch.tensor([tokens]), frames, tokens)
        print(f"{frames} frames, {tokens} tokens")
        print("log-likelihood spread per frame (max - min over tokens), median %.1f" % (ll.amax(-1) - ll.amin(-1)).median())
        print("alignment prior spread per frame, median %.1f" % (prior.amax(-1) - prior.amin(-1)).median())
        for weight in [0, 1, 10, 30, 100, 1000]:
            path = maximum_path(ll + weight * prior, torch.ones(1, frames, tokens, dtype=torch.bool))
            print(f"  prior weight {weight}: durations", path.sum(1)[0].int().tolist()[:40])
