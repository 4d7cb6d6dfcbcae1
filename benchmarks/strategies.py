"""The strategy table: every fine-tuning strategy in the four cases of the practice's rule, and
whether `strategy: auto` picks the best-scoring one in each.

Cases: little (1 min) or much (10 min) audio of a voice that is similar to one the committed
quickstart base knows (us_f2_near: us_f2's variant, a little higher and slower) or dissimilar
(us_f5: another variant, far higher pitch). Each strategy trains from the same base with the
quickstart's budget (400 steps, batch 8) and is scored on the same held-out sentences.
`auto` is not trained separately: it picks one of the named strategies with the same settings,
so its measurement (before training) and its choice are recorded, and its score is the chosen
strategy's. Writes benchmarks/strategies.md.

    .venv/bin/python benchmarks/strategies.py                 # about 80 minutes on 2 CPU cores
    .venv/bin/python benchmarks/strategies.py --probe-only    # what auto measures and picks (2 minutes)
    .venv/bin/python benchmarks/strategies.py --table-only    # rewrite the table from outputs/strategies/results.json
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
from hf_vclone.data.demo_corpus import NEAR_TARGET_VOICE, build_demo_corpus  # noqa: E402
from hf_vclone.finetune import FineTuneRun  # noqa: E402
from hf_vclone.strategies import parameter_counts  # noqa: E402

CORPUS = ROOT / "data" / "quality_corpus"
OUT = ROOT / "outputs" / "strategies"
CASES = {  # name -> (speaker, minutes)
    "little, similar": ("us_f2_near", 1.0),
    "much, similar": ("us_f2_near", 10.0),
    "little, dissimilar": ("us_f5", 1.0),
    "much, dissimilar": ("us_f5", 10.0),
}
# Each strategy at a rate that suits how much of the model it moves: the quickstart's 3e-4 for
# whole layers and adapters (as in quality.md), more for the heads and far more for one vector.
STRATEGIES: dict[str, tuple[dict, float]] = {
    "full": ({"name": "full"}, 3e-4),
    "freeze_lower": ({"name": "freeze_lower", "freeze_layers": 2}, 3e-4),
    "lora": ({"name": "lora"}, 3e-4),
    "head_only": ({"name": "head_only"}, 1e-3),
    "speaker_embedding": ({"name": "speaker_embedding"}, 1e-2),
    "full + layer_lr 0.3": ({"name": "full", "layer_lr": {"decay": 0.3, "top": 3.0}}, 3e-4),
    "full + l2sp 0.01": ({"name": "full", "l2sp": 0.01}, 3e-4),
}
EVAL_SENTENCES = 6
AUTO_OPTIONS = ("full", "freeze_lower", "head_only", "speaker_embedding")  # what auto can pick by default


def recipe(case: str, strategy: dict, lr: float, steps: int) -> dict:
    speaker, minutes = CASES[case]
    raw = yaml.safe_load((ROOT / "recipes" / "quickstart.yaml").read_text())
    raw["model"]["name_or_path"] = str(ROOT / "assets" / "quickstart_base")
    raw["data"].update(path=str(CORPUS), generate_demo=False, speaker=speaker, max_minutes=minutes, eval_size=10)
    raw["evaluation"].update(num_samples=EVAL_SENTENCES, compare_base=False)
    raw["training"].update(max_steps=steps, learning_rate=lr)
    raw["strategy"] = strategy
    raw["output"]["dir"] = str(OUT / case.replace(", ", "_") / strategy["name"])
    return raw


def probe(case: str) -> dict:
    """What `strategy: auto` measures and picks for this case (setup only, no training)."""
    job = FineTuneRun(recipe_from_dict(recipe(case, {"name": "auto"}, 3e-4, 1)))
    job.setup()
    return job.choice.as_dict()


def train(case: str, label: str, steps: int, with_base: bool) -> dict:
    strategy, lr = STRATEGIES[label]
    raw = recipe(case, strategy, lr, steps)
    raw["output"]["dir"] = str(OUT / case.replace(", ", "_") / label.replace(" ", "_"))
    raw["evaluation"]["compare_base"] = with_base
    job = FineTuneRun(recipe_from_dict(raw))
    job.setup()
    trainable, _ = parameter_counts(job.voice)
    seconds = job.train()
    systems = job.finish(seconds).metrics["systems"]
    return {"trainable": trainable, "train_seconds": seconds, "learning_rate": lr, "systems": systems}


def fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def best_by(runs: dict, key: str, higher: bool) -> str | None:
    scored = {k: r["systems"]["fine_tuned"][key] for k, r in runs.items()
              if r["systems"]["fine_tuned"].get(key) is not None}
    if not scored:
        return None
    return (max if higher else min)(scored, key=scored.get)


def table(results: dict, steps: int, note: str = "") -> str:
    lines = [
        "# Fine-tuning strategies in the four cases, and what `strategy: auto` picks", "",
        f"Base: the committed quickstart base. Every run {steps} steps, batch 8, on 2 CPU cores; scored on the "
        f"same {EVAL_SENTENCES} held-out sentences of the target (Griffin-Lim audio). Similar target: `us_f2_near` "
        "(the base's us_f2 variant, pitch 62 vs 55); dissimilar: `us_f5` (variant f5, pitch 85).", "",
        *([note, ""] if note else []),
    ]
    summary = ["| case | auto measured | auto picks | best MCD (all) | best similarity (all) | "
               "best MCD of auto's options | auto = that? |", "|---|---|---|---|---|---|---|"]
    for case, entry in results.items():
        choice, runs = entry["auto"], entry["runs"]
        lines += [f"## {case}: {CASES[case][0]}, {CASES[case][1]:g} min", "",
                  f"`auto`: {choice['reason']} (nearest base voice `{choice['nearest_voice']}`, "
                  f"encoder `{choice['encoder']}`).", "",
                  "| strategy | lr | MCD (dB) ↓ | F0 RMSE (cents) ↓ | speaker similarity ↑ | length ratio | "
                  "trainable parameters | training time |",
                  "|---|---|---|---|---|---|---|---|"]
        if entry.get("base"):
            b = entry["base"]
            lines.append(f"| base (no fine-tuning) | - | {fmt(b['mcd'], '.2f')} | {fmt(b['f0_rmse_cents'], '.0f')} | "
                         f"{fmt(b['speaker_similarity'], '.3f')} | {fmt(b['length_ratio_mean'], '.2f')} | - | - |")
        for label, r in runs.items():
            s = r["systems"]["fine_tuned"]
            mark = " ← auto" if label == choice["name"] else ""
            lines.append(
                f"| {label}{mark} | {r['learning_rate']:g} | {fmt(s['mcd'], '.2f')} | {fmt(s['f0_rmse_cents'], '.0f')} | "
                f"{fmt(s['speaker_similarity'], '.3f')} | {fmt(s['length_ratio_mean'], '.2f')} | "
                f"{r['trainable']:,} | {r['train_seconds'] / 60:.1f} min |"
            )
        lines.append("")
        best_mcd, best_sim = best_by(runs, "mcd", False), best_by(runs, "speaker_similarity", True)
        options = best_by({k: v for k, v in runs.items() if k in AUTO_OPTIONS}, "mcd", False)
        summary.append(f"| {case} | {choice['minutes']:.1f} min, similarity {choice['similarity']:.2f} | "
                       f"{choice['name']} | {best_mcd} | {best_sim} | {options} | "
                       f"{'yes' if choice['name'] == options else 'no'} |")
    lines += ["## Does auto pick the best?", "", *summary, "",
              "Speaker similarity: the offline espeak-trained encoder. MCD and F0 count only samples whose length "
              "ratio lies within 0.5-2x. Reproduce: `.venv/bin/python benchmarks/strategies.py`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "strategies.md"))
    parser.add_argument("--probe-only", action="store_true")
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--note", default="", help="a line for the table's header, e.g. about the machine's load")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.table_only:
        results = json.loads((OUT / "results.json").read_text())
        Path(args.out).write_text(table(results, args.steps, args.note), encoding="utf-8")
        return
    build_demo_corpus(CORPUS, clips_per_base_voice=150, target_clips=220, extra_targets=NEAR_TARGET_VOICE)
    results_file = OUT / "results.json"
    results: dict = json.loads(results_file.read_text()) if results_file.is_file() else {}
    start = time.perf_counter()
    for case in args.cases:
        entry = results.setdefault(case, {"runs": {}})
        entry["auto"] = probe(case)
        print(f"[{(time.perf_counter() - start) / 60:.1f} min] {case}: auto -> {entry['auto']['reason']}", flush=True)
        if args.probe_only:
            continue
        for i, label in enumerate(args.strategies):
            r = train(case, label, args.steps, with_base=i == 0 and "base" not in entry)
            if "base" in r["systems"]:
                entry["base"] = r["systems"]["base"]
            entry["runs"][label] = r
            print(f"[{(time.perf_counter() - start) / 60:.1f} min] {case} {label}: MCD "
                  f"{fmt(r['systems']['fine_tuned']['mcd'], '.2f')}", flush=True)
            results_file.write_text(json.dumps(results, indent=2, default=str))  # a killed run keeps what finished
        Path(args.out).write_text(table({k: v for k, v in results.items() if v["runs"]}, args.steps), encoding="utf-8")
    results_file.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
