"""Who decides a VITS base's alignment: for two held-out recordings of one voice, the spread over
tokens of the search's log-likelihood per frame (median), against the spread of the beta-binomial
alignment prior (vits.alignment_prior_steps, weight 1), and the durations the search finds with the
prior at weights 0 to 1000.

    cd benchmarks && ../.venv/bin/python vits_alignment_scale.py CHECKPOINT
"""
import sys
import tempfile

import numpy as np
import torch
from pathlib import Path
sys.path.insert(0, ".")
from hf_vclone.synthesize import load_voice
from hf_vclone.models.vits import _prior_log_likelihood, _core
from hf_vclone.vits.alignment import maximum_path, beta_binomial_log_prior
from base_cer import held_out_sentences, real_recordings
torch.manual_seed(0)
voice = load_voice(sys.argv[1]); vits, tv = _core(voice.voice.tts), voice.voice
texts = held_out_sentences(2)
with tempfile.TemporaryDirectory() as d:
    real = real_recordings("us_f2", texts, voice.sampling_rate, Path(d))
with torch.no_grad():
  for wave, text in zip(real, texts):
    ids = torch.tensor([voice.processor(voice.speaking.frontend(text))["input_ids"]]); mask = torch.ones_like(ids)
    enc = vits.text_encoder(input_ids=ids, padding_mask=mask[:, :, None].float(), attention_mask=mask)
    mean, log_std = enc.prior_means.transpose(1, 2), enc.prior_log_variances.transpose(1, 2)
    w = torch.from_numpy(wave[: len(wave) // tv.hop * tv.hop].astype(np.float32))[None]
    lin = tv.spectrogram.linear(w); T = lin.shape[-1]; fm = torch.ones(1, 1, T)
    z, _, _ = vits.posterior_encoder(lin, fm); zp = vits.flow(z, fm, reverse=False)
    ll = _prior_log_likelihood(zp, mean, log_std)  # (1, T, N)?
    N = ids.shape[1]
    lp = beta_binomial_log_prior(torch.tensor([T]), torch.tensor([N]), T, N)
    print("shapes", tuple(ll.shape), tuple(lp.shape), "T", T, "N", N)
    print("ll spread per frame (max-min over tokens): median %.1f" % (ll.amax(-1) - ll.amin(-1)).median().item())
    print("prior spread per frame: median %.1f" % (lp.amax(-1) - lp.amin(-1)).median().item())
    for W in [0, 1, 10, 30, 100, 1000]:
        A = maximum_path(ll + W * lp, torch.ones(1, T, N, dtype=torch.bool))
        print(W, A.sum(1)[0].int().tolist()[:40])
