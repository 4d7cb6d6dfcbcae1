"""LibriSpeech: <speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac + <speaker>-<chapter>.trans.txt.

The root is the folder that holds the speaker folders, i.e. one split such as
`LibriSpeech/train-clean-100`. Each chapter's transcript file has one line per utterance,
`<speaker>-<chapter>-<utt> TRANSCRIPT IN CAPS`. Audio and transcript lines are matched both ways:
a FLAC with no line becomes a problem row, and a line with no FLAC still becomes a row, so that
decoding reports the missing file instead of the clip vanishing.
"""

from __future__ import annotations

from pathlib import Path

from .common import DataError, require_dir, row

LAYOUT = (
    "LibriSpeech layout: <speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac "
    "+ <speaker>/<chapter>/<speaker>-<chapter>.trans.txt"
)


def read_librispeech(root: Path) -> list[dict]:
    require_dir(root, LAYOUT)
    chapters = sorted({p.parent for p in [*root.glob("*/*/*.flac"), *root.glob("*/*/*.trans.txt")]})
    if not chapters:
        raise DataError(f"no LibriSpeech chapters in {root}; expected the {LAYOUT}{split_hint(root, '*.trans.txt')}")
    rows = [r for chapter in chapters for r in _read_chapter(chapter)]
    return sorted(rows, key=lambda r: (r["speaker"], r["id"]))


def split_hint(root: Path, marker: str) -> str:
    """Pointing at the corpus folder instead of one split is the usual mistake: name the splits."""
    splits = sorted({p.parents[2].name for p in root.glob(f"*/*/*/{marker}")})
    if not splits:
        return ""
    return f"; {root} looks like the corpus folder: set data.path to one split inside it ({', '.join(splits)})"


def _read_chapter(chapter: Path) -> list[dict]:
    speaker = chapter.parent.name
    trans = chapter / f"{speaker}-{chapter.name}.trans.txt"
    texts, problems = _read_trans(trans) if trans.is_file() else ({}, {})
    audio = {p.stem: p for p in chapter.glob("*.flac")}
    rows = []
    for clip_id in sorted(audio.keys() | texts.keys() | problems.keys()):
        path = audio.get(clip_id, chapter / f"{clip_id}.flac")
        if clip_id in problems:
            rows.append(row(clip_id, speaker, None, path, problems[clip_id]))
        elif clip_id in texts:
            rows.append(row(clip_id, speaker, texts[clip_id], path))
        elif trans.is_file():
            rows.append(row(clip_id, speaker, None, path, f"no transcript: {path.name} has no line in {trans}"))
        else:
            rows.append(row(clip_id, speaker, None, path, f"no transcript: {trans} is missing"))
    return rows


def _read_trans(trans: Path) -> tuple[dict[str, str], dict[str, str]]:
    """({id: text}, {id: problem}); decoded line by line so one bad line spoils only its clip."""
    texts, problems = {}, {}
    for number, line in enumerate(trans.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        clip_id = line.split(maxsplit=1)[0].decode("utf-8", "replace")
        try:
            parts = line.decode("utf-8").split(maxsplit=1)
        except UnicodeDecodeError:
            problems[clip_id] = f"line {number} of {trans} is not UTF-8; re-save it as UTF-8"
            continue
        texts[clip_id] = parts[1].strip() if len(parts) > 1 else ""
    return texts, problems
