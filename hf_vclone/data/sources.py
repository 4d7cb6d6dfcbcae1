"""Where the clips come from: LJSpeech-style folders, read through `datasets`.

Every source yields the same columns, so everything downstream is source-agnostic:
    id (str), speaker (str), text (str), audio ({"path", "bytes"} via `Audio(decode=False)`)
Audio is not decoded here: datasets decodes only through torchcodec, which has no CPU build
beside torch 2.13 (STACK.md), so `audio.decode` reads the bytes/path with soundfile later.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import UserError
from datasets import Audio, Dataset, Features, Value, concatenate_datasets, load_dataset


class DataError(UserError):
    """The data cannot be used as configured; the message names the path and the fix."""


LJSPEECH_COLUMNS = ["id", "text", "normalized_text"]


def ljspeech_folders(path: str | Path, speakers: list[str] | None, exclude: list[str]) -> dict[str, Path]:
    """One folder with metadata.csv is one speaker; a folder of such folders is many."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"data.path {root} is not a directory; point it at an LJSpeech folder (wavs/ + metadata.csv)")
    if (root / "metadata.csv").is_file():
        found = {root.name: root}
    else:
        found = {d.name: d for d in sorted(root.iterdir()) if (d / "metadata.csv").is_file()}
    if not found:
        raise DataError(
            f"no metadata.csv in {root} or its subfolders; expected the LJSpeech layout "
            "wavs/<id>.wav + metadata.csv with lines id|text"
        )
    if speakers is not None:
        missing = [s for s in speakers if s not in found]
        if missing:
            raise DataError(f"data.speakers {missing} not found in {root}; available: {', '.join(found)}")
        found = {s: found[s] for s in speakers}
    found = {name: d for name, d in found.items() if name not in exclude}
    if not found:
        raise DataError(f"every speaker in {root} was excluded; check data.speakers and data.exclude_speakers")
    return found


def load_ljspeech(path: str | Path, speakers: list[str] | None = None, exclude: list[str] = ()) -> Dataset:
    parts = [_load_speaker(name, folder) for name, folder in ljspeech_folders(path, speakers, list(exclude)).items()]
    return concatenate_datasets(parts).cast_column("audio", Audio(decode=False))


def _load_speaker(name: str, folder: Path) -> Dataset:
    features = Features({c: Value("string") for c in LJSPEECH_COLUMNS})
    table = load_dataset(
        "csv",
        data_files=str(folder / "metadata.csv"),
        split="train",
        sep="|",
        header=None,
        column_names=LJSPEECH_COLUMNS,
        quoting=csv.QUOTE_NONE,  # LJSpeech transcripts contain bare quotes
        keep_default_na=False,  # a transcript that reads "NA" or "null" is still text
        features=features,
    )
    wavs = str(folder / "wavs")

    def locate(row: dict) -> dict:
        return {"speaker": name, "audio": f"{wavs}/{row['id']}.wav", "text": row["text"] or ""}

    return table.map(locate, remove_columns=["normalized_text"], desc=f"index {name}")
