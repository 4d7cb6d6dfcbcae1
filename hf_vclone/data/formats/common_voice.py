"""Mozilla Common Voice: clips/<name>.mp3 + validated.tsv (client_id, path, sentence, ...).

validated.tsv is tab-separated with a header; releases add columns over time (sentence_id,
locale, ...), so columns are found by name. Sentences contain bare quotes, hence QUOTE_NONE.
The speaker is `client_id` (an anonymous hash per contributor).
"""

from __future__ import annotations

import csv
from pathlib import Path

from .common import DataError, require_dir, row

LAYOUT = "Common Voice layout: clips/<name>.mp3 + validated.tsv with columns client_id, path, sentence"
TSV = "validated.tsv"
REQUIRED = ("client_id", "path", "sentence")


def read_common_voice(root: Path) -> list[dict]:
    require_dir(root, LAYOUT)
    tsv = root / TSV
    if not tsv.is_file():
        raise DataError(f"{tsv} does not exist; expected the {LAYOUT}")
    lines = tsv.read_bytes().splitlines()
    columns = _header(tsv, lines[0] if lines else b"")
    rows = []
    for number, line in enumerate(lines[1:], 2):
        if line.strip():
            rows.append(_read_line(root, tsv, number, line, columns))
    return sorted(rows, key=lambda r: (r["speaker"], r["id"]))


def _header(tsv: Path, line: bytes) -> dict[str, int]:
    try:
        names = _split(line.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise DataError(f"the header line of {tsv} is not UTF-8; re-save it as UTF-8") from None
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise DataError(
            f"{tsv} has no column {', '.join(repr(c) for c in missing)}; found {names}. "
            f"Common Voice's validated.tsv needs {', '.join(REQUIRED)}"
        )
    return {name: i for i, name in enumerate(names)}


def _read_line(root: Path, tsv: Path, number: int, line: bytes, columns: dict[str, int]) -> dict:
    """One clip; a line that cannot be used still becomes a row, with the reason."""
    where = f"line {number} of {tsv}"
    try:
        fields = _split(line.decode("utf-8"))
        problem = ""
    except UnicodeDecodeError:
        fields = _split(line.decode("utf-8", "replace"))
        problem = f"{where} is not UTF-8; re-save it as UTF-8"

    def get(name: str) -> str:
        i = columns[name]
        return fields[i] if i < len(fields) else ""

    name, speaker = get("path"), get("client_id")
    clip_id = Path(name).stem or f"{TSV}:{number}"
    if not problem and len(fields) < len(columns):
        problem = f"{where} has {len(fields)} fields but the header has {len(columns)}; fix its tabs"
    elif not problem and (name in ("", "..") or Path(name).name != name):
        # A tsv names files inside clips/; anything else would read outside the corpus.
        return row(clip_id, speaker, None, "", f"{where}: path {name!r} is not a file name inside {root / 'clips'}")
    text = None if problem else get("sentence")
    return row(clip_id, speaker, text, root / "clips" / name, problem)


def _split(line: str) -> list[str]:
    return next(csv.reader([line], delimiter="\t", quoting=csv.QUOTE_NONE))
