"""Training and synthesis speed on one accelerator: ours vs the SpeechT5 tutorial, same precision.

Prepared before any GPU was lent, so that a session lent one for 15 minutes spends them measuring
(`benchmarks/gpu.sh` runs this with the full sizes and writes to `$OUT`). With `--device cpu
--size tiny` the same code runs in a minute on CPU, which is how CI checks that it works.

Systems, each trained in its own process (its own peak memory), all in `--precision`:
- `speecht5 reference`: the Hugging Face SpeechT5 tutorial's pipeline (benchmarks/reference/tutorial.py),
  with its gradient checkpointing as published;
- `speecht5 full`, `speecht5 lora`: hf_vclone on the same random full-size base (the
  `microsoft/speecht5_tts` architecture);
- `vits full`, `vits lora`: hf_vclone's VITS, the `facebook/mms-tts-eng` architecture (VitsConfig's
  defaults), from random weights, discriminator included. No reference pipeline is re-implemented
  for VITS here.

Figures per system: samples/s over the steps after `--warmup` (the first steps pay cuDNN/oneDNN
kernel selection), peak accelerator memory (`torch.cuda.max_memory_allocated`; peak RSS on CPU),
model FLOP utilisation (FLOPs of one counted training step, forward + backward, over the measured
step time, against the device's bf16 or fp32 matmul peak measured in the same process, and against
the datasheet peak where the GPU is known), and synthesis real-time factor.

The data is synthetic (harmonic tones with noise, 1.5-5 s, 16 kHz, in the LJSpeech layout) and
the text comes from the demo corpus grammar: speed does not depend on what is said, and a GPU
machine has no espeak-ng and no Hub.

    .venv/bin/python benchmarks/gpu_speed.py --device cuda --size full --out $OUT      # what gpu.sh runs
    .venv/bin/python benchmarks/gpu_speed.py --device cpu --size tiny --steps 4 --out /tmp/gpu_cpu
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
SYSTEMS = ("speecht5 reference", "speecht5 full", "speecht5 lora", "vits full", "vits lora")
# Dense (no sparsity) bf16 tensor-core peaks from NVIDIA's datasheets, TFLOP/s; matched on the device name.
DATASHEET_BF16_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0, "L40S": 362.1, "L4": 121.0, "A10": 125.0}
TINY_SPEECHT5 = dict(hidden_size=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                     decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128, reduction_factor=2,
                     speech_decoder_prenet_units=64, speech_decoder_postnet_units=64, speech_decoder_postnet_layers=2,
                     speaker_embedding_dim=16)
TINY_VITS = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, ffn_dim=64, flow_size=32,
                 duration_predictor_filter_channels=32, prior_encoder_num_flows=2, prior_encoder_num_wavenet_layers=1,
                 posterior_encoder_num_wavenet_layers=2, upsample_initial_channel=32, upsample_rates=[8, 8, 4],
                 upsample_kernel_sizes=[16, 16, 8], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]])


# ---- data and base ---------------------------------------------------------------------------
def synthetic_corpus(folder: Path, clips: int, seed: int = 0) -> Path:
    """An LJSpeech folder of harmonic tones with noise: speech-like lengths and spectra, no espeak-ng."""
    import numpy as np
    import soundfile as sf

    from hf_vclone.data.demo_corpus import sentences

    if (folder / "metadata.csv").is_file():
        return folder
    rng = np.random.default_rng(seed)
    (folder / "wavs").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, text in enumerate(sentences(clips, seed=seed)):
        t = np.arange(int(16000 * rng.uniform(1.5, 5.0))) / 16000
        f0 = rng.uniform(90, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t))
        phase = 2 * np.pi * np.cumsum(f0) / 16000
        wave = sum(np.sin(k * phase) / k for k in range(1, 12)) + 0.05 * rng.standard_normal(len(t))
        sf.write(folder / "wavs" / f"clip{i:04d}.wav", (0.3 * wave / np.abs(wave).max()).astype(np.float32), 16000)
        rows.append(f"clip{i:04d}|{text}|{text}")
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def speecht5_base(folder: Path, size: str) -> Path:
    """A random SpeechT5 of the chosen size in the save_pretrained layout, with the quickstart
    base's character processor: both pipelines load the same folder."""
    import torch
    from transformers import SpeechT5Config, SpeechT5ForTextToSpeech, SpeechT5Processor

    if (folder / "model.safetensors").is_file():
        return folder
    processor = SpeechT5Processor.from_pretrained(ROOT / "assets" / "quickstart_base")
    tok = processor.tokenizer
    arch = {} if size == "full" else TINY_SPEECHT5  # SpeechT5Config's defaults are microsoft/speecht5_tts's
    config = SpeechT5Config(**arch, vocab_size=len(tok), pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                            eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.bos_token_id,
                            encoder_layerdrop=0.0, decoder_layerdrop=0.0)
    torch.manual_seed(0)
    SpeechT5ForTextToSpeech(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


# ---- measurement -----------------------------------------------------------------------------
def _device_peak_tflops(device: str, precision: str) -> float:
    """The best matmul rate of this device in this precision, measured here (TFLOP/s)."""
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    n = 8192 if device == "cuda" else 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    torch.matmul(a, b)
    _sync(device)
    start = time.perf_counter()
    for _ in range(10):
        torch.matmul(a, b)
    _sync(device)
    return 10 * 2 * n ** 3 / (time.perf_counter() - start) / 1e12


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _peak_memory_mb(device: str) -> float:
    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _step_clock(device: str):
    """A TrainerCallback recording the wall time at the end of every step."""
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):
            _sync(device)
            self.ends.append(time.perf_counter())

    return Clock()


