"""Other real voices reading the held-out sentences: how close is "close" to the target?

An MCD of 39 dB or a similarity of 0.9 means little on its own: the scale depends on the
features, the speaker encoder and the voices. The honest yardstick is another real person (or,
offline, another espeak-ng voice) reading the very same sentences. `evaluation.other_voices`
names a folder of such recordings, one subfolder per voice:

    <other_voices>/<voice>/wavs/<held-out clip id>.<wav|flac|ogg|mp3>

(the demo corpus writes one at `<corpus>/same_text/<target>`). Each voice is scored like a
system, and the nearest of them (lowest MCD) is the bar a clone should pass.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import UserError

KEY = "evaluation.other_voices"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")

Recording = Callable[[dict], np.ndarray]  # dataset-style row {"audio": {"path", "bytes"}} -> cleaned waveform
Featurize = Callable[[np.ndarray, str], np.ndarray]  # (waveform, text) -> log-mel, as the model's targets


def voice_folders(root: str | Path) -> dict[str, Path]:
    """Every subfolder with a `wavs/` folder, by name; an empty or missing root is an error."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"{KEY}: {root} is not a folder; give a folder of <voice>/wavs/<clip id>.wav recordings "
                        "of the held-out sentences, or remove the key")
    folders = {d.name: d for d in sorted(root.iterdir()) if (d / "wavs").is_dir()}
    if not folders:
        raise UserError(f"{KEY}: {root} has no <voice>/wavs/ subfolder; expected <voice>/wavs/<clip id>.wav")
    return folders


def find_recording(folder: Path, clip_id: str) -> Path:
    """`wavs/<clip_id>` in any supported container and extension case; never outside `wavs/`."""
    wavs = folder / "wavs"
    matches = [p for p in wavs.iterdir() if p.stem == clip_id and p.suffix.lower() in AUDIO_SUFFIXES]
    if not matches:
        raise UserError(f"{KEY}: {wavs / (clip_id + '.wav')} is missing: voice '{folder.name}' must read every "
                        f"held-out sentence (clip ids as in the target's data)")
    if len(matches) > 1:
        raise UserError(f"{KEY}: {', '.join(str(p) for p in matches)}: two recordings of one clip; keep one")
    return matches[0]


def other_voice_systems(root: str | Path, ids: list[str], texts: list[str], recording: Recording,
                        featurize: Featurize) -> dict[str, Callable[[str], tuple[np.ndarray, np.ndarray]]]:
    """Each other voice as a "system" for `compare_systems`: text -> (log-mel, waveform) of its real
    recording of that held-out sentence, cleaned and featurised exactly like the target's."""
    systems = {}
    for name, folder in voice_folders(root).items():
        spoken = {}
        for clip_id, text in zip(ids, texts):
            wave = recording({"audio": {"path": str(find_recording(folder, clip_id)), "bytes": None}})
            spoken[text] = (np.asarray(featurize(wave, text), np.float32), wave)
        systems[name] = spoken.__getitem__
    return systems


def nearest(summaries: dict[str, dict]) -> str | None:
    """The other voice with the lowest MCD to the target (None when no MCD could be measured)."""
    scored = {name: s["mcd"] for name, s in summaries.items() if s.get("mcd") is not None}
    return min(scored, key=scored.get) if scored else None
