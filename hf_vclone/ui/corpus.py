"""Uploaded or recorded clips + their transcripts -> an LJSpeech folder the recipes read.

The page adds nothing of its own to the data path: it writes the clips in the LJSpeech layout
(`wavs/<id>.wav`, `metadata.csv` with `id|text`) and the same preparation as `hf-vclone prepare`
checks them. Problems that stop a clip from being written at all (a file no decoder can read, a
clip without a transcript) are reported here, by file name, before anything else runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from ..data.audio import ClipError, decode
from ..errors import UserError


@dataclass(frozen=True)
class Clip:
    source: Path  # the uploaded or recorded file
    text: str


def parse_transcripts(files: list[Path], transcripts: str) -> list[Clip]:
    """Pair files with transcripts: `name|text` lines (name with or without its extension), or,
    with no `|` anywhere, one line per file in upload order."""
    lines = [line.strip() for line in transcripts.splitlines() if line.strip()]
    if not files:
        raise UserError("no clips: upload audio files or record one")
    if lines and all("|" not in line for line in lines):
        if len(lines) != len(files):
            raise UserError(f"{len(files)} clips but {len(lines)} transcript lines; give one line per clip, "
                            "or `file name|text` lines")
        return [Clip(f, text) for f, text in zip(files, lines)]
    by_name: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        name, _, text = line.partition("|")
        if not name.strip():
            raise UserError(f"transcript line {number} has no file name before '|'")
        by_name[name.strip()] = text.strip()
    clips = []
    for f in files:
        text = by_name.get(f.name, by_name.get(f.stem))
        if text is None:
            raise UserError(f"{f.name}: no transcript; add a line `{f.name}|what is said in it`")
        clips.append(Clip(f, text))
    known = {f.name for f in files} | {f.stem for f in files}
    if stray := sorted(set(by_name) - known):
        raise UserError(f"transcripts for files that were not uploaded: {', '.join(stray)}")
    return clips


def write_corpus(clips: list[Clip], folder: Path) -> Path:
    """Decode every clip (so a non-audio file fails here, named) and write the LJSpeech folder."""
    for clip in clips:
        if not clip.text.strip():
            raise UserError(f"{clip.source.name}: the transcript is empty; type what is said in the clip")
        if "|" in clip.text or "\n" in clip.text:
            raise UserError(f"{clip.source.name}: a transcript cannot contain '|' or a line break")
    wavs = folder / "wavs"
    wavs.mkdir(parents=True, exist_ok=True)
    lines, used = [], set()
    for clip in clips:
        try:
            wave, rate = decode(str(clip.source))
        except ClipError as err:
            raise UserError(f"{clip.source.name}: not audio that can be read ({err}); upload wav, flac, ogg or mp3") from None
        clip_id = _unique(re.sub(r"[^A-Za-z0-9_-]+", "_", clip.source.stem) or "clip", used)
        sf.write(str(wavs / f"{clip_id}.wav"), wave, rate)
        lines.append(f"{clip_id}|{clip.text.strip()}")
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@dataclass
class SlicedRecordings:
    """Long recordings cut into clips by `hf-vclone dataset`'s builder, ready for the Data tab:
    the clip files to upload and one editable `file name|transcript` line each."""

    summary: str
    files: list[str]
    transcripts: str
    review: list[list]  # clip, source, start, end, transcript, flag


def slice_recordings(recordings: list[Path], folder: Path, language: str | None = "en") -> SlicedRecordings:
    from ..dataset_builder import BuildOptions, build_dataset, read_review

    if not recordings:
        raise UserError("no recordings: upload one or more long recordings first")
    report = build_dataset(recordings, folder, BuildOptions(language=language))
    rows = read_review(folder)
    heard = [r for r in rows if r["text"]]
    skipped = "".join(f" {Path(k).name}: {v}." for k, v in report.skipped_sources.items())
    return SlicedRecordings(
        summary=f"{report.summary()}.{skipped} Edit the transcripts below if Whisper misheard, then check the data.",
        files=[str(folder / "wavs" / f"{r['id']}.wav") for r in heard],
        transcripts="\n".join(f"{r['id']}.wav|{r['text']}" for r in heard),
        review=[[r["id"], Path(r["source"]).name, r["start"], r["end"], r["text"], r["flag"]] for r in rows],
    )


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}_{n}"
    used.add(candidate)
    return candidate
