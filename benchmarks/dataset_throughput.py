"""How fast `hf-vclone dataset` turns raw recordings into clips: seconds of audio per wall-clock
second, for slicing (decode + Silero VAD + cut planning) and for transcription (Whisper-base,
faster-whisper, 2 threads) separately, then for the whole command.

The recording is espeak-ng (us_f5) reading `--sentences` sentences of the demo grammar with
pauses of 0.4-1.2 s, written as 44.1 kHz stereo FLAC: the shape of a real long take.

    .venv/bin/python benchmarks/dataset_throughput.py --sentences 40     # about 2 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from hf_vclone import dataset_builder
from hf_vclone.data.demo_corpus import BASE_VOICES, require_espeak, sentences
from hf_vclone.slicing import plan_clips, speech_regions


def long_recording(folder: Path, count: int) -> Path:
    rng, rate, pieces = np.random.default_rng(0), 22050, []
    for i, text in enumerate(sentences(count, seed=5)):
        path = folder / f"{i}.wav"
        subprocess.run([require_espeak(), *BASE_VOICES["us_m1"], "-w", str(path), text], check=True, capture_output=True)
        wave, rate = sf.read(path, dtype="float32")
        pieces += [librosa.effects.trim(wave, top_db=40)[0], np.zeros(int(rng.uniform(0.4, 1.2) * rate), np.float32)]
    up = librosa.resample(np.concatenate(pieces), orig_sr=rate, target_sr=44100)
    out = folder / "take.flac"
    sf.write(out, np.stack([up, up], axis=1) + rng.normal(0, 1e-3, (len(up), 2)).astype(np.float32), 44100)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = long_recording(Path(tmp), args.sentences)
        options = dataset_builder.BuildOptions()
        t0 = time.perf_counter()
        wave, rate = dataset_builder._decode(source)
        spans = plan_clips(speech_regions(dataset_builder._for_vad(wave, rate), options.max_seconds),
                           len(wave) / rate, options.min_seconds, options.max_seconds)
        sliced = time.perf_counter() - t0
        model = dataset_builder._transcriber(options)  # loaded before timing: a one-off cost
        t0 = time.perf_counter()
        for span in spans:
            dataset_builder._transcribe(model, wave[int(span.start * rate): int(span.end * rate)], rate, "en")
        heard = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = dataset_builder.build_dataset([source], Path(tmp) / "out", options)
        whole = time.perf_counter() - t0
    seconds = len(wave) / rate
    print(f"{seconds:.0f} s of audio, {len(spans)} clips ({report.clips} written)")
    print(f"| slicing (decode + VAD + cuts) | {sliced:.1f} s | {seconds / sliced:.0f}x real time |")
    print(f"| transcription (Whisper-base) | {heard:.1f} s | {seconds / heard:.1f}x real time |")
    print(f"| whole command (model loaded) | {whole:.1f} s | {seconds / whole:.1f}x real time |")


if __name__ == "__main__":
    main()
