"""How steady is a CER on a handful of sentences? Transcribe a run's saved samples again.

An evaluation transcribes the float audio it synthesised; its `samples/*.wav` are the same audio in
16-bit PCM. Whisper moves on differences that small, so transcribing the WAVs again with the current
ASR (the loop guard included) shows how far a 6-sentence CER wanders without anything else changing.
For each system in the run's metrics.json: the pooled CER as logged, the CER from the WAVs, and how
many of the logged transcripts were decoding loops (intelligibility.is_loop).

    .venv/bin/python benchmarks/rescore_samples.py outputs/vits_demo [more run folders]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import soundfile as sf

from hf_vclone.intelligibility import error_rates, is_loop, transcribe

SYSTEMS = ("reference", "base", "fine_tuned")


def rescore(run: Path, asr_model: str) -> dict[str, dict]:
    samples = json.loads((run / "metrics.json").read_text())["samples"]
    scores = {}
    for system in SYSTEMS:
        rows = [s for s in samples if system in s]
        if not rows:
            continue
        waves, rates = zip(*(sf.read(run / (s[system].get("wav") or s[f"{system}_wav"]), dtype="float32")
                             for s in rows))
        if len(set(rates)) != 1:
            raise SystemExit(f"{run}: the {system} samples have different sampling rates {sorted(set(rates))}")
        texts = [s["text"] for s in rows]
        logged = [s[system]["transcript"] for s in rows]
        heard = transcribe(asr_model, list(waves), rates[0])
        scores[system] = {"cer_logged": error_rates(logged, texts, "cer")[0],
                          "cer_from_wavs": error_rates(heard, texts, "cer")[0],
                          "loops_logged": sum(map(is_loop, logged)), "sentences": len(rows)}
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="output folders holding metrics.json and samples/")
    parser.add_argument("--asr-model", default="whisper-base")
    args = parser.parse_args()
    for run in args.runs:
        for system, s in rescore(run, args.asr_model).items():
            print(f"{run}  {system:10s}  CER logged {s['cer_logged']:.3f}  from the WAVs {s['cer_from_wavs']:.3f}"
                  f"  ({s['sentences']} sentences, {s['loops_logged']} logged transcripts looping)")


if __name__ == "__main__":
    main()
