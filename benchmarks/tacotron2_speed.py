"""Tacotron 2 beside SpeechT5: training speed on the same clips, synthesis RTF, and WaveGlow against HiFi-GAN.

Issue 17 asks what the third backend costs. Both acoustic models are built at their published sizes with
random weights (`microsoft/speecht5_tts`'s architecture, ~144M parameters; NVIDIA's LJSpeech Tacotron 2,
~28M, one frame per decoder step), which cost what the real ones cost, and train with hf_vclone's Trainer
(`full`, float32) for the same steps at the same batch on the same `us_f5` clips, each in its own process,
in round-robin rounds so that this noisy machine's slow phases hit both alike; ratios are taken within a
round. Clips/s is the fair unit: each backend computes its own features from the same audio (SpeechT5:
16 kHz, 62.5 frames/s; Tacotron 2: 22,050 Hz, 86 frames/s).

Synthesis: seconds of compute per second of audio (RTF), for
- each acoustic model alone, decoding a fixed number of frames (a random model never stops by itself), and
- the vocoders on the same 22,050 Hz mel: NVIDIA's WaveGlow (our `WaveGlowVocoder` at the published
  sizes: 12 flows of 8 WaveNet layers with 512 channels, `nvidia_waveglowpyt_fp32`, and with 256,
  `waveglow256pyt`) and HiFi-GAN V1 at 22,050 Hz (`SpeechT5HifiGan` with upsampling 8, 8, 2, 2,
  speechbrain's `tts-hifigan-ljspeech` layout).

    .venv/bin/python benchmarks/tacotron2_speed.py --steps 12 --rounds 3      # about 15 minutes on 2 cores
    .venv/bin/python benchmarks/tacotron2_speed.py --size small --steps 2 --rounds 1 --seconds 1   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.training_speed import CORPUS, OUT, SPEAKER, _peak_rss_mb, build_base, run_worker  # noqa: E402

SYSTEMS = ("speecht5", "tacotron2")
# the demo's small Tacotron 2 (recipes/tacotron2_demo_base.yaml) for `--size small`
SMALL_TACOTRON2 = dict(symbols_embedding_dim=256, encoder_embedding_dim=256, attention_rnn_dim=256,
                       decoder_rnn_dim=256, prenet_dim=128, attention_dim=128, postnet_embedding_dim=256,
                       n_frames_per_step=3)


def _padding_fraction(dataloader, batches: int) -> float:
    """Share of padded label frames: Tacotron 2's collator marks frames with `labels_attention_mask`,
    SpeechT5's pads labels with -100."""
    padded = total = 0
    for i, batch in enumerate(dataloader):
        if i == batches:
            break
        if "labels_attention_mask" in batch:
            mask = batch["labels_attention_mask"]
            padded += int((mask == 0).sum())
            total += mask.numel()
        else:
            labels = batch["labels"]
            padded += int((labels[..., 0] == -100).sum())
            total += labels.shape[0] * labels.shape[1]
    return padded / max(total, 1)


