"""VCTK 0.92: wav48_silence_trimmed/<spk>/<spk>_<utt>_mic1.flac + txt/<spk>/<spk>_<utt>.txt.

Every utterance was recorded with two microphones; only mic1 is read, because mixing the two
would give each sentence twice with different colouring. The release is uneven: p315 has audio
but no transcripts at all, and a few transcripts have no audio. Both become rows (the first with
a problem, the second for decoding to report as missing), never a crash and never a silent gap.
"""

from __future__ import annotations

from pathlib import Path

from .common import DataError, read_transcript, require_dir, row

LAYOUT = "VCTK 0.92 layout: wav48_silence_trimmed/<spk>/<spk>_<utt>_mic1.flac + txt/<spk>/<spk>_<utt>.txt"
MIC = "_mic1"


def read_vctk(root: Path) -> list[dict]:
    require_dir(root, LAYOUT)
    wav_dir, txt_dir = root / "wav48_silence_trimmed", root / "txt"
    audio = {p.name.removesuffix(f"{MIC}.flac"): p for p in wav_dir.glob(f"*/*{MIC}.flac")}
    if not audio:
        older = "; wav48/ is the older VCTK 0.80 release, get 0.92" if (root / "wav48").is_dir() else ""
        raise DataError(f"no *{MIC}.flac files under {wav_dir}; expected the {LAYOUT}{older}")
    transcripts = {p.stem: p for p in txt_dir.glob("*/*.txt")}
    rows = []
    for clip_id in audio.keys() | transcripts.keys():
        speaker = (audio.get(clip_id) or transcripts[clip_id]).parent.name
        path = audio.get(clip_id, wav_dir / speaker / f"{clip_id}{MIC}.flac")
        text, problem = read_transcript(transcripts.get(clip_id, txt_dir / speaker / f"{clip_id}.txt"))
        rows.append(row(clip_id, speaker, text, path, problem))
    return sorted(rows, key=lambda r: (r["speaker"], r["id"]))
