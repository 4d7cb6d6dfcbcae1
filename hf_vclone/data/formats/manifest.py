"""A manifest file: .csv (with a header row) or .jsonl, one clip per row.

Columns: `audio` (or `file_name`, the name Hugging Face's audiofolder uses, or `path`) and `text`;
optionally `speaker` (default: the manifest's folder name) and `id` (default: the audio file's stem).
Relative audio paths are relative to the manifest's folder.

A manifest is often written by someone else, so it is not trusted to say where audio lives: a
path that resolves outside the manifest's folder (`../../etc/passwd`, an absolute path elsewhere,
or a symlink pointing out) becomes a problem row with an empty audio path, so nothing later can
read it even if the problem is ignored.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from .common import DataError, escape_problem, row

AUDIO_COLUMNS = ("audio", "file_name", "path")
LAYOUT = "manifest: a .csv (header row) or .jsonl file with columns audio (or file_name / path) and text"

# (where in the file, the record's fields or None, why it cannot be used or "")
Record = tuple[str, dict | None, str]


def read_manifest(path: Path) -> list[dict]:
    if not path.is_file():
        raise DataError(f"data.path {path} is not a file; expected a {LAYOUT}")
    readers = {".csv": _read_csv, ".jsonl": _read_jsonl}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"data.path {path} is neither .csv nor .jsonl; expected a {LAYOUT}")
    columns, records = reader(path)
    audio_column = _check_columns(path, columns)
    base = path.parent.resolve()
    rows = [_to_row(base, where, fields, problem, audio_column) for where, fields, problem in records]
    return sorted(rows, key=lambda r: (r["speaker"], r["id"]))


def _check_columns(path: Path, columns: list[str]) -> str:
    """The audio column's name; a DataError naming everything missing at once."""
    audio = next((c for c in AUDIO_COLUMNS if c in columns), None)
    missing = ([] if audio else [" or ".join(repr(c) for c in AUDIO_COLUMNS)]) + ([] if "text" in columns else ["'text'"])
    if missing:
        raise DataError(
            f"manifest {path} has no column {' and no column '.join(missing)}; found {columns}. "
            f"Add (or rename a column to) {' and '.join(missing)}"
        )
    return audio


def _read_csv(path: Path) -> tuple[list[str], list[Record]]:
    # surrogateescape keeps bad bytes visible per field, so one non-UTF-8 row spoils only itself.
    text = path.read_bytes().decode("utf-8-sig", "surrogateescape")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = list(reader.fieldnames or [])
    records = []
    for fields in reader:
        where = f"line {reader.line_num} of {path}"
        records.append((where, fields, _csv_problem(where, path, fields, len(columns))))
    return columns, records


def _csv_problem(where: str, path: Path, fields: dict, width: int) -> str:
    if None in fields:  # DictReader files surplus fields under the key None
        return f"{where} has more fields than the header ({width}); quote text that contains commas"
    if None in fields.values():
        return f"{where} has fewer fields than the header ({width}); fix its commas"
    if any(_has_bad_bytes(v) for v in fields.values()):
        return f"{where} is not UTF-8; re-save {path.name} as UTF-8"
    return ""


def _read_jsonl(path: Path) -> tuple[list[str], list[Record]]:
    """JSON Lines has no header: the first record's keys stand in for one."""
    records = list(_jsonl_records(path))
    first = next((fields for _, fields, problem in records if not problem), None)
    return list(first or {}), records


def _jsonl_records(path: Path) -> Iterator[Record]:
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        where = f"line {number} of {path}"
        try:
            fields = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            yield where, None, f"{where} is not UTF-8; re-save {path.name} as UTF-8"
            continue
        except json.JSONDecodeError as err:
            yield where, None, f"{where} is not valid JSON ({err.msg}, column {err.colno})"
            continue
        if isinstance(fields, dict):
            yield where, fields, ""
        else:
            yield where, None, f"{where} is a JSON {type(fields).__name__}, not an object with audio and text"


def _to_row(base: Path, where: str, fields: dict | None, problem: str, audio_column: str) -> dict:
    fields = fields or {}
    value = _text(fields.get(audio_column))
    speaker = _text(fields.get("speaker")) or base.name
    clip_id = _text(fields.get("id")) or (Path(value).stem if value else where)
    if problem:
        return row(clip_id, speaker, None, "", problem)
    if not value:
        return row(clip_id, speaker, None, "", f"{where} has no audio path in column '{audio_column}'")
    audio = (base / value).resolve()
    if escaped := escape_problem(base, value, base / value):
        return row(clip_id, speaker, None, "", f"{escaped} ({where})")
    return row(clip_id, speaker, _text(fields.get("text")), audio)


def _text(value: object) -> str | None:
    """JSON values may be numbers (ids, speakers); bad CSV bytes are shown, not kept as surrogates."""
    if value is None:
        return None
    return str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _has_bad_bytes(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)
