"""Training and synthesis speed against the reference (the SpeechT5 tutorial's pipeline).

Same model, data, batch and step count, side by side in one run; each system trains in its own
process so its peak memory (RSS) is its own. Figures: training samples/s (ours: full,
freeze_lower, lora; reference with and without its gradient checkpointing), peak RSS, the
padding fraction of the batches, the loss after the same steps, achieved FLOP/s of a training
step against this machine's matmul peak, and synthesis real-time factor (generate + vocoder).

The model is the `microsoft/speecht5_tts` architecture (SpeechT5Config's defaults: 12+6 layers,
hidden 768, ~144M parameters) with random weights, which costs what the real one costs; `--size
small` uses the committed quickstart base's size for a quick look. Writes outputs/bench/*.json
and prints a markdown table.

    .venv/bin/python benchmarks/training_speed.py --size full --steps 12      # about 25 minutes
    .venv/bin/python benchmarks/training_speed.py --size small --steps 60     # about 5 minutes
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "outputs" / "bench"
CORPUS = ROOT / "data" / "quality_corpus"
SPEAKER = "us_f5"
SYSTEMS = ("reference", "reference_bf16", "reference_no_gc", "reference_no_gc_bf16", "full", "freeze_lower", "lora")
# ours against the tutorial in the same precision (issue 20): (tutorial variant, our system), ratios per round
SAME_PRECISION = (("reference", "full"), ("reference_bf16", "full + bf16 autocast"),
                  ("reference_no_gc", "full"), ("reference_no_gc_bf16", "full + bf16 autocast"))
# Levers on top of `full`, each alone: kept in the defaults only where this benchmark shows they pay.
# TrainingArguments fields, and under "run" the recipe's run section (defaults that are ours, switched off).
LEVERS: dict[str, dict] = {
    "full, torch's CPU dropout": {"run": {"fast_cpu_dropout": False}},
    "full + bf16 autocast, torch's CPU dropout": {"bf16": True, "run": {"fast_cpu_dropout": False}},
    "full, random batches (no length grouping)": {"train_sampling_strategy": "random"},
    "full + bf16 autocast": {"bf16": True},
    "full + fused AdamW": {"optim": "adamw_torch_fused"},
    "full + torch.compile": {"torch_compile": True},
    "full + activation checkpointing": {"activation_checkpointing": True},
    "full + 2 dataloader workers": {"dataloader_num_workers": 2},
}


def build_base(size: str) -> Path:
    """A base folder in the save_pretrained layout: the char processor of the quickstart base and
    a random SpeechT5 of the chosen size (the real model's compute, without its weights)."""
    import torch
    from transformers import SpeechT5Config, SpeechT5ForTextToSpeech, SpeechT5Processor

    folder = OUT / f"base_{size}"
    if (folder / "model.safetensors").is_file():
        return folder
    processor = SpeechT5Processor.from_pretrained(ROOT / "assets" / "quickstart_base")
    tok = processor.tokenizer
    ids = dict(vocab_size=len(tok), pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
               eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.bos_token_id,
               encoder_layerdrop=0.0, decoder_layerdrop=0.0)
    if size == "full":
        config = SpeechT5Config(**ids)  # the defaults are microsoft/speecht5_tts's architecture
    else:
        small = json.loads((ROOT / "assets" / "quickstart_base" / "config.json").read_text())
        keep = {k: small[k] for k in ("hidden_size", "encoder_layers", "decoder_layers", "encoder_attention_heads",
                                      "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim",
                                      "reduction_factor", "speech_decoder_prenet_units",
                                      "speech_decoder_postnet_units", "speaker_embedding_dim")}
        config = SpeechT5Config(**keep, **ids)
    torch.manual_seed(0)
    SpeechT5ForTextToSpeech(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


# ---- workers: one system per process --------------------------------------------------------
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _padding_fraction(dataloader, batches: int) -> float:
    padded = total = 0
    for i, batch in enumerate(dataloader):
        if i == batches:
            break
        labels = batch["labels"]
        padded += int((labels[..., 0] == -100).sum())
        total += labels.shape[0] * labels.shape[1]
    return padded / max(total, 1)


def _train_and_measure(trainer, steps: int) -> dict:
    padding = _padding_fraction(trainer.get_train_dataloader(), steps)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    batch = trainer.args.per_device_train_batch_size
    return {"samples_per_second": steps * batch / seconds, "train_seconds": seconds, "losses": losses,
            "padding_fraction": padding, "peak_rss_mb": _peak_rss_mb()}


def worker(system: str, base: Path, steps: int, batch: int, lever: str | None = None) -> dict:
    import numpy as np
    from transformers import SpeechT5ForTextToSpeech, SpeechT5Processor

    from hf_vclone.config import DataConfig, recipe_from_dict
    from hf_vclone.data.sources import load_source
    from hf_vclone.finetune import FineTuneRun
    from hf_vclone.models.speakers import random_unit_vector

    if system.startswith("reference"):
        from benchmarks.reference import tutorial

        processor = SpeechT5Processor.from_pretrained(base)
        model = SpeechT5ForTextToSpeech.from_pretrained(base)
        vector = random_unit_vector(SPEAKER, model.config.speaker_embedding_dim).numpy().astype(np.float32)
        raw = load_source(DataConfig(path=str(CORPUS), speaker=SPEAKER))
        train = tutorial.prepare_dataset(raw, processor, vector)
        with tempfile.TemporaryDirectory() as out:
            # reference_bf16, reference_no_gc_bf16: the tutorial in bf16 autocast, to set beside ours with
            # `full + bf16 autocast` (the same precision on both sides, as a tutorial user on a GPU trains)
            trainer = tutorial.trainer(model, processor, train, out, batch, steps,
                                       gradient_checkpointing="no_gc" not in system, bf16=system.endswith("_bf16"))
            result = _train_and_measure(trainer, steps)
        return {**result, "clips": len(train)}

    recipe = {
        "model": {"name_or_path": str(base)},
        "speaker": {"mode": "learned", "init": "random"},
        "data": {"path": str(CORPUS), "speaker": SPEAKER},
        "strategy": {"name": system, **({"freeze_layers": 6} if system == "freeze_lower" else {})},
        "evaluation": {"enabled": False},
        "output": {"dir": str(OUT / "runs" / system)},
        "training": {"max_steps": steps, "per_device_train_batch_size": batch, "learning_rate": 1e-5,
                     "warmup_steps": max(1, steps // 10), "use_cpu": True, "logging_steps": 1, "seed": 0,
                     "save_strategy": "no", "train_sampling_strategy": "group_by_length", "disable_tqdm": True},
    }
    if lever:
        fields = dict(LEVERS[lever])
        recipe["run"] = fields.pop("run", {})
        recipe["training"].update(fields)
    job = FineTuneRun(recipe_from_dict(recipe))
    job.setup()
    result = _train_and_measure(job.trainer, steps)
    bf16 = bool(lever and LEVERS[lever].get("bf16"))
    if system == "full" and (not lever or bf16):
        result["flops"] = _step_flops(job, bf16)
    return {**result, "clips": len(job.data.train)}


def _step_flops(job, bf16: bool = False) -> dict:
    """FLOPs of one forward+backward on a typical batch (counted), over its measured time; with `bf16`
    under bf16 autocast as the Trainer runs it, against the bf16 matmul peak."""
    import contextlib

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from hf_vclone.cpu_dropout import fast_cpu_dropout

    batch = job.trainer.data_collator([job.data.train[i] for i in range(job.args.per_device_train_batch_size)])
    voice = job.voice.train()

    def step() -> None:  # as VoiceTrainer.training_step runs it, its dropout masks included
        voice.zero_grad(set_to_none=True)
        with (torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext(),
              fast_cpu_dropout(job.recipe.run.fast_cpu_dropout)):
            loss = voice(**batch).loss
            loss.backward()

    with FlopCounterMode(display=False) as counter:
        step()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"flops_per_step": counter.get_total_flops(), "seconds_per_step": seconds,
            "achieved_gflops": counter.get_total_flops() / seconds / 1e9,
            "matmul_peak_gflops": matmul_peak(torch.bfloat16 if bf16 else torch.float32),
            "precision": "bf16" if bf16 else "float32"}


def matmul_peak(dtype=None) -> float:
    """This machine's matmul rate (GFLOP/s) in `dtype` (float32 by default), best of square sizes, in
    this process."""
    import torch

    best = 0.0
    for n in (1024, 2048):
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        torch.matmul(a, b)
        start = time.perf_counter()
        for _ in range(5):
            torch.matmul(a, b)
        best = max(best, 5 * 2 * n ** 3 / (time.perf_counter() - start) / 1e9)
    return best


def synthesis_worker(base: Path, sentences: int) -> dict:
    """RTF of the reference's generate_speech(vocoder=) and of hf_vclone's Synthesizer path, on
    the trained quickstart base (a random model does not stop) with a full-size random HiFi-GAN."""
    import torch
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig, set_seed

    from benchmarks.reference import tutorial
    from hf_vclone.data.demo_corpus import sentences as corpus_sentences
    from hf_vclone.synthesize import Synthesizer

    torch.manual_seed(0)
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig()).eval()
    ours = Synthesizer(ROOT / "assets" / "quickstart_base")
    ours.vocoder = vocoder
    speaker = ours.voice.speakers.vector("us_f2").detach()
    texts = corpus_sentences(sentences, seed=99)
    with torch.no_grad():  # first calls pay lazy initialisation; neither side is charged for it
        tutorial.synthesize(ours.voice.tts, ours.processor, vocoder, texts[0], speaker)
        ours.synthesize(texts[0], speaker="us_f2")
    timings: dict[str, float] = {"reference": 0.0, "ours": 0.0}
    audio_seconds: dict[str, float] = {"reference": 0.0, "ours": 0.0}
    for text in texts:
        set_seed(0)
        start = time.perf_counter()
        with torch.no_grad():
            wave = tutorial.synthesize(ours.voice.tts, ours.processor, vocoder, text, speaker)
        timings["reference"] += time.perf_counter() - start
        audio_seconds["reference"] += len(wave) / 16000
        start = time.perf_counter()
        wave, rate = ours.synthesize(text, speaker="us_f2")
        timings["ours"] += time.perf_counter() - start
        audio_seconds["ours"] += len(wave) / rate
    return {name: {"rtf": timings[name] / audio_seconds[name], "audio_seconds": audio_seconds[name]}
            for name in timings}


# ---- the driver ----------------------------------------------------------------------------
def run_worker(args: list[str], timeout: float | None = None, script: str = __file__) -> dict:
    """One system in its own process (`script`, this one by default). A worker that outlives `timeout`
    is recorded as such (a lever that costs more than it can win, e.g. compiling for every new batch shape)."""
    try:
        proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, cwd=ROOT,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timed_out": timeout}
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median_run(runs: list[dict], references: list[dict | None]) -> dict:
    """The run with the median speed, plus every run's speed and its ratio to the same round's reference."""
    finished = [r for r in runs if "samples_per_second" in r]
    if not finished:
        return runs[0]
    ordered = sorted(finished, key=lambda r: r["samples_per_second"])
    median = dict(ordered[len(ordered) // 2])
    median["samples_per_second_runs"] = [r.get("samples_per_second") for r in runs]
    median["ratio_runs"] = [r["samples_per_second"] / ref["samples_per_second"]
                            for r, ref in zip(runs, references) if ref and "samples_per_second" in r
                            and "samples_per_second" in ref]
    return median


def curve_gap(losses: list[float], baseline: list[float]) -> float:
    """Mean relative difference of two loss curves, step by step: 0.01 means they agree to 1%."""
    pairs = list(zip(losses, baseline))
    return statistics.fmean(abs(a - b) / abs(b) for a, b in pairs) if pairs else float("nan")


def baseline(names) -> str:
    """What ratios are taken against: the tutorial as it is, else the first reference variant measured,
    else (no reference in this run) the first system."""
    names = list(names)
    return "reference" if "reference" in names else next((n for n in names if n.startswith("reference")), names[0])


def table(results: dict, size: str, steps: int, batch: int) -> str:
    ref = results[baseline(results)]
    rounds = len(ref.get("samples_per_second_runs", [0]))
    lines = [f"Model: SpeechT5 ({size}), random weights; {steps} steps at batch {batch} on the `{SPEAKER}` clips; "
             f"each system in its own process; {rounds} round(s), medians (ratio range over rounds).", "",
             "| system | samples/s | vs reference | peak RSS (MB) | padding | loss at the last step | loss curve vs full |",
             "|---|---|---|---|---|---|---|"]
    for name in [*SYSTEMS, *LEVERS]:
        if name not in results:
            continue
        r = results[name]
        if "timed_out" in r:
            lines.append(f"| {name} | did not finish {steps} steps in {r['timed_out']:.0f} s | | | | | |")
            continue
        gap = (f"{100 * curve_gap(r['losses'], results['full']['losses']):.1f}% apart"
               if name in LEVERS and "full" in results else "")
        ratios = r.get("ratio_runs") or [r["samples_per_second"] / ref["samples_per_second"]]
        spread = f" ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ""
        lines.append(f"| {name} | {r['samples_per_second']:.2f} | {statistics.median(ratios):.2f}x{spread} | "
                     f"{r['peak_rss_mb']:.0f} | {100 * r['padding_fraction']:.1f}% | {r['losses'][-1]:.3f} | {gap} |")
    pairs = [(ref_name, ours) for ref_name, ours in SAME_PRECISION if ref_name in results and ours in results]
    if pairs:
        lines += ["", "The same precision on both sides (ratios within each round, then the median):", "",
                  "| ours | tutorial | ours / tutorial, median (range over rounds) |", "|---|---|---|"]
        for ref_name, ours in pairs:
            ratios = [a / b for a, b in zip(results[ours].get("samples_per_second_runs", []),
                                            results[ref_name].get("samples_per_second_runs", [])) if a and b]
            cell = f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})" if ratios else "n/a"
            lines.append(f"| {ours} | {ref_name} | {cell} |")
    for name in ("full", "full + bf16 autocast"):
        if name not in results or "flops" not in results[name]:
            continue
        f = results[name]["flops"]
        precision = f.get("precision", "float32")
        lines += ["", f"Training step ({name}): {f['flops_per_step'] / 1e9:.1f} GFLOP in {f['seconds_per_step']:.2f} s = "
                      f"{f['achieved_gflops']:.1f} GFLOP/s; {precision} matmul peak in the same process "
                      f"{f['matmul_peak_gflops']:.1f} GFLOP/s ({100 * f['achieved_gflops'] / f['matmul_peak_gflops']:.0f}%)."]
    if "synthesis" in results:
        s = results["synthesis"]
        lines += ["", f"Synthesis RTF (generate + full-size HiFi-GAN, quickstart base): reference "
                      f"{s['reference']['rtf']:.3f}, ours {s['ours']['rtf']:.3f} "
                      f"({s['ours']['rtf'] / s['reference']['rtf']:.2f}x the reference's)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=["full", "small"], default="small")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--synthesis-sentences", type=int, default=6)
    parser.add_argument("--levers", nargs="*", default=None, help="also measure these levers on top of full "
                        "(no names: all of them)", choices=list(LEVERS))
    parser.add_argument("--repeats", type=int, default=1, help="rounds over all systems; medians are reported")
    parser.add_argument("--worker-timeout", type=float, default=900.0, help="seconds before a worker counts as failed")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--lever", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "synthesis":
        print(json.dumps(synthesis_worker(build_base(args.size), args.synthesis_sentences)))
        return
    if args.worker:
        print(json.dumps(worker(args.worker, build_base(args.size), args.steps, args.batch, args.lever)))
        return
    from hf_vclone.data.demo_corpus import NEAR_TARGET_VOICE, build_demo_corpus

    OUT.mkdir(parents=True, exist_ok=True)
    build_demo_corpus(CORPUS, clips_per_base_voice=150, target_clips=220, extra_targets=NEAR_TARGET_VOICE)
    build_base(args.size)
    common = ["--size", args.size, "--steps", str(args.steps), "--batch", str(args.batch)]
    jobs = {system: ["--worker", system, *common] for system in args.systems}
    for lever in (args.levers or list(LEVERS)) if args.levers is not None else ():
        jobs[lever] = ["--worker", "full", "--lever", lever, *common]
    # Round-robin repeats: every system runs once per round, so slow phases of this shared machine
    # hit all of them alike; each ratio is taken within a round, then the median over rounds.
    rounds: list[dict] = []
    for round_number in range(args.repeats):
        rounds.append({})
        for name, argv in jobs.items():
            rounds[-1][name] = run_worker(argv, args.worker_timeout)
            print(f"round {round_number + 1}, {name}: "
                  f"{rounds[-1][name].get('samples_per_second', 'timed out')} samples/s", flush=True)
    base = baseline(jobs)
    results = {name: _median_run([r[name] for r in rounds], [r.get(base) for r in rounds]) for name in jobs}
    results["synthesis"] = run_worker(["--worker", "synthesis", *common,
                                       "--synthesis-sentences", str(args.synthesis_sentences)])
    (OUT / f"training_speed_{args.size}.json").write_text(json.dumps(results, indent=2))
    print(table(results, args.size, args.steps, args.batch))


if __name__ == "__main__":
    main()
