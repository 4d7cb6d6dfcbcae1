"""Checkpoints that a crash cannot spoil, and resuming only into the same run.

The Trainer writes a checkpoint file by file (voice, optimizer, scheduler, RNG, state); a kill
half-way leaves a folder that looks like a checkpoint and is not. So a checkpoint counts only
once `checkpoint_complete.json` is in it, written last (after every file is flushed to disk)
and atomically (written aside, then renamed). Older checkpoints are rotated away only after the
new one is complete, so there is always one good checkpoint to resume from.

The marker also holds the run's fingerprint: the settings that must not change across a resume
(gradient accumulation, world size, batch, model, data, strategy). Resuming with different ones
would silently train a different run, so it is refused with the differences named.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from .errors import UserError

logger = logging.getLogger(__name__)

MARKER = "checkpoint_complete.json"
_STEP = re.compile(r"^checkpoint-(\d+)$")


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def mark_complete(folder: str | Path, fingerprint: dict[str, Any]) -> None:
    folder = Path(folder)
    _fsync_tree(folder)
    staged = folder / f".{MARKER}.tmp"
    staged.write_text(json.dumps({"fingerprint": fingerprint}, indent=2, default=str), encoding="utf-8")
    with open(staged, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(staged, folder / MARKER)


def is_complete(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def step_of(folder: Path) -> int:
    match = _STEP.match(folder.name)
    return int(match.group(1)) if match else -1


def checkpoints(output_dir: str | Path) -> list[Path]:
    """Every checkpoint-N folder, complete or not, oldest step first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and step_of(p) >= 0), key=step_of)


def latest_complete(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint; newer incomplete ones (a save that was cut off) are named."""
    found = checkpoints(output_dir)
    complete = [p for p in found if is_complete(p)]
    newest = complete[-1] if complete else None
    cut_off = [p.name for p in found if not is_complete(p) and (newest is None or step_of(p) > step_of(newest))]
    if cut_off:
        logger.warning("ignoring incomplete checkpoint(s) %s (a save was interrupted); resuming from %s",
                       ", ".join(cut_off), newest.name if newest else "the start")
    return newest


def resolve_resume(value: Any, output_dir: str | Path) -> Path | None:
    """`training.resume_from_checkpoint`: a folder, or true / "latest" for the newest complete one."""
    if value in (None, False, "", "false", "False"):
        return None
    if value is True or str(value).lower() in ("true", "latest"):
        found = latest_complete(output_dir)
        if found is None:
            raise UserError(f"training.resume_from_checkpoint={value}: {output_dir} has no complete checkpoint; "
                            "remove the setting to start fresh")
        return found
    folder = Path(str(value))
    if not folder.is_dir():
        raise UserError(f"training.resume_from_checkpoint: {folder} does not exist; give a checkpoint-N folder "
                        "or `latest`")
    if not is_complete(folder):
        raise UserError(f"training.resume_from_checkpoint: {folder} is incomplete (its save was interrupted); "
                        "use `latest` for the newest complete checkpoint")
    return folder


def check_fingerprint(folder: Path, current: dict[str, Any]) -> None:
    saved = json.loads((folder / MARKER).read_text(encoding="utf-8"))["fingerprint"]
    current = json.loads(json.dumps(current, default=str))  # the same JSON types as the saved one
    changed = [f"{key} was {saved.get(key)!r}, now {current.get(key)!r}"
               for key in sorted(set(saved) | set(current)) if saved.get(key) != current.get(key)]
    if changed:
        raise UserError(f"cannot resume from {folder}: " + "; ".join(changed)
                        + ". Resume with the settings it was saved with, or start a fresh output.dir")


def rotate(output_dir: str | Path, limit: int | None, keep: str | None = None) -> None:
    """Keep the newest `limit` complete checkpoints (and `keep`, the best one); drop incomplete
    ones older than the newest complete one. Runs only after a new checkpoint is complete."""
    found = checkpoints(output_dir)
    complete = [p for p in found if is_complete(p)]
    if not complete:
        return
    newest = step_of(complete[-1])
    doomed = [p for p in found if not is_complete(p) and step_of(p) < newest]
    if limit:
        kept = set(complete[-limit:])
        if keep:
            kept.add(Path(keep))
        doomed += [p for p in complete if p not in kept and str(p) != str(keep)]
    for folder in doomed:
        # The marker goes first: a kill during the delete leaves an incomplete folder, never a
        # half-deleted one that still claims to be complete.
        (folder / MARKER).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
