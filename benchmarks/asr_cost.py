"""What intelligibility costs per evaluated sentence: the offline Whisper-base on this machine's CPU.

Every evaluation now transcribes each held-out sentence once per system and once for the real
recording, so its cost is (systems + 1) x sentences x the figure printed here. The sentences are
the demo corpus's grammar, spoken by espeak-ng as the held-out target voice (us_f5, 22050 Hz);
the drone is a steady harmonic tone of the same length, what an acoustic model that has not
learned to speak outputs (the case the hallucination guard is for).

    .venv/bin/python benchmarks/asr_cost.py --sentences 10          # about 30 s on 2 cores

Prints the load time (assembly from the packages on a first run, then the check), seconds per
sentence and per audio second, and CER/WER of the speech and of the drone.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hf_vclone.data.demo_corpus import TARGET_VOICE, require_espeak, sentences  # noqa: E402
from hf_vclone.intelligibility import error_rates, load_asr, transcribe  # noqa: E402


def speak(texts: list[str], folder: Path) -> list[tuple[np.ndarray, int]]:
    exe, (args,) = require_espeak(), TARGET_VOICE.values()
    clips = []
    for i, text in enumerate(texts):
        path = folder / f"{i}.wav"
        subprocess.run([exe, *args, "-w", str(path), text], check=True, capture_output=True)
        wave, rate = sf.read(path, dtype="float32")
        clips.append((wave, rate))
    return clips


def drone(samples: int, rate: int, f0: float = 220.0) -> np.ndarray:
    t = np.arange(samples) / rate
    return (0.2 * sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 9))).astype(np.float32)


def timed(asr: str, clips: list[tuple[np.ndarray, int]], language: str) -> tuple[list[str], list[float]]:
    texts, seconds = [], []
    for wave, rate in clips:
        start = time.perf_counter()
        texts += transcribe(asr, [wave], rate, language)
        seconds.append(time.perf_counter() - start)
    return texts, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=10)
    parser.add_argument("--asr", default="whisper-base", help="any evaluation.asr_model value")
    parser.add_argument("--language", default="en")
    ns = parser.parse_args()

    texts = sentences(ns.sentences, seed=1234)
    with tempfile.TemporaryDirectory() as tmp:
        clips = speak(texts, Path(tmp))
    start = time.perf_counter()
    load_asr(ns.asr, ns.language)
    load = time.perf_counter() - start
    audio = sum(len(w) / r for w, r in clips)
    print(f"{ns.asr}: loaded in {load:.1f} s; {len(clips)} sentences, {audio:.1f} s of audio "
          f"({audio / len(clips):.1f} s per sentence)\n")
    print("| input | s per sentence (median) | s per sentence (max) | s per audio second | CER | WER |")
    print("|---|---|---|---|---|---|")
    for name, batch in [("espeak-ng speech (us_f5)", clips),
                        ("harmonic drone, same lengths", [(drone(len(w), r), r) for w, r in clips])]:
        heard, seconds = timed(ns.asr, batch, ns.language)
        cer, _ = error_rates(heard, texts, "cer", ns.language)
        wer, _ = error_rates(heard, texts, "wer", ns.language)
        print(f"| {name} | {statistics.median(seconds):.2f} | {max(seconds):.2f} | {sum(seconds) / audio:.3f} "
              f"| {cer:.3f} | {wer:.3f} |")
        if name.startswith("harmonic"):
            print(f"\ndrone transcripts: {sorted(set(heard))}")


if __name__ == "__main__":
    main()
