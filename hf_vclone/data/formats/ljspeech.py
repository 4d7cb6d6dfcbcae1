"""LJSpeech: wavs/<id>.wav + metadata.csv with `id|text` (or `id|text|normalized text`).

The audio of an id may be in any supported container and extension case (`wavs/<id>.flac`,
`.ogg`, `.WAV`); an id that would leave the data root (`../../etc/passwd`) is reported, never opened.

One folder with metadata.csv is one speaker (named after the folder); a folder of such folders
is a multi-speaker corpus (the offline demo corpus uses that).
"""

from __future__ import annotations

from pathlib import Path

from .common import AudioFinder, DataError, require_dir, row

LAYOUT = "LJSpeech layout: wavs/<id>.wav + metadata.csv with lines id|text"


def read_ljspeech(root: Path) -> list[dict]:
    require_dir(root, LAYOUT)
    if (root / "metadata.csv").is_file():
        folders = [root]
    else:
        folders = [d for d in sorted(root.iterdir()) if (d / "metadata.csv").is_file()]
    if not folders:
        raise DataError(f"no metadata.csv in {root} or its subfolders; expected the {LAYOUT}")
    finder = AudioFinder(root)
    return [r for folder in folders for r in _read_folder(folder, finder)]


def _read_folder(folder: Path, finder: AudioFinder) -> list[dict]:
    raw = (folder / "metadata.csv").read_bytes()
    rows = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            text_line = line.decode("utf-8")
        except UnicodeDecodeError:
            clip_id = line.split(b"|", 1)[0].decode("utf-8", "replace")
            audio, problem = finder.find(folder / "wavs", clip_id)
            rows.append(row(clip_id, folder.name, None, audio, problem or
                            f"line {number} of {folder / 'metadata.csv'} is not UTF-8; re-save it as UTF-8"))
            continue
        # LJSpeech transcripts contain bare quotes: split on "|" only, never parse as CSV.
        fields = text_line.split("|")
        audio, problem = finder.find(folder / "wavs", fields[0])
        if len(fields) < 2 and not problem:
            problem = (f"malformed row: line {number} of {folder / 'metadata.csv'} has one field "
                       f"({text_line.strip()[:40]!r}); expected id|text")
        text = fields[2] if len(fields) > 2 and fields[2].strip() else (fields[1] if len(fields) > 1 else "")
        rows.append(row(fields[0], folder.name, None if problem else text, audio, problem))
    return rows
