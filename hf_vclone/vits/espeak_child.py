"""Speak one sentence through libespeak-ng and print (samples, rate, phoneme events), pickled.

Run as a script, in a fresh interpreter, by espeak_timing.speak (which says why). Only the standard
library is imported, so a call costs an interpreter start and the synthesis (tens of ms).

    python espeak_child.py TEXT VOICE PITCH WORDS_PER_MINUTE > out.pickle
"""

from __future__ import annotations

import ctypes
import pickle
import sys

_SYNCHRONOUS, _PHONEME_EVENTS, _PHONEME_IPA, _EVENT_PHONEME, _RATE, _PITCH = 2, 0x1, 0x2, 7, 1, 3


class _Id(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):  # espeak_EVENT of speak_lib.h
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


class _Voice(ctypes.Structure):  # espeak_VOICE of speak_lib.h
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


def speak_here(text: str, voice: str, pitch: int, wpm: int) -> tuple[bytes, int, list[tuple[int, str]]]:
    """(int16 samples as bytes, rate, [(start sample, IPA phoneme)]) from this process's library."""
    lib = ctypes.CDLL("libespeak-ng.so.1")
    rate = lib.espeak_Initialize(_SYNCHRONOUS, 0, None, _PHONEME_EVENTS | _PHONEME_IPA)
    chunks: list[bytes] = []
    phonemes: list[tuple[int, str]] = []

    def collect(wav, n, events):  # type: ignore[no-untyped-def]
        if wav and n > 0:
            chunks.append(ctypes.string_at(wav, 2 * n))
        i = 0
        while events[i].type != 0:  # the list ends with espeakEVENT_LIST_TERMINATED
            if events[i].type == _EVENT_PHONEME:
                phonemes.append((events[i].sample, bytes(events[i].id.string).split(b"\0")[0].decode()))
            i += 1
        return 0

    callback = _Callback(collect)  # kept alive until synthesis ends
    lib.espeak_SetSynthCallback(callback)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        # as the espeak-ng command does: a name that is no voice file (en-gb+m3) is a language spec
        spec = _Voice(languages=voice.encode())
        if lib.espeak_SetVoiceByProperties(ctypes.byref(spec)) != 0:
            raise ValueError(f"no voice {voice!r}")
    lib.espeak_SetParameter(_RATE, wpm, 0)
    lib.espeak_SetParameter(_PITCH, pitch, 0)
    data = text.encode()
    lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 0, None, None)
    lib.espeak_Synchronize()
    return b"".join(chunks), rate, phonemes



if __name__ == "__main__":
    text, voice, pitch, wpm = sys.argv[1:5]
    sys.stdout.buffer.write(pickle.dumps(speak_here(text, voice, int(pitch), int(wpm))))
