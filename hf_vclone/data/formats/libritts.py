"""LibriTTS (and LibriTTS-R): <speaker>/<chapter>/<id>.wav + <id>.normalized.txt / <id>.original.txt.

The root is one split folder, such as `LibriTTS/train-clean-100`. The normalized transcript is
preferred because it spells out numbers and abbreviations the way they were read; the original
one is the fallback. The per-chapter .book.tsv/.trans.tsv files repeat the same text and are not read.
"""

from __future__ import annotations

from pathlib import Path

from .common import DataError, read_transcript, require_dir, row
from .librispeech import split_hint

LAYOUT = "LibriTTS layout: <speaker>/<chapter>/<id>.wav + <id>.normalized.txt (or <id>.original.txt)"
TRANSCRIPTS = (".normalized.txt", ".original.txt")


def read_libritts(root: Path) -> list[dict]:
    require_dir(root, LAYOUT)
    ids: dict[str, Path] = {}  # clip id -> its chapter folder
    for pattern in ("*.wav", *(f"*{suffix}" for suffix in TRANSCRIPTS)):
        for path in root.glob(f"*/*/{pattern}"):
            ids[path.name.removesuffix(pattern[1:])] = path.parent
    if not ids:
        raise DataError(f"no LibriTTS clips in {root}; expected the {LAYOUT}{split_hint(root, '*.normalized.txt')}")
    rows = []
    for clip_id, chapter in ids.items():
        transcript = _transcript(chapter, clip_id)
        if transcript is None:
            text, problem = None, f"no transcript: neither {clip_id}.normalized.txt nor {clip_id}.original.txt in {chapter}"
        else:
            text, problem = read_transcript(transcript)
        rows.append(row(clip_id, chapter.parent.name, text, chapter / f"{clip_id}.wav", problem))
    return sorted(rows, key=lambda r: (r["speaker"], r["id"]))


def _transcript(chapter: Path, clip_id: str) -> Path | None:
    """The preferred transcript that exists (normalized, then original), or None."""
    candidates = [chapter / f"{clip_id}{suffix}" for suffix in TRANSCRIPTS]
    return next((p for p in candidates if p.is_file()), None)