def _counted_flops(model, batch: dict, precision: str, device: str) -> float:
    """FLOPs of one forward + backward on `batch`, counted by torch (matmuls and convolutions)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    with FlopCounterMode(display=False) as counter:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = model(**batch)
        loss = out.loss if hasattr(out, "loss") else out[0]
        loss.backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def _to(batch: dict, device: str) -> dict:
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}


def worker(system: str, args: argparse.Namespace) -> dict:
    import torch

    family, kind = system.split()
    corpus = synthetic_corpus(args.work / "corpus", max(args.batch * (args.steps + 2), 32))
    clock = _step_clock(args.device)
    flops_model = flops_batch = None
    if system == "speecht5 reference":
        import numpy as np
        from transformers import SpeechT5ForTextToSpeech, SpeechT5Processor

        from benchmarks.reference import tutorial
        from hf_vclone.config import DataConfig
        from hf_vclone.data.sources import load_source

        base = speecht5_base(args.work / f"speecht5_{args.size}", args.size)
        processor = SpeechT5Processor.from_pretrained(base)
        model = SpeechT5ForTextToSpeech.from_pretrained(base)
        vector = np.random.default_rng(0).standard_normal(model.config.speaker_embedding_dim).astype(np.float32)
        train = tutorial.prepare_dataset(load_source(DataConfig(path=str(corpus))), processor, vector)
        with tempfile.TemporaryDirectory() as out:
            trainer = tutorial.trainer(model, processor, train, out, args.batch, args.steps,
                                       device=args.device, bf16=args.precision == "bf16")
            trainer.add_callback(clock)
            _reset_peak(args.device)
            trainer.train()
            memory = _peak_memory_mb(args.device)
            flops_batch = _to(trainer.data_collator([train[i] for i in range(args.batch)]), args.device)
            flops_model = trainer.model
    else:
        from hf_vclone.config import recipe_from_dict
        from hf_vclone.finetune import FineTuneRun

        if family == "speecht5":
            model = {"type": "speecht5", "name_or_path": str(speecht5_base(args.work / f"speecht5_{args.size}", args.size))}
            speaker = {"mode": "learned", "init": "random"}
        else:
            model = {"type": "vits", "name_or_path": None, "processor": "build",
                     "init_config": {} if args.size == "full" else TINY_VITS}
            speaker = {}
        # tiny: a quarter-width discriminator too (the published width is most of a tiny VITS step's time)
        sections = {"vits": {"discriminator_width": 0.25}} if family == "vits" and args.size == "tiny" else {}
        recipe = {
            "model": model, **({"speaker": speaker} if speaker else {}), **sections,
            "data": {"path": str(corpus)}, "strategy": {"name": kind}, "evaluation": {"enabled": False},
            "output": {"dir": str(args.work / "runs" / system.replace(" ", "_"))},
            "training": {"max_steps": args.steps, "per_device_train_batch_size": args.batch, "learning_rate": 1e-5,
                         "warmup_steps": 1, "use_cpu": args.device == "cpu", "bf16": args.precision == "bf16",
                         "logging_steps": 1, "seed": 0, "save_strategy": "no", "disable_tqdm": True,
                         "train_sampling_strategy": "group_by_length", "report_to": []},
        }
        job = FineTuneRun(recipe_from_dict(recipe))
        job.setup()
        job.trainer.add_callback(clock)
        _reset_peak(args.device)
        job.trainer.train()
        memory = _peak_memory_mb(args.device)
        if family == "speecht5":  # VITS's step is two players (generator and discriminator): not one forward
            flops_batch = _to(job.trainer.data_collator([job.data.train[i] for i in range(args.batch)]), args.device)
            flops_batch.pop("clip_ids", None)
            flops_model = job.voice
    gaps = [b - a for a, b in zip(clock.ends[args.warmup:], clock.ends[args.warmup + 1:])]
    seconds = statistics.median(gaps) if gaps else float("nan")
    result = {"system": system, "samples_per_second": args.batch / seconds, "seconds_per_step": seconds,
              "peak_memory_mb": memory, "steps": args.steps, "batch": args.batch}
    if flops_model is not None:
        flops = _counted_flops(flops_model, flops_batch, args.precision, args.device)
        peak = _device_peak_tflops(args.device, args.precision)
        result |= {"flops_per_step": flops, "achieved_tflops": flops / seconds / 1e12, "measured_peak_tflops": peak,
                   "mfu_vs_measured_peak": flops / seconds / 1e12 / peak}
        name = torch.cuda.get_device_name() if args.device == "cuda" else ""
        datasheet = next((v for k, v in DATASHEET_BF16_TFLOPS.items() if k in name), None)
        if datasheet and args.precision == "bf16":
            result["mfu_vs_datasheet_peak"] = flops / seconds / 1e12 / datasheet
    return result


def _reset_peak(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def synthesis_worker(args: argparse.Namespace) -> dict:
    """Real-time factor of speaking `--sentences` sentences: SpeechT5 (generate at a fixed length
    ratio, since a random model has no stop decision, then a HiFi-GAN of the published size) and
    VITS (one forward pass), both random at the chosen size, in the chosen precision."""
    import torch
    from transformers import (SpeechT5ForTextToSpeech, SpeechT5HifiGan, SpeechT5HifiGanConfig, SpeechT5Processor,
                              VitsConfig, VitsModel)

    from hf_vclone.data.demo_corpus import sentences

    dev, texts = args.device, sentences(args.sentences, seed=99)
    base = speecht5_base(args.work / f"speecht5_{args.size}", args.size)
    processor = SpeechT5Processor.from_pretrained(base)
    torch.manual_seed(0)
    tts = SpeechT5ForTextToSpeech.from_pretrained(base).to(dev).eval()
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(**({} if args.size == "full" else {"upsample_initial_channel": 64,
                                                                                        "model_in_dim": 80}))).to(dev).eval()
    vits = VitsModel(VitsConfig(**({} if args.size == "full" else TINY_VITS), vocab_size=len(processor.tokenizer))).to(dev).eval()
    speaker = torch.randn(1, tts.config.speaker_embedding_dim, device=dev)
    out: dict[str, float] = {}
    for name in ("speecht5 + hifigan", "vits"):
        seconds = audio = 0.0
        for i, text in enumerate([texts[0], *texts]):  # the first pass is warm-up, not counted
            ids = processor(text=text, return_tensors="pt")["input_ids"].to(dev)
            torch.manual_seed(0)
            _sync(dev)
            start = time.perf_counter()
            with torch.no_grad(), torch.autocast(dev, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
                if name == "vits":
                    wave = vits(input_ids=ids).waveform[0]
                else:
                    wave = tts.generate_speech(ids, speaker, minlenratio=8.0, maxlenratio=8.0, vocoder=vocoder)
            _sync(dev)
            if i > 0:
                seconds += time.perf_counter() - start
                audio += wave.shape[-1] / 16000
        out[name] = seconds / audio
    return {"rtf": out}


# ---- driver ----------------------------------------------------------------------------------
def run_worker(argv: list[str], timeout: float) -> dict:
    proc = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    if proc.returncode != 0:
        return {"failed": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(results: dict, args: argparse.Namespace, device_name: str) -> str:
    ref = results.get("speecht5 reference", {})
    lines = [f"Device: {device_name}; precision {args.precision}; size {args.size}; batch {args.batch}; "
             f"{args.steps} steps, the first {args.warmup} not timed; synthetic 16 kHz clips.", "",
             "| system | samples/s | vs reference | peak memory (MB) | memory vs its family's full | MFU (measured peak) | MFU (datasheet) |",
             "|---|---|---|---|---|---|---|"]
    for system in SYSTEMS:
        r = results.get(system)
        if r is None:
            continue
        if "failed" in r:
            lines.append(f"| {system} | failed: {r['failed'].strip().splitlines()[-1][:120]} | | | | | |")
            continue
        vs_ref = (f"{r['samples_per_second'] / ref['samples_per_second']:.2f}x"
                  if system.startswith("speecht5") and "samples_per_second" in ref else "")
        full = results.get(system.split()[0] + " full", {})
        vs_full = f"{r['peak_memory_mb'] / full['peak_memory_mb']:.2f}x" if "peak_memory_mb" in full else ""
        mfu = f"{100 * r['mfu_vs_measured_peak']:.1f}%" if "mfu_vs_measured_peak" in r else ""
        sheet = f"{100 * r['mfu_vs_datasheet_peak']:.1f}%" if "mfu_vs_datasheet_peak" in r else ""
        lines.append(f"| {system} | {r['samples_per_second']:.2f} | {vs_ref} | {r['peak_memory_mb']:.0f} | {vs_full} | {mfu} | {sheet} |")
    if "rtf" in results.get("synthesis", {}):
        rtf = results["synthesis"]["rtf"]
        lines += ["", "Synthesis RTF (random weights, fixed lengths): " + ", ".join(f"{k} {v:.4f}" for k, v in rtf.items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--size", choices=["full", "tiny"], default="full")
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="first steps not timed")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--sentences", type=int, default=8, help="sentences for the synthesis RTF")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--out", type=Path, required=True, help="results: gpu_speed.json and gpu_speed.md")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "hf_vclone_gpu_speed")
    parser.add_argument("--worker-timeout", type=float, default=300.0)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.warmup = min(args.warmup, max(args.steps - 2, 0))
    if args.worker == "synthesis":
        print(json.dumps(synthesis_worker(args)))
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args)))
        return

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_speed: --device cuda, but torch sees no CUDA device (use --device cpu --size tiny to check the script)")
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    common = ["--device", args.device, "--size", args.size, "--precision", args.precision, "--steps", str(args.steps),
              "--warmup", str(args.warmup), "--batch", str(args.batch), "--sentences", str(args.sentences),
              "--work", str(args.work), "--out", str(args.out)]
    results: dict[str, dict] = {}
    args.out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        """After every system: a lease that ends mid-run still brings back what was measured."""
        (args.out / "gpu_speed.json").write_text(json.dumps({"device": device_name, "args": {
            k: str(v) for k, v in vars(args).items()}, "results": results}, indent=1))

    for system in args.systems:
        results[system] = run_worker(["--worker", system, *common], args.worker_timeout)
        print(f"{system}: {results[system].get('samples_per_second', 'failed')} samples/s", flush=True)
        save()
    results["synthesis"] = run_worker(["--worker", "synthesis", *common], args.worker_timeout)
    save()
    report = table(results, args, device_name)
    (args.out / "gpu_speed.md").write_text(report)
    print(report)
    if any("failed" in r for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
