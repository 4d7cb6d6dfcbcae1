"""A plain folder: audio files (.wav .flac .mp3 .ogg), each with a same-name .txt transcript beside it.

This is the layout people make by hand, so it is read recursively and the speaker is the folder
an audio file sits in, relative to the root (`alice/a.wav` -> "alice"; files at the top level
belong to a speaker named after the root folder). The id is the file's relative path without
its extension, with "/" turned into "-": bare stems collide across speakers (`alice/001.wav`,
`bob/001.wav`), and ids become file names later, so they cannot contain "/".
"""

from __future__ import annotations

from pathlib import Path

from .common import DataError, read_transcript, require_dir, row

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")
LAYOUT = f"folder layout: audio files ({' '.join(AUDIO_SUFFIXES)}), each with a same-name .txt beside it"


def read_folder(root: Path) -> list[dict]:
    require_dir(root, LAYOUT)
    audio = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not audio:
        raise DataError(f"no audio files in {root} or its subfolders; expected the {LAYOUT}")
    rows = []
    for path in audio:
        relative = path.relative_to(root)
        folder = relative.parent.as_posix()
        speaker = root.resolve().name if folder == "." else folder
        text, problem = read_transcript(path.with_suffix(".txt"))
        rows.append(row(relative.with_suffix("").as_posix().replace("/", "-"), speaker, text, path, problem))
    return sorted(rows, key=lambda r: (r["speaker"], r["id"]))
