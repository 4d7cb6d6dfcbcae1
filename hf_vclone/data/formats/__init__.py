"""Readers for corpora in their own on-disk layouts, by the name a recipe gives in `data.format`.

A reader lists a corpus; it does not decode audio. It returns one row per clip:
    {"id": str, "speaker": str, "text": str | None, "audio": str (file path), "problem": str}
`problem` is "" for a usable row, or the reason the row cannot be used (for example a transcript
that is not UTF-8, or an audio file with no transcript). Such rows are kept, not dropped, so the
skipped-clips report can name them. Missing audio files are *not* checked here: decoding reports them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .common_voice import read_common_voice
from .folder import read_folder
from .librispeech import read_librispeech
from .libritts import read_libritts
from .ljspeech import read_ljspeech
from .manifest import read_manifest
from .vctk import read_vctk

Reader = Callable[[Path], list[dict]]

READERS: dict[str, Reader] = {
    "ljspeech": read_ljspeech,
    "librispeech": read_librispeech,
    "vctk": read_vctk,
    "libritts": read_libritts,
    "common_voice": read_common_voice,
    "folder": read_folder,
    "manifest": read_manifest,
}  # "hub" is not a reader: formats/hub.py loads through datasets.load_dataset
