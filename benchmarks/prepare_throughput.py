"""Data preparation throughput: seconds of audio prepared per wall-clock second.

Runs `prepare` (decode, checks, resample, loudness, trim, log-mel, tokenise) on the whole
offline demo corpus twice in one process: first with an empty cache, then again, where the
cache should answer. Usage (from the repository root):

    .venv/bin/python benchmarks/prepare_throughput.py [--num-proc 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument("--corpus", default=str(ROOT / "data" / "demo_corpus"))
    args = parser.parse_args()
    # A private, empty cache: the first run must really compute. Set before datasets is imported.
    os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="vclone-bench-cache-")
    sys.path.insert(0, str(ROOT))
    from transformers import SpeechT5Processor

    from hf_vclone.config import DataConfig
    from hf_vclone.data.demo_corpus import build_demo_corpus
    from hf_vclone.data.prepare import prepare
    from hf_vclone.data.sources import load_source
    from hf_vclone.models.speecht5 import SpeechT5Backend

    build_demo_corpus(args.corpus)
    spec = SpeechT5Backend().feature_spec(SpeechT5Processor.from_pretrained(ROOT / "assets" / "quickstart_base"))
    cfg = DataConfig(path=args.corpus, num_proc=args.num_proc if args.num_proc > 1 else None)
    timings = []
    for label in ("first run (empty cache)", "second run (cached)"):
        start = time.perf_counter()
        data = prepare(load_source(cfg), cfg, spec, None)
        seconds = time.perf_counter() - start
        audio = sum(data.train["seconds"])
        timings.append(seconds)
        print(f"{label:<26} {len(data.train)} clips, {audio / 60:.1f} min of audio in {seconds:.1f} s "
              f"= {audio / seconds:.0f}x real time")
    print(f"cached run is {timings[0] / timings[1]:.1f}x faster than the first")


if __name__ == "__main__":
    main()