def train_worker(system: str, size: str, steps: int, batch: int) -> dict:
    """Train one system for `steps` steps with the project's FineTuneRun; clips/s, loss, peak RSS."""
    from hf_vclone.config import recipe_from_dict
    from hf_vclone.finetune import FineTuneRun

    if system == "speecht5":
        model = {"name_or_path": str(build_base(size))}
        extra = {"speaker": {"mode": "learned", "init": "random"}}
    else:
        model = {"type": "tacotron2", "name_or_path": None, "processor": "build",
                 "init_config": {} if size == "full" else dict(SMALL_TACOTRON2)}
        extra = {}
    recipe = {
        "model": model, **extra,
        "data": {"path": str(CORPUS), "speaker": SPEAKER},
        "strategy": {"name": "full"},
        "evaluation": {"enabled": False},
        "output": {"dir": str(OUT / "runs" / f"{system}_{size}")},
        "training": {"max_steps": steps, "per_device_train_batch_size": batch, "learning_rate": 1e-5,
                     "warmup_steps": max(1, steps // 10), "use_cpu": True, "logging_steps": 1, "seed": 0,
                     "save_strategy": "no", "train_sampling_strategy": "group_by_length", "disable_tqdm": True},
    }
    job = FineTuneRun(recipe_from_dict(recipe))
    job.setup()
    padding = _padding_fraction(job.trainer.get_train_dataloader(), steps)
    start = time.perf_counter()
    job.trainer.train()
    seconds = time.perf_counter() - start
    losses = [h["loss"] for h in job.trainer.state.log_history if "loss" in h]
    return {"samples_per_second": steps * batch / seconds, "train_seconds": seconds, "loss": losses[-1],
            "padding_fraction": padding, "peak_rss_mb": _peak_rss_mb(),
            "parameters": sum(p.numel() for p in job.voice.parameters())}


def _timed(fn, repeats: int) -> float:
    """Median seconds of `fn()` over `repeats` calls, after one call that pays lazy initialisation."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def synthesis_worker(size: str, seconds: float, repeats: int) -> dict:
    """RTF of each acoustic model decoding `seconds` of audio, and of each vocoder on a mel that long."""
    import torch
    from transformers import SpeechT5Config, SpeechT5ForTextToSpeech, SpeechT5HifiGan, SpeechT5HifiGanConfig

    from hf_vclone.models.tacotron2 import Tacotron2Config, Tacotron2ForTextToSpeech
    from hf_vclone.models.waveglow import WaveGlowConfig, WaveGlowVocoder

    torch.manual_seed(0)
    text_tokens = 60  # a sentence of the demo corpus
    ids = torch.randint(4, 30, (1, text_tokens))
    out: dict[str, dict] = {}

    # Tacotron 2: the gate never fires (threshold above any sigmoid), so it decodes max_decoder_steps steps
    t2 = Tacotron2ForTextToSpeech(Tacotron2Config(**({} if size == "full" else SMALL_TACOTRON2))).eval()
    t2_frames = round(seconds * t2.config.sampling_rate / t2.config.hop_length)
    steps = t2_frames // t2.config.n_frames_per_step
    rtf = _timed(lambda: t2.generate(ids, max_decoder_steps=steps, gate_threshold=2.0), repeats) / seconds
    out["tacotron2"] = {"rtf": rtf, "frames": t2_frames, "parameters": sum(p.numel() for p in t2.parameters())}

    # SpeechT5: min and max length ratios pinned to the same length, threshold above 1 (never stops early)
    if size == "full":
        s5_config = SpeechT5Config(vocab_size=81)
    else:
        s5_config = SpeechT5Config.from_pretrained(build_base("small"))
    s5 = SpeechT5ForTextToSpeech(s5_config).eval()
    s5_frames = round(seconds * 16000 / 256)
    ratio = s5_frames / text_tokens
    speaker = torch.randn(1, s5_config.speaker_embedding_dim)
    with torch.no_grad():
        rtf = _timed(lambda: s5.generate_speech(ids, speaker, threshold=1.5, minlenratio=ratio, maxlenratio=ratio),
                     repeats) / seconds
    out["speecht5"] = {"rtf": rtf, "frames": s5_frames, "parameters": sum(p.numel() for p in s5.parameters())}

    # the vocoders, on one random 22,050 Hz mel of t2_frames frames
    mel = torch.randn(t2_frames, 80) - 5.0
    hifigan = SpeechT5HifiGan(SpeechT5HifiGanConfig(
        sampling_rate=22050, upsample_rates=[8, 8, 2, 2], upsample_kernel_sizes=[16, 16, 4, 4],
        normalize_before=False)).eval()
    waveglow = WaveGlowVocoder(WaveGlowConfig()).eval()
    waveglow256 = WaveGlowVocoder(WaveGlowConfig(n_channels=256)).eval()
    with torch.no_grad():
        for name, vocoder in (("hifigan", hifigan), ("waveglow", waveglow), ("waveglow256", waveglow256)):
            wave = vocoder(mel)
            rtf = _timed(lambda v=vocoder: v(mel), repeats) / (wave.shape[-1] / 22050)
            out[name] = {"rtf": rtf, "parameters": sum(p.numel() for p in vocoder.parameters())}
    return out


def table(rounds: list[dict], synthesis: dict, size: str, steps: int, batch: int) -> str:
    lines = [f"Training: {size} size, random weights, `full`, float32, {steps} steps at batch {batch} on the `{SPEAKER}` "
             f"clips; {len(rounds)} round(s), medians (range over rounds).", "",
             "| system | parameters | clips/s | Tacotron 2 / SpeechT5 | peak RSS (MB) | padding |",
             "|---|---|---|---|---|---|"]
    ratios = [r["tacotron2"]["samples_per_second"] / r["speecht5"]["samples_per_second"] for r in rounds]
    for name in SYSTEMS:
        runs = [r[name] for r in rounds]
        speed = statistics.median(r["samples_per_second"] for r in runs)
        cell = (f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
                if name == "tacotron2" else "1.00x")
        lines.append(f"| {name} | {runs[0]['parameters'] / 1e6:.1f}M | {speed:.2f} | {cell} | "
                     f"{statistics.median(r['peak_rss_mb'] for r in runs):.0f} | "
                     f"{100 * statistics.median(r['padding_fraction'] for r in runs):.1f}% |")
    lines += ["", "Synthesis, seconds of compute per second of audio (RTF, median of repeats, one process):", "",
              "| part | parameters | RTF |", "|---|---|---|"]
    names = {"speecht5": "SpeechT5 decoding (mel only)", "tacotron2": "Tacotron 2 decoding (mel only)",
             "hifigan": "HiFi-GAN V1, 22,050 Hz", "waveglow": "WaveGlow, 512 channels (nvidia_waveglowpyt_fp32)",
             "waveglow256": "WaveGlow, 256 channels (waveglow256pyt)"}
    for key, label in names.items():
        lines.append(f"| {label} | {synthesis[key]['parameters'] / 1e6:.1f}M | {synthesis[key]['rtf']:.3f} |")
    lines += ["", f"WaveGlow / HiFi-GAN: {synthesis['waveglow']['rtf'] / synthesis['hifigan']['rtf']:.1f}x the time "
                  f"(256 channels: {synthesis['waveglow256']['rtf'] / synthesis['hifigan']['rtf']:.1f}x); "
                  f"Tacotron 2 / SpeechT5 decoding: {synthesis['tacotron2']['rtf'] / synthesis['speecht5']['rtf']:.2f}x."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=["full", "small"], default="full")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="audio length synthesised per call")
    parser.add_argument("--repeats", type=int, default=3, help="timed synthesis calls per part")
    parser.add_argument("--json", type=Path, default=OUT / "tacotron2_speed.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "synthesis":
        print(json.dumps(synthesis_worker(args.size, args.seconds, args.repeats)))
        return
    if args.worker:
        print(json.dumps(train_worker(args.worker, args.size, args.steps, args.batch)))
        return
    from hf_vclone.data.demo_corpus import NEAR_TARGET_VOICE, build_demo_corpus

    OUT.mkdir(parents=True, exist_ok=True)
    build_demo_corpus(CORPUS, clips_per_base_voice=150, target_clips=220, extra_targets=NEAR_TARGET_VOICE)
    build_base(args.size)  # SpeechT5's folder, made once outside the timed workers
    common = ["--size", args.size, "--steps", str(args.steps), "--batch", str(args.batch)]
    rounds: list[dict] = []
    for number in range(args.rounds):
        rounds.append({})
        for system in SYSTEMS:
            rounds[-1][system] = run_worker(["--worker", system, *common], script=__file__)
            print(f"round {number + 1}, {system}: {rounds[-1][system]['samples_per_second']:.2f} clips/s", flush=True)
    synthesis = run_worker(["--worker", "synthesis", *common, "--seconds", str(args.seconds),
                            "--repeats", str(args.repeats)], script=__file__)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rounds": rounds, "synthesis": synthesis, "args": vars(args)}, indent=2,
                                    default=str))
    print(table(rounds, synthesis, args.size, args.steps, args.batch))


if __name__ == "__main__":
    main()
