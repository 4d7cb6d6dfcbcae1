"""What the listeners hear: the same held-out sentences from every system, under blinded ids.

Each DIR is a folder that evaluation wrote (a trained voice's output folder, or `hf-vclone
evaluate`'s): `metrics.json` lists the held-out sentences and, for each, the real recording and
every system's sample under `samples/`. The systems of a test are the real recordings
(`reference`) and the untouched `base` from the first folder, plus each folder's `fine_tuned`
voice, named after its folder. Only sentences every folder spoke are used, so every system is
rated on the same text.
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError


@dataclass(frozen=True)
class Trial:
    id: str  # blinded: says nothing about the system
    system: str
    sentence: str  # clip id of the held-out sentence
    text: str
    wav: str  # absolute path


def _samples(folder: Path) -> list[dict]:
    metrics = folder / "metrics.json"
    if not metrics.is_file():
        raise UserError(f"{folder}: no metrics.json; give folders written by `hf-vclone train` (with evaluation) "
                        "or `hf-vclone evaluate`")
    samples = json.loads(metrics.read_text(encoding="utf-8")).get("samples") or []
    if not samples:
        raise UserError(f"{metrics} lists no samples; evaluation.num_samples must be above 0")
    return samples


def _names(folders: list[Path]) -> list[str]:
    """Each folder's system name: its own name, or its path where two share a name."""
    names = [f.name for f in folders]
    return [str(f) if names.count(f.name) > 1 else f.name for f in folders]


def design(folders: list[str | Path]) -> list[Trial]:
    """Every system x every shared sentence, each with a fresh blinded id."""
    folders = [Path(f).resolve() for f in folders]
    if not folders:
        raise UserError("listen-test needs at least one folder with evaluation samples")
    per_folder = [{s["id"]: s for s in _samples(f)} for f in folders]
    shared = sorted(set.intersection(*(set(s) for s in per_folder)))
    if not shared:
        raise UserError("the folders share no held-out sentence; evaluate them with the same recipe (data split)")
    trials = []
    for position, (folder, name, samples) in enumerate(zip(folders, _names(folders), per_folder)):
        for clip in shared:
            entry = samples[clip]
            files = {name: entry["fine_tuned"]["wav"]} if "fine_tuned" in entry else {}
            if position == 0:
                files = {"reference": entry["reference_wav"], **({"base": entry["base"]["wav"]} if "base" in entry else {}),
                         **files}
            for system, wav in files.items():
                path = folder / wav
                if not path.is_file():
                    raise UserError(f"{path} is missing; metrics.json in {folder} lists it")
                trials.append(Trial(secrets.token_hex(6), system, clip, entry["text"], str(path)))
    return trials


def order_for(rater: str, trials: list[Trial]) -> list[Trial]:
    """A shuffled order of its own for each listener (the same on every visit), so neither the
    position of a sample nor its neighbours favour one system."""
    ordered = sorted(trials, key=lambda t: t.id)
    random.Random(f"listen-test:{rater}").shuffle(ordered)
    return ordered
