"""The transfer-learning results table: does fine-tuning a pretrained base beat training from
scratch on little data, and which strategy does best, in voices that speak?

For 0.5, 2 and 10 minutes of the held-out espeak-ng voice us_f5, it trains `full`,
`freeze_lower`, `lora` (all from the committed base of the quickstart) and the same architecture
from scratch, with one budget for every run (the quickstart recipe's steps and batch), and scores
each on the same 8 held-out sentences against the real recordings, with CER (offline Whisper)
beside MCD and similarity, and CER again on the recipe's 20 test sentences that no voice trained
on. The base without fine-tuning speaks as itself (its voice nearest the target). The real
recordings' CER is the floor; MCD of the nearest other real voice says how close "close" is.
Writes benchmarks/quality.md.

    .venv/bin/python benchmarks/quality.py            # Tacotron 2, the quickstart: about 2.5 hours on 2 CPU cores (lora: 18 min a run)
    .venv/bin/python benchmarks/quality.py --minutes 2 --systems freeze_lower --steps 100   # a quick look
    .venv/bin/python benchmarks/quality.py --family speecht5   # the SpeechT5 demo base (which does not speak)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hf_vclone.config import recipe_from_dict  # noqa: E402
from hf_vclone.data.demo_corpus import build_demo_corpus  # noqa: E402
from hf_vclone.finetune import FineTuneRun  # noqa: E402
from hf_vclone.strategies import parameter_counts  # noqa: E402

SYSTEMS = ("scratch", "full", "freeze_lower", "lora")
CORPUS = ROOT / "data" / "quality_corpus"
OUT = ROOT / "outputs" / "quality"
# family -> (fine-tuning recipe, committed base, recipe the base was built from, scratch learning rate)
FAMILIES = {
    "tacotron2": ("quickstart.yaml", "tacotron2_demo_base", "tacotron2_demo_base.yaml", 1.0e-3),
    "speecht5": ("speecht5_demo.yaml", "quickstart_base", "quickstart_base.yaml", 1.0e-3),
}


def recipe(family: str, system: str, minutes: float, steps: int) -> dict:
    recipe_name, base_name, base_recipe, scratch_lr = FAMILIES[family]
    base_dir = str(ROOT / "assets" / base_name)
    raw = yaml.safe_load((ROOT / "recipes" / recipe_name).read_text())
    raw["data"].update(path=str(CORPUS), generate_demo=False, max_minutes=minutes, eval_size=10)
    raw["evaluation"].update(num_samples=8, compare_base=False,
                             other_voices=str(CORPUS / "same_text" / raw["data"]["speaker"]))
    raw["training"].update(max_steps=steps)
    raw["output"]["dir"] = str(OUT / family / f"{minutes}min" / system)
    if system == "scratch":
        base = yaml.safe_load((ROOT / "recipes" / base_recipe).read_text())
        raw["model"] = {**base["model"], "name_or_path": None, "processor": base_dir}  # the base's tokenizer
        if "speaker" in raw:
            raw["speaker"] = {"mode": "learned", "init": "random"}
        raw["strategy"] = {"name": "full"}
        raw["training"].update(learning_rate=scratch_lr, warmup_steps=50)  # the base's rate: nothing to preserve
    else:
        raw["model"]["name_or_path"] = base_dir
        raw["strategy"] = {"name": system, **({"freeze_layers": 2} if system == "freeze_lower" and family == "speecht5"
                                              else {})}
    return raw


def run_one(family: str, system: str, minutes: float, steps: int, with_base: bool) -> dict:
    raw = recipe(family, system, minutes, steps)
    raw["evaluation"]["compare_base"] = with_base
    job = FineTuneRun(recipe_from_dict(raw))
    job.setup()
    trainable, _ = parameter_counts(job.voice)
    seconds = job.train()
    metrics = job.finish(seconds).metrics
    test = (metrics.get("test_sentences") or {}).get("systems", {})
    return {"trainable": trainable, "train_seconds": seconds, "systems": metrics["systems"], "test": test,
            "reference": metrics.get("reference"), "nearest": metrics.get("nearest_real_voice"),
            "other_voices": metrics.get("other_real_voices"),
            "batch": raw["training"]["per_device_train_batch_size"],
            "minutes_used": sum(job.data.train["seconds"]) / 60}


def fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def table(results: dict, steps: int, family: str, note: str = "") -> str:
    first = next(iter(next(iter(results.values())).values()))
    batch = next((r["batch"] for runs in results.values() for r in runs.values() if "batch" in r), 8)
    recipe_name, base_name, _, _ = FAMILIES[family]
    lines = [
        "# Transfer learning on the offline demo corpus", "",
        f"Target: the held-out espeak-ng voice `us_f5`; base `assets/{base_name}`, recipe `recipes/{recipe_name}`; "
        f"every run {steps} steps, batch {batch}, on 2 CPU cores; scored on the same 8 held-out sentences "
        "(Griffin-Lim audio) and, CER only, on the recipe's 20 test sentences that no voice trained on. "
        "CER: offline Whisper-base, greedy; the real recordings' CER is the floor. A voice with CER above 0.5 "
        "does not speak the words, whatever its MCD.", "", *([note, ""] if note else []),
        "| target audio | system | CER held-out ↓ | CER 20 test ↓ | MCD (dB) ↓ | F0 RMSE (cents) ↓ | "
        "speaker similarity ↑ | length ratio | trainable parameters | training time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for minutes, runs in results.items():
        any_run = next(iter(runs.values()))
        ref = any_run.get("reference") or {}
        lines.append(f"| {minutes} min | real recordings (the floor) | {fmt(ref.get('cer'), '.3f')} | - | - | - | - | - | - | - |")
        nearest = any_run.get("nearest")
        if nearest and any_run.get("other_voices", {}).get(nearest):
            o = any_run["other_voices"][nearest]
            lines.append(f"| {minutes} min | nearest other real voice (`{nearest}`) | {fmt(o.get('cer'), '.3f')} | - | "
                         f"{fmt(o['mcd'], '.2f')} | {fmt(o['f0_rmse_cents'], '.0f')} | {fmt(o['speaker_similarity'], '.3f')} | "
                         f"{fmt(o['length_ratio_mean'], '.2f')} | - | - |")
        for name, r in runs.items():
            s = r["summary"]
            test = r.get("test_summary") or {}
            time_cell = "-" if r.get("train_seconds") is None else f"{r['train_seconds'] / 60:.1f} min"
            params = "-" if r.get("trainable") is None else f"{r['trainable']:,}"
            used = f" ({r['minutes_used']:.1f} used)" if "minutes_used" in r else ""
            lines.append(
                f"| {minutes} min{used} | {name} | {fmt(s.get('cer'), '.3f')} | {fmt(test.get('cer'), '.3f')} | "
                f"{fmt(s['mcd'], '.2f')} | {fmt(s['f0_rmse_cents'], '.0f')} | {fmt(s['speaker_similarity'], '.3f')} | "
                f"{fmt(s['length_ratio_mean'], '.2f')} | {params} | {time_cell} |"
            )
    encoder = first["summary"].get("encoder")
    lines += ["", f"Speaker similarity encoder: `{encoder}`. MCD and F0 count only samples whose length ratio "
              f"lies within 0.5-2x. Reproduce: `.venv/bin/python benchmarks/quality.py --family {family}`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--family", default="tacotron2", choices=list(FAMILIES))
    parser.add_argument("--minutes", type=float, nargs="+", default=[0.5, 2.0, 10.0])
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "quality.md"))
    parser.add_argument("--table-only", action="store_true",
                        help="rewrite the table from outputs/quality/FAMILY/results.json")
    parser.add_argument("--note", default="", help="a line for the table's header, e.g. which cells were not run")
    args = parser.parse_args()
    out = OUT / args.family
    out.mkdir(parents=True, exist_ok=True)
    if args.table_only:
        results = json.loads((out / "results.json").read_text())
        Path(args.out).write_text(table(results, args.steps, args.family, args.note), encoding="utf-8")
        return
    build_demo_corpus(CORPUS, clips_per_base_voice=150, target_clips=220)
    results_file = out / "results.json"
    # Runs add to what earlier invocations measured (a slow system can be run on its own, a killed run keeps its rows).
    results: dict = json.loads(results_file.read_text()) if results_file.is_file() else {}
    start = time.perf_counter()
    pretrained = [s for s in args.systems if s != "scratch"]
    for minutes in args.minutes:
        group = results.setdefault(str(minutes), {})
        for system in args.systems:
            # The base, once per row group: its scores do not depend on the minutes (same held-out set).
            with_base = "base (no fine-tuning)" not in group and bool(pretrained) and system == pretrained[0]
            r = run_one(args.family, system, minutes, args.steps, with_base=with_base)
            if "base" in r["systems"]:
                group["base (no fine-tuning)"] = {
                    "summary": r["systems"]["base"], "test_summary": r["test"].get("base"),
                    "reference": r["reference"], "nearest": r["nearest"], "other_voices": r["other_voices"]}
            group[system] = {**r, "summary": r["systems"]["fine_tuned"], "test_summary": r["test"].get("fine_tuned")}
            s = group[system]["summary"]
            print(f"[{(time.perf_counter() - start) / 60:.1f} min] {minutes} min {system}: "
                  f"CER {fmt(s.get('cer'), '.3f')}, MCD {fmt(s['mcd'], '.2f')}", flush=True)
            results_file.write_text(json.dumps(results, indent=2, default=str))
            Path(args.out).write_text(table(results, args.steps, args.family, args.note), encoding="utf-8")  # each run lands at once
        print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
