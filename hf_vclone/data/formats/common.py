"""Small helpers every reader shares."""

from __future__ import annotations

from pathlib import Path

from ...errors import UserError


class DataError(UserError):
    """The data cannot be used as configured; the message names the path and the fix."""


def row(clip_id: str, speaker: str, text: str | None, audio: Path | str, problem: str = "") -> dict:
    return {"id": clip_id, "speaker": speaker, "text": text, "audio": str(audio), "problem": problem}


def read_transcript(path: Path) -> tuple[str | None, str]:
    """(text, problem): a transcript file's text, or why it cannot be read."""
    try:
        return path.read_bytes().decode("utf-8").strip(), ""
    except FileNotFoundError:
        return None, f"no transcript: {path} is missing"
    except UnicodeDecodeError as err:
        return None, f"transcript {path} is not UTF-8 ({err.reason} at byte {err.start}); re-save it as UTF-8"


def require_dir(root: Path, layout: str) -> None:
    if not root.is_dir():
        raise DataError(f"data.path {root} is not a directory; expected the {layout}")
