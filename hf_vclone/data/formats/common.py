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


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def escape_problem(root: Path, named: str, path: Path) -> str:
    """The problem for a path that leaves the data root (`..`, an absolute path, a symlink out),
    or "" when it stays inside. Such a path is reported, never opened."""
    resolved, base = path.resolve(), root.resolve()
    if resolved == base or base in resolved.parents:
        return ""
    return (f"path escapes the data root: {named!r} resolves to {resolved}, outside {base}; "
            "name only files inside the data folder")


class AudioFinder:
    """Finds the audio of a clip id in a folder, in any supported container and extension case.

    Why: corpora in LJSpeech layout are often re-encoded (`wavs/<id>.flac`, `.ogg`) or copied from
    systems that upper-case extensions (`.WAV`); looking only for `<id>.wav` lost such clips as
    "file not found". Each folder is listed once, so a 13,100-clip corpus costs one listing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._folders: dict[Path, dict[str, list[Path]]] = {}

    def find(self, folder: Path, clip_id: str, usual: str = ".wav") -> tuple[Path | str, str]:
        """(path, problem). An id that would leave the data root gives ("", why); two files for
        one id give ("", "ambiguous audio: ..."); no file gives the usual path, for decoding to
        report as not found."""
        expected = folder / f"{clip_id}{usual}"
        problem = escape_problem(self.root, clip_id, folder / clip_id)
        if problem or not clip_id.strip():
            return "", problem or f"empty id: {folder} has a row without a clip id"
        matches = self._listing(expected.parent).get(Path(clip_id).name, [])
        if len(matches) > 1:
            names = ", ".join(p.name for p in matches)
            return "", f"ambiguous audio: {names} in {expected.parent} are all clip {clip_id!r}; keep one"
        if matches:
            problem = escape_problem(self.root, str(matches[0]), matches[0])
            return ("" if problem else matches[0]), problem
        return expected, ""

    def _listing(self, folder: Path) -> dict[str, list[Path]]:
        if folder not in self._folders:
            found: dict[str, list[Path]] = {}
            if folder.is_dir():
                for path in sorted(folder.iterdir()):
                    if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file():
                        found.setdefault(path.name[: -len(path.suffix)], []).append(path)
            self._folders[folder] = found
        return self._folders[folder]
