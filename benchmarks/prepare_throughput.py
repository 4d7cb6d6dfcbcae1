"""Data preparation throughput: seconds of audio prepared per wall-clock second.

On the whole offline demo corpus, in one process, side by side:
  1. the reference: the Hugging Face SpeechT5 fine-tuning tutorial's `prepare_dataset`
     (`processor(text=..., audio_target=..., sampling_rate=...)` in `datasets.map`), after the
     same soundfile decode and soxr resample (its torchcodec decoder does not load here);
  2. ours, first run with an empty cache: decode, every preflight check, resample, loudness,
     trim, text normalisation, log-mel, tokenise;
  3. ours again, where the cache should answer.
Usage (from the repository root):

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
    from transformers import SpeechT5Config, SpeechT5Processor

    from hf_vclone.config import DataConfig
    from hf_vclone.data.demo_corpus import build_demo_corpus
    from hf_vclone.data.prepare import prepare
    from hf_vclone.data.sources import load_source
    from hf_vclone.models.speecht5 import SpeechT5Backend

    build_demo_corpus(args.corpus)
    base = ROOT / "assets" / "quickstart_base"
    spec = SpeechT5Backend().feature_spec(SpeechT5Processor.from_pretrained(base), SpeechT5Config.from_pretrained(base))
    cfg = DataConfig(path=args.corpus, num_proc=args.num_proc if args.num_proc > 1 else None)
    reference_seconds, audio = _reference(load_source(cfg), SpeechT5Processor.from_pretrained(
        ROOT / "assets" / "quickstart_base"), cfg.num_proc)
    print(f"{'reference (tutorial)':<26} {audio / 60:.1f} min of input audio in {reference_seconds:.1f} s "
          f"= {audio / reference_seconds:.0f}x real time")
    timings = []
    for label in ("first run (empty cache)", "second run (cached)"):
        start = time.perf_counter()
        data = prepare(load_source(cfg), cfg, spec, None)
        seconds = time.perf_counter() - start
        timings.append(seconds)
        print(f"{label:<26} {len(data.train)} clips, {audio / 60:.1f} min of input audio in {seconds:.1f} s "
              f"= {audio / seconds:.0f}x real time ({sum(data.train['seconds']) / 60:.1f} min after trimming)")
    print(f"ours (first run) is {reference_seconds / timings[0]:.1f}x faster than the reference; "
          f"the cached run is {timings[0] / timings[1]:.1f}x faster than the first")


def _reference(raw, processor, num_proc):
    """The tutorial's featurisation, on the same decoded and resampled audio."""
    import time as clock

    import soxr

    from hf_vclone.data.audio import decode, to_mono

    def prepare_dataset(example: dict) -> dict:
        wave, rate = decode(example["audio"]["path"])
        wave = soxr.resample(to_mono(wave), rate, 16000)
        out = processor(text=example["text"], audio_target=wave, sampling_rate=16000, return_attention_mask=False)
        out["labels"] = out["labels"][0]
        out["seconds"] = len(wave) / 16000
        return out

    start = clock.perf_counter()
    done = raw.map(prepare_dataset, num_proc=num_proc, load_from_cache_file=False, remove_columns=raw.column_names)
    return clock.perf_counter() - start, sum(done["seconds"])


if __name__ == "__main__":
    main()
