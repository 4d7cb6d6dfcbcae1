"""The strategy table: every fine-tuning strategy in the four cases of the practice's rule, and
whether `strategy: auto` picks the best-scoring one in each.

Cases: little (1 min) or much (10 min) audio of a voice that is similar to one the committed
base knows (us_f2_near: us_f2's variant, a little higher and slower) or dissimilar (us_f5:
another variant, far higher pitch). Each strategy trains from the same base with the recipe's
budget (400 steps) and is scored on the same held-out sentences, CER (offline Whisper) beside MCD
and similarity, and CER on the recipe's test sentences where it has them. A voice that does not
speak (CER above 0.5) wins nothing on MCD: the best MCD and similarity are taken among the voices
that speak.
`auto` is not trained separately: it picks one of the named strategies with the same settings,
so its measurement (before training) and its choice are recorded, and its score is the chosen
strategy's. Writes benchmarks/strategies.md.

    .venv/bin/python benchmarks/strategies.py                 # Tacotron 2 (the quickstart): about 3.5 hours on 2 CPU cores
    .venv/bin/python benchmarks/strategies.py --cases "little, dissimilar"   # one case, about 50 minutes; runs add up
    .venv/bin/python benchmarks/strategies.py --family speecht5   # the SpeechT5 demo base (which does not speak)
    .venv/bin/python benchmarks/strategies.py --probe-only    # what auto measures and picks (2 minutes)
    .venv/bin/python benchmarks/strategies.py --table-only    # rewrite the table from outputs/strategies/FAMILY/results.json
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
# family -> (recipe, committed base): the Tacotron 2 quickstart, or the SpeechT5 demo
FAMILIES = {"tacotron2": ("quickstart.yaml", "tacotron2_demo_base"), "speecht5": ("speecht5_demo.yaml", "quickstart_base")}
# Each strategy at a rate that suits how much of the model it moves: the recipe's rate for whole
# layers and adapters (as in quality.md), more for the heads and far more for one vector.
STRATEGIES_BY_FAMILY: dict[str, dict[str, tuple[dict, float]]] = {
    "speecht5": {
        "full": ({"name": "full"}, 3e-4),
        "freeze_lower": ({"name": "freeze_lower", "freeze_layers": 2}, 3e-4),
        "lora": ({"name": "lora"}, 3e-4),
        "head_only": ({"name": "head_only"}, 1e-3),
        "speaker_embedding": ({"name": "speaker_embedding"}, 1e-2),
        "full + layer_lr 0.3": ({"name": "full", "layer_lr": {"decay": 0.3, "top": 3.0}}, 3e-4),
        "full + l2sp 0.01": ({"name": "full", "l2sp": 0.01}, 3e-4),
    },
    # a one-voice Tacotron 2 has no speaker vector to train (speaker_embedding is refused)
    "tacotron2": {
        "full": ({"name": "full"}, 5e-4),
        "freeze_lower": ({"name": "freeze_lower"}, 5e-4),
        "lora": ({"name": "lora"}, 5e-4),
        "head_only": ({"name": "head_only"}, 1e-3),
        "full + l2sp 0.01": ({"name": "full", "l2sp": 0.01}, 5e-4),
    },
}
SPEAKS_BELOW = 0.5  # CER above this: not speaking the words
EVAL_SENTENCES = 6
AUTO_OPTIONS = ("full", "freeze_lower", "head_only", "speaker_embedding")  # what auto can pick by default


def recipe(family: str, case: str, strategy: dict, lr: float, steps: int) -> dict:
    speaker, minutes = CASES[case]
    recipe_name, base_name = FAMILIES[family]
    raw = yaml.safe_load((ROOT / "recipes" / recipe_name).read_text())
    raw["model"]["name_or_path"] = str(ROOT / "assets" / base_name)
    raw["data"].update(path=str(CORPUS), generate_demo=False, speaker=speaker, max_minutes=minutes, eval_size=10)
    raw["evaluation"].update(num_samples=EVAL_SENTENCES, compare_base=False,
                             other_voices=str(CORPUS / "same_text" / speaker))
    raw["training"].update(max_steps=steps, learning_rate=lr)
    raw["strategy"] = strategy
    raw["output"]["dir"] = str(OUT / family / case.replace(", ", "_") / strategy["name"])
    return raw


def probe(family: str, case: str) -> dict:
    """What `strategy: auto` measures and picks for this case (setup only, no training)."""
    job = FineTuneRun(recipe_from_dict(recipe(family, case, {"name": "auto"}, 3e-4, 1)))
    job.setup()
    return job.choice.as_dict()


def train(family: str, case: str, label: str, steps: int, with_base: bool) -> dict:
    strategy, lr = STRATEGIES_BY_FAMILY[family][label]
    raw = recipe(family, case, strategy, lr, steps)
    raw["output"]["dir"] = str(OUT / family / case.replace(", ", "_") / label.replace(" ", "_"))
    raw["evaluation"]["compare_base"] = with_base
    job = FineTuneRun(recipe_from_dict(raw))
    job.setup()
    trainable, _ = parameter_counts(job.voice)
    seconds = job.train()
    metrics = job.finish(seconds).metrics
    return {"trainable": trainable, "train_seconds": seconds, "learning_rate": lr, "systems": metrics["systems"],
            "test": (metrics.get("test_sentences") or {}).get("systems", {}), "reference": metrics.get("reference"),
            "nearest": metrics.get("nearest_real_voice"), "other_voices": metrics.get("other_real_voices"),
            "batch": raw["training"]["per_device_train_batch_size"]}


def fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def best_by(runs: dict, key: str, higher: bool) -> str | None:
    """The best run by `key` among the voices that speak (CER at most SPEAKS_BELOW): a drone wins nothing on
    MCD. Runs measured before CER existed count as speaking (their tables say they were void)."""
    scored = {k: r["systems"]["fine_tuned"][key] for k, r in runs.items()
              if r["systems"]["fine_tuned"].get(key) is not None
              and (r["systems"]["fine_tuned"].get("cer") or 0.0) <= SPEAKS_BELOW}
    if not scored:
        return None
    return (max if higher else min)(scored, key=scored.get)


def pooled_cer(run: dict, n_test: int) -> float | None:
    """CER over the held-out and the test sentences together, weighted by their counts: 6 held-out
    sentences alone move by about 0.03 between runs of one voice, so ranking strategies on them alone
    would call noise a win."""
    held = run["systems"]["fine_tuned"].get("cer")
    test = ((run.get("test") or {}).get("fine_tuned") or {}).get("cer")
    if held is None or test is None or not n_test:
        return held
    return (EVAL_SENTENCES * held + n_test * test) / (EVAL_SENTENCES + n_test)


def row(label: str, lr: str, s: dict, test: dict | None, params: str, time_cell: str) -> str:
    return (f"| {label} | {lr} | {fmt(s.get('cer'), '.3f')} | {fmt((test or {}).get('cer'), '.3f')} | "
            f"{fmt(s.get('mcd'), '.2f')} | {fmt(s.get('f0_rmse_cents'), '.0f')} | "
            f"{fmt(s.get('speaker_similarity'), '.3f')} | {fmt(s.get('length_ratio_mean'), '.2f')} | {params} | {time_cell} |")


def table(results: dict, steps: int, family: str, note: str = "") -> str:
    recipe_name, base_name = FAMILIES[family]
    batch = next((r.get("batch") for e in results.values() for r in e["runs"].values()), None) or 8
    lines = [
        "# Fine-tuning strategies in the four cases, and what `strategy: auto` picks", "",
        f"Base: `assets/{base_name}`, recipe `recipes/{recipe_name}`. Every run {steps} steps, batch {batch}, on 2 CPU "
        f"cores; scored on the same {EVAL_SENTENCES} held-out sentences of the target (Griffin-Lim audio) and, CER only, "
        "on the recipe's test sentences that no voice trained on. CER: offline Whisper-base, greedy; the real recordings' "
        f"CER is the floor. A voice with CER above {SPEAKS_BELOW} does not speak the words: the best MCD and similarity "
        "below are taken among the voices that speak. Similar target: `us_f2_near` (us_f2's variant, pitch 62 vs 55); "
        "dissimilar: `us_f5` (variant f5, pitch 85).", "",
        *([note, ""] if note else []),
    ]
    n_test = len(yaml.safe_load((ROOT / "recipes" / recipe_name).read_text())["evaluation"].get("test_sentences") or [])
    summary = ["| case | auto measured | auto picks | its CER held-out / test / pooled | best of auto's options (pooled CER) | "
               "auto = that? | best CER of all (pooled) | best MCD (speaking) | best similarity (speaking) |",
               "|---|---|---|---|---|---|---|---|---|"]
    header = ["| strategy | lr | CER held-out ↓ | CER test ↓ | MCD (dB) ↓ | F0 RMSE (cents) ↓ | speaker similarity ↑ | "
              "length ratio | trainable parameters | training time |", "|---|---|---|---|---|---|---|---|---|---|"]
    for case, entry in results.items():
        choice, runs = entry["auto"], entry["runs"]
        lines += [f"## {case}: {CASES[case][0]}, {CASES[case][1]:g} min", "",
                  f"`auto`: {choice['reason']} (nearest base voice `{choice['nearest_voice']}`, "
                  f"encoder `{choice['encoder']}`).", "", *header]
        any_run = next(iter(runs.values()), {})
        if isinstance(any_run.get("reference"), dict):
            lines.append(row("real recordings (the floor)", "-", {"cer": any_run["reference"].get("cer")}, None, "-", "-"))
        nearest = any_run.get("nearest")
        if nearest and (any_run.get("other_voices") or {}).get(nearest):
            lines.append(row(f"nearest other real voice (`{nearest}`)", "-", any_run["other_voices"][nearest], None, "-", "-"))
        if entry.get("base"):
            lines.append(row("base (no fine-tuning)", "-", entry["base"], entry.get("base_test"), "-", "-"))
        for label, r in runs.items():
            mark = " ← auto" if label == choice["name"] else ""
            lines.append(row(f"{label}{mark}", f"{r['learning_rate']:g}", r["systems"]["fine_tuned"],
                             (r.get("test") or {}).get("fine_tuned"), f"{r['trainable']:,}",
                             f"{r['train_seconds'] / 60:.1f} min"))
        lines.append("")
        pooled = {k: c for k, r in runs.items() if (c := pooled_cer(r, n_test)) is not None}
        best_cer = min(pooled, key=pooled.get) if pooled else None
        best_mcd, best_sim = best_by(runs, "mcd", False), best_by(runs, "speaker_similarity", True)
        options = {k: c for k, c in pooled.items() if k in AUTO_OPTIONS}
        best_option = min(options, key=options.get) if options else None
        picked = runs.get(choice["name"])
        if picked is None:
            its, verdict = "not run", "n/a"
        else:
            its = (f"{fmt(picked['systems']['fine_tuned'].get('cer'), '.3f')} / "
                   f"{fmt(((picked.get('test') or {}).get('fine_tuned') or {}).get('cer'), '.3f')} / "
                   f"{fmt(pooled.get(choice['name']), '.3f')}")
            gap = pooled[choice["name"]] - options[best_option]
            verdict = "yes" if gap == 0 else f"no: +{gap:.3f}" + (" (within one seed's noise, 0.03)" if gap <= 0.03 else "")
        summary.append(f"| {case} | {choice['minutes']:.1f} min, similarity {choice['similarity']:.2f} | "
                       f"{choice['name']} | {its} | {best_option} ({fmt(options.get(best_option), '.3f')}) | {verdict} | "
                       f"{best_cer} ({fmt(pooled.get(best_cer), '.3f')}) | {best_mcd} | {best_sim} |")
    lines += ["## Does auto pick the best?", "", *summary, "",
              "Speaker similarity: the offline espeak-trained encoder. MCD and F0 count only samples whose length "
              f"ratio lies within 0.5-2x. Reproduce: `.venv/bin/python benchmarks/strategies.py --family {family}`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--family", default="tacotron2", choices=list(FAMILIES))
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--strategies", nargs="+", help="default: every one of the family's")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "strategies.md"))
    parser.add_argument("--probe-only", action="store_true")
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--note", default="", help="a line for the table's header, e.g. about the machine's load")
    args = parser.parse_args()
    known = STRATEGIES_BY_FAMILY[args.family]
    labels = args.strategies or list(known)
    unknown = [s for s in labels if s not in known]
    if unknown:
        parser.error(f"--strategies: {unknown} are not measured for {args.family}; choose from {list(known)}")
    out = OUT / args.family
    out.mkdir(parents=True, exist_ok=True)
    results_file = out / "results.json"
    if args.table_only:
        results = {k: v for k, v in json.loads(results_file.read_text()).items() if v["runs"]}
        Path(args.out).write_text(table(results, args.steps, args.family, args.note), encoding="utf-8")
        return
    build_demo_corpus(CORPUS, clips_per_base_voice=150, target_clips=220, extra_targets=NEAR_TARGET_VOICE)
    results: dict = json.loads(results_file.read_text()) if results_file.is_file() else {}
    start = time.perf_counter()
    for case in args.cases:
        entry = results.setdefault(case, {"runs": {}})
        entry["auto"] = probe(args.family, case)
        print(f"[{(time.perf_counter() - start) / 60:.1f} min] {case}: auto -> {entry['auto']['reason']}", flush=True)
        if args.probe_only:
            continue
        for i, label in enumerate(labels):
            r = train(args.family, case, label, args.steps, with_base=i == 0 and "base" not in entry)
            if "base" in r["systems"]:
                entry["base"], entry["base_test"] = r["systems"]["base"], r["test"].get("base")
            entry["runs"][label] = r
            print(f"[{(time.perf_counter() - start) / 60:.1f} min] {case} {label}: CER "
                  f"{fmt(r['systems']['fine_tuned'].get('cer'), '.3f')}, MCD "
                  f"{fmt(r['systems']['fine_tuned']['mcd'], '.2f')}", flush=True)
            results_file.write_text(json.dumps(results, indent=2, default=str))  # a killed run keeps what finished
            Path(args.out).write_text(table({k: v for k, v in results.items() if v["runs"]}, args.steps, args.family,
                                            args.note), encoding="utf-8")
    results_file.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
