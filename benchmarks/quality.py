"""The transfer-learning results table: does fine-tuning a pretrained base beat training from
scratch on little data, and which strategy does best?

For 0.5, 2 and 10 minutes of the held-out espeak-ng voice us_f5, it trains `full`,
`freeze_lower`, `lora` (all from the committed quickstart base) and the same architecture from
scratch, with one budget for every run (400 steps, batch 8, as the quickstart), and scores each
on the same 8 held-out sentences against the real recordings. The base without fine-tuning
speaks as its voice nearest the target. Writes benchmarks/quality.md.

    .venv/bin/python benchmarks/quality.py            # about 50 minutes on 2 CPU cores
    .venv/bin/python benchmarks/quality.py --minutes 2 --systems full lora --steps 100   # a quick look
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


def recipe(system: str, minutes: float, steps: int) -> dict:
    raw = yaml.safe_load((ROOT / "recipes" / "quickstart.yaml").read_text())
    raw["data"].update(path=str(CORPUS), generate_demo=False, max_minutes=minutes, eval_size=10)
    raw["evaluation"].update(num_samples=8, compare_base=False)
    raw["training"].update(max_steps=steps)
    raw["output"]["dir"] = str(OUT / f"{minutes}min" / system)
    if system == "scratch":
        base = yaml.safe_load((ROOT / "recipes" / "quickstart_base.yaml").read_text())
        raw["model"] = {**base["model"], "processor": str(ROOT / "assets" / "quickstart_base")}
        raw["speaker"] = {"mode": "learned", "init": "random"}
        raw["training"].update(learning_rate=1.0e-3, warmup_steps=50)  # the base recipe's rate: nothing to preserve
    else:
        raw["model"]["name_or_path"] = str(ROOT / "assets" / "quickstart_base")
        raw["strategy"] = {"name": system, **({"freeze_layers": 2} if system == "freeze_lower" else {})}
    return raw


def run_one(system: str, minutes: float, steps: int, with_base: bool) -> dict:
    raw = recipe(system, minutes, steps)
    raw["evaluation"]["compare_base"] = with_base
    job = FineTuneRun(recipe_from_dict(raw))
    job.setup()
    trainable, _ = parameter_counts(job.voice)
    seconds = job.train()
    metrics = job.finish(seconds).metrics
    return {"trainable": trainable, "train_seconds": seconds, "systems": metrics["systems"],
            "minutes_used": sum(job.data.train["seconds"]) / 60}


def fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def table(results: dict, steps: int) -> str:
    lines = [
        "# Transfer learning on the offline demo corpus", "",
        f"Target: the held-out espeak-ng voice `us_f5`; every run {steps} steps, batch 8, on 2 CPU cores; "
        "scored on the same 8 held-out sentences (Griffin-Lim audio).", "",
        "| target audio | system | MCD (dB) ↓ | F0 RMSE (cents) ↓ | speaker similarity ↑ | length ratio | "
        "trainable parameters | training time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for minutes, runs in results.items():
        for name, r in runs.items():
            s = r["summary"]
            time_cell = "-" if r.get("train_seconds") is None else f"{r['train_seconds'] / 60:.1f} min"
            params = "-" if r.get("trainable") is None else f"{r['trainable']:,}"
            used = f" ({r['minutes_used']:.1f} used)" if "minutes_used" in r else ""
            lines.append(
                f"| {minutes} min{used} | {name} | {fmt(s['mcd'], '.2f')} | "
                f"{fmt(s['f0_rmse_cents'], '.0f')} | {fmt(s['speaker_similarity'], '.3f')} | "
                f"{fmt(s['length_ratio_mean'], '.2f')} | {params} | {time_cell} |"
            )
    encoder = next(iter(next(iter(results.values())).values()))["summary"].get("encoder")
    lines += ["", f"Speaker similarity encoder: `{encoder}`. MCD and F0 count only samples whose length ratio "
              "lies within 0.5-2x. Reproduce: `.venv/bin/python benchmarks/quality.py`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, nargs="+", default=[0.5, 2.0, 10.0])
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "quality.md"))
    parser.add_argument("--table-only", action="store_true", help="rewrite the table from outputs/quality/results.json")
    args = parser.parse_args()
    if args.table_only:
        results = json.loads((OUT / "results.json").read_text())
        Path(args.out).write_text(table(results, args.steps), encoding="utf-8")
        return
    build_demo_corpus(CORPUS, clips_per_base_voice=150, target_clips=220)
    results: dict = {}
    start = time.perf_counter()
    pretrained = [s for s in args.systems if s != "scratch"]
    for minutes in args.minutes:
        results[minutes] = {}
        for system in args.systems:
            # The base, once per row group: its scores do not depend on the minutes (same held-out set).
            r = run_one(system, minutes, args.steps, with_base=bool(pretrained) and system == pretrained[0])
            if "base" in r["systems"]:
                results[minutes]["base (no fine-tuning)"] = {"summary": r["systems"]["base"]}
            results[minutes][system] = {**r, "summary": r["systems"]["fine_tuned"]}
            print(f"[{(time.perf_counter() - start) / 60:.1f} min] {minutes} min {system}: "
                  f"MCD {fmt(results[minutes][system]['summary']['mcd'], '.2f')}", flush=True)
        (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))
        Path(args.out).write_text(table(results, args.steps), encoding="utf-8")  # each finished row lands at once
        print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
