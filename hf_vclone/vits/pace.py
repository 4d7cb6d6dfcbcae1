"""A VITS voice's speaking rate, measured on its training clips (`vits.calibrate_length`).

Why: two things make a fine-tuned VITS voice speak at the wrong pace, and one scalar fixes both.
- The stochastic duration predictor sampled at a low noise scale, as small bases need, gives about
  the median of each token's log-duration, which lies below the mean duration; our demo base spoke
  at 0.67 of its recordings' length (benchmarks/README.md, "The pace").
- A fine-tune that keeps the base's duration predictor (freeze_lower, as finetune-hf-vits does with
  its text encoder) speaks at the base's pace, not the target's: the demo's target reads at 135
  words per minute, the base voice at 170.
So after training we find the `speaking_rate` (VitsConfig's; durations are divided by it) at which
the voice's own predicted durations, as it will speak them, add up to `length` times the training
clips' frames, and write it to the voice's config.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from peft import PeftModel


def _core(voice: torch.nn.Module) -> torch.nn.Module:
    """The VitsModel itself, under a LoRA wrapper too (its adapters stay active). Not models.vits'
    helper of the same job: that module imports the trainer, which imports this one."""
    return voice.get_base_model() if isinstance(voice, PeftModel) else voice


@torch.no_grad()
def predicted_log_durations(voice: torch.nn.Module, texts: Sequence[Sequence[int]], seed: int = 0,
                            batch_size: int = 16) -> list[torch.Tensor]:
    """Each text's per-token log-durations as the voice's own inference draws them (its
    `noise_scale_duration`, seeded, so the same clips give the same rate), before the speaking rate
    and VITS' ceil. Without a speaker id, as hf_vclone's voices speak."""
    vits = _core(voice)
    pad = int(vits.config.pad_token_id or 0)
    out: list[torch.Tensor] = []
    device = next(vits.parameters()).device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, len(texts), batch_size):
            chunk = [list(t) for t in texts[start: start + batch_size]]
            width = max(map(len, chunk))
            ids = torch.full((len(chunk), width), pad, dtype=torch.long, device=device)
            mask = torch.zeros((len(chunk), width), dtype=torch.long, device=device)
            for i, t in enumerate(chunk):
                ids[i, : len(t)] = torch.as_tensor(t)
                mask[i, : len(t)] = 1
            padding = mask[:, None, :].to(vits.text_encoder.embed_tokens.weight.dtype)  # (batch, 1, tokens), as VitsModel
            encoded = vits.text_encoder(input_ids=ids, padding_mask=padding.transpose(1, 2), attention_mask=mask)
            hidden = encoded.last_hidden_state.transpose(1, 2)
            if vits.config.use_stochastic_duration_prediction:
                log_duration = vits.duration_predictor(hidden, padding, reverse=True,
                                                       noise_scale=vits.noise_scale_duration)
            else:
                log_duration = vits.duration_predictor(hidden, padding)
            out += [log_duration[i, 0, : len(t)].float().cpu() for i, t in enumerate(chunk)]
    return out


def spoken_frames(log_durations: Sequence[torch.Tensor], speaking_rate: float) -> int:
    """Frames the voice speaks for these texts at `speaking_rate`: VitsModel's ceil(exp(d) x 1 / rate)."""
    length_scale = 1.0 / speaking_rate  # the same arithmetic as VitsModel.forward, so a rate gives its count exactly
    return int(sum(torch.ceil(torch.exp(d) * length_scale).sum().item() for d in log_durations))


def matching_rate(log_durations: Sequence[torch.Tensor], target_frames: int, iterations: int = 60) -> float:
    """The speaking rate at which `spoken_frames` comes closest to `target_frames` (bisection on the log
    rate: the frames fall monotonically as the rate rises). Each token keeps at least one frame,
    so a target below one frame per token is out of reach; the rate that gives the fewest is returned."""
    tokens = sum(len(d) for d in log_durations)
    if target_frames <= tokens:
        return 1e3
    low, high = -12.0, 12.0  # log rate: e^-12 speaks ~160,000 times slower, e^12 one frame per token
    for _ in range(iterations):
        middle = (low + high) / 2
        if spoken_frames(log_durations, float(torch.tensor(middle).exp())) > target_frames:
            low = middle
        else:
            high = middle
    # `high` gives at most the target; it lies within float error of a token's ceil boundary, so step off it
    # by far more than that error (a float32 product is good to ~1e-7), or a last bit decides one frame
    return float(torch.tensor(high, dtype=torch.float64).exp()) * (1 + 1e-5)


def calibrate_speaking_rate(voice: torch.nn.Module, texts: Sequence[Sequence[int]], frames: Sequence[int],
                            length: float = 1.0) -> dict[str, float]:
    """Set the voice's speaking rate (its config, and the model that speaks) so that the texts come
    out `length` times as long as their recordings' `frames`; returns what was measured."""
    if not texts or len(texts) != len(frames):
        raise ValueError(f"calibrating the pace needs one frame count per text ({len(texts)} texts, {len(frames)} counts)")
    vits = _core(voice)
    training = vits.training
    vits.eval()  # as the voice speaks: the text encoder's and duration predictor's dropout off
    try:
        log_durations = predicted_log_durations(voice, texts)
    finally:
        vits.train(training)
    real = int(sum(frames))
    before = spoken_frames(log_durations, vits.speaking_rate)
    rate = matching_rate(log_durations, round(real * length))
    vits.speaking_rate = vits.config.speaking_rate = rate
    return {"speaking_rate": rate, "clips": len(texts), "recorded_frames": real,
            "length_before": before / real, "length_after": spoken_frames(log_durations, rate) / real}
