"""Does libespeak-ng say where each phoneme starts in the audio the demo corpus holds? (It does.)

A probe for the next VITS step (benchmarks/README.md, "The text side on a frozen latent"): the demo
corpus is espeak-ng speech, so its true phoneme durations exist; libespeak-ng reports them as
phoneme events. This speaks one sentence through the library (ctypes, synchronous output, phoneme
events in IPA), prints each phoneme with its sample offset, and checks that the library's samples
are the `espeak-ng -w` command's, which is how the corpus is written.

    .venv/bin/python benchmarks/espeak_phoneme_events.py
"""

from __future__ import annotations

import ctypes
import subprocess
import tempfile

import numpy as np
import soundfile as sf

SYNCHRONOUS, PHONEME_EVENTS, PHONEME_IPA, EVENT_PHONEME, RATE, PITCH = 2, 0x1, 0x2, 7, 1, 3


class _Id(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):  # espeak_EVENT of speak_lib.h
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


def speak(text: str, voice: str, pitch: int, wpm: int) -> tuple[np.ndarray, int, list[tuple[int, str]]]:
    """(int16 samples, rate, [(sample offset, IPA phoneme)]) from libespeak-ng."""
    lib = ctypes.CDLL("libespeak-ng.so.1")
    rate = lib.espeak_Initialize(SYNCHRONOUS, 0, None, PHONEME_EVENTS | PHONEME_IPA)
    chunks: list[np.ndarray] = []
    phonemes: list[tuple[int, str]] = []

    def collect(wav, n, events):  # type: ignore[no-untyped-def]
        if wav and n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != 0:  # the list ends with espeakEVENT_LIST_TERMINATED
            if events[i].type == EVENT_PHONEME:
                phonemes.append((events[i].sample, bytes(events[i].id.string).split(b"\0")[0].decode()))
            i += 1
        return 0

    callback = _Callback(collect)  # kept alive until synthesis ends
    lib.espeak_SetSynthCallback(callback)
    lib.espeak_SetVoiceByName(voice.encode())
    lib.espeak_SetParameter(RATE, wpm, 0)
    lib.espeak_SetParameter(PITCH, pitch, 0)
    data = text.encode()
    lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 0, None, None)
    lib.espeak_Synchronize()
    return np.concatenate(chunks), rate, phonemes


def main() -> None:
    text, args = "The pilot wanted a warm blanket at the station very slowly.", ("en-us+f2", 55, 170)
    wav, rate, phonemes = speak(text, *args)
    print(f"{len(phonemes)} phonemes over {len(wav) / rate:.2f} s at {rate} Hz:")
    print(" ".join(f"{p}@{s / rate:.2f}" for s, p in phonemes))
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", args[0], "-p", str(args[1]), "-s", str(args[2]), "-w", f.name, text], check=True)
        cli, _ = sf.read(f.name, dtype="int16")
    n = min(len(cli), len(wav))
    print(f"the command's samples: {len(cli)}, the library's: {len(wav)}; equal over the common "
          f"{n}: {bool((cli[:n] == wav[:n]).all())}; the command's extra tail peaks at {int(np.abs(cli[n:]).max(initial=0))}")


if __name__ == "__main__":
    main()
