"""Where a SpeechT5 training step spends its time on this CPU, and what dropout and bf16 cost.

One process, side by side: a forward + backward + AdamW step of SpeechT5ForTextToSpeech on a
fixed random batch, for each dropout setting in float32 and under bf16 autocast, round-robin over
`--rounds` rounds (each ratio is taken within its round: these machines are noisy). Then the
torch profiler's table of the default setting's step, by self CPU time.

Why dropout: the profiler showed `aten::bernoulli_` (the dropout masks, drawn one element at a
time by the CPU generator) as the largest single cost of the quickstart base's step, ahead of
every matmul and convolution. The settings are the model's own config keys, so a recipe changes
them in `model.init_config` (training from scratch) or `model.config_overrides`.

    .venv/bin/python benchmarks/step_profile.py --size small            # about 2 minutes
    .venv/bin/python benchmarks/step_profile.py --size full --steps 3   # about 6 minutes
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from transformers import SpeechT5Config, SpeechT5ForTextToSpeech

ROOT = Path(__file__).resolve().parents[1]
TRANSFORMER_DROPOUT = ("hidden_dropout", "attention_dropout", "activation_dropout", "positional_dropout")
SETTINGS: dict[str, dict] = {
    "default dropouts": {},
    "no transformer dropout": {k: 0.0 for k in TRANSFORMER_DROPOUT},
    "no dropout but the prenet's": {**{k: 0.0 for k in TRANSFORMER_DROPOUT}, "speech_decoder_postnet_dropout": 0.0},
}
# The quickstart base's architecture (recipes/quickstart_base.yaml), and microsoft/speecht5_tts's (the defaults).
SMALL = dict(hidden_size=256, encoder_layers=3, decoder_layers=3, encoder_attention_heads=4, decoder_attention_heads=4,
             encoder_ffn_dim=1024, decoder_ffn_dim=1024, reduction_factor=4, speech_decoder_prenet_units=256,
             speech_decoder_postnet_units=256, speech_decoder_postnet_layers=5)
COMMON = dict(use_guided_attention_loss=True, guided_attention_loss_num_heads=2, encoder_layerdrop=0.0,
              decoder_layerdrop=0.0, vocab_size=81)


def batch(size: int, tokens: int, frames: int, mel_bins: int, speaker_dim: int) -> dict:
    g = torch.Generator().manual_seed(0)
    return {"input_ids": torch.randint(4, 81, (size, tokens), generator=g),
            "attention_mask": torch.ones(size, tokens, dtype=torch.long),
            "labels": torch.randn(size, frames, mel_bins, generator=g),
            "speaker_embeddings": torch.randn(size, speaker_dim, generator=g)}


class Step:
    """One model with its optimizer: `run(bf16)` is a full training step."""

    def __init__(self, config: SpeechT5Config, inputs: dict) -> None:
        torch.manual_seed(0)
        self.model = SpeechT5ForTextToSpeech(config).train()
        self.opt = torch.optim.AdamW(self.model.parameters(), 1e-4)
        self.inputs = inputs

    def run(self, bf16: bool) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = self.model(**self.inputs).loss
        loss.backward()
        self.opt.step()
        self.opt.zero_grad()

    def seconds(self, bf16: bool, steps: int) -> float:
        self.run(bf16)  # warm-up: oneDNN picks its kernels on the first call of each shape
        start = time.perf_counter()
        for _ in range(steps):
            self.run(bf16)
        return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["small", "full"], default="small")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per system and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "step_profile.json")
    args = parser.parse_args()

    arch = SMALL if args.size == "small" else {}
    # The quickstart's batch: 16 clips of about 3 s (320 frames at 10 ms, 60 characters); full size: 4 clips.
    inputs = batch(16 if args.size == "small" else 4, 60, 320, 80, 512)
    steps = {name: Step(SpeechT5Config(**arch, **COMMON, **extra), inputs) for name, extra in SETTINGS.items()}
    seconds: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, step in steps.items():
            for bf16 in (False, True):
                seconds.setdefault(f"{name}, {'bf16' if bf16 else 'float32'}", []).append(step.seconds(bf16, args.steps))
    baseline = seconds["default dropouts, float32"]
    print(f"\n| {args.size} SpeechT5, one training step | s/step (median) | speed vs default float32 (per round) |")
    print("|---|---|---|")
    rows = {}
    for name, values in seconds.items():
        ratios = [b / v for b, v in zip(baseline, values)]
        rows[name] = {"seconds": values, "speedup": ratios}
        print(f"| {name} | {statistics.median(values):.3f} | {statistics.median(ratios):.2f}x "
              f"({min(ratios):.2f}-{max(ratios):.2f}) |")

    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            steps["default dropouts"].run(False)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)
    print("\nDefault dropouts, float32, 3 steps, by self CPU time:\n" + table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"size": args.size, "steps": args.steps, "rounds": args.rounds, "rows": rows,
                                     "profile": table}, indent=1))


if __name__ == "__main__":
    main()
