"""Does libespeak-ng say where each phoneme starts in the audio the demo corpus holds? (It does.)

The probe behind `vits.alignment: espeak` (hf_vclone/vits/espeak_timing.py): speaks sentences
through the library (a fresh library per sentence, as the module does), prints each phoneme with its
time, and checks that the library's samples are the `espeak-ng -w` command's, which is how the
corpus is written.

    .venv/bin/python benchmarks/espeak_phoneme_events.py
"""

from __future__ import annotations

import subprocess
import tempfile

import numpy as np
import soundfile as sf

from hf_vclone.data.demo_corpus import BASE_VOICES
from hf_vclone.vits.espeak_timing import speak, voice_arguments

SENTENCES = ["The pilot wanted a warm blanket at the station very slowly.",
             "Her little brother found a paper boat across the field for no reason."]


def main() -> None:
    args = BASE_VOICES["us_f2"]
    for text in SENTENCES:
        wav, rate, phonemes = speak(text, *voice_arguments(args))
        print(f"{len(phonemes)} phonemes over {len(wav) / rate:.2f} s at {rate} Hz:")
        print(" ".join(f"{p or '_'}@{s / rate:.2f}" for s, p in phonemes))
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            subprocess.run(["espeak-ng", *args, "-w", f.name, text], check=True)
            cli, _ = sf.read(f.name, dtype="float32")
        n = min(len(cli), len(wav))
        print(f"the command's samples: {len(cli)}, the library's: {len(wav)}; equal over the common "
              f"{n}: {bool(np.array_equal(cli[:n], wav[:n]))}; the command's extra tail peaks at "
              f"{float(np.abs(cli[n:]).max(initial=0)):.4f}")


if __name__ == "__main__":
    main()
