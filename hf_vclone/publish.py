"""Publish a voice to the Hugging Face Hub: weights or adapter, processor, speaker vectors,
vclone.json (which vocoder), evaluation and the model card, in one commit.

The token is whatever huggingface_hub finds (HF_TOKEN, or `hf auth login`'s stored token). It
is never passed around, printed or written here: a voice folder is something people share.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, get_token
from huggingface_hub.errors import HfHubHTTPError

from .errors import UserError
from .export import merge_voice
from .voice_io import read_meta
from .model_card import build_card, looks_like_hub_id

logger = logging.getLogger(__name__)

# Training by-products that stay on the machine: they are large, or say nothing about the voice.
_KEEP_LOCAL = {"README.md", "training_args.json", "skipped.csv"}
_SHARED_FOLDERS = {"samples"}  # report.md links to these
# What a voice folder holds beside the model itself: kept through a merge.
_EXTRAS = {"metrics.json", "report.md", "spectrograms.png", "alignments.png", "loss_curve.png", "recipe.yaml",
           "data_card.md", "durations.png"}


def files_to_upload(directory: Path) -> dict[str, Path]:
    """path in repo -> local file: the voice, its evaluation and its samples; no checkpoints or logs."""
    files = {p.name: p for p in directory.iterdir() if p.is_file() and p.name not in _KEEP_LOCAL}
    for folder in _SHARED_FOLDERS:
        if (directory / folder).is_dir():
            files |= {f"{folder}/{p.name}": p for p in sorted((directory / folder).iterdir()) if p.is_file()}
    return files


def copy_extras(source: Path, target: Path) -> None:
    """Evaluation, samples and recipe of `source` into a re-written voice folder (a merge)."""
    for name, path in files_to_upload(source).items():
        if name in _EXTRAS or name.split("/")[0] in _SHARED_FOLDERS:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(path.read_bytes())


def push_voice(directory: str | Path, repo_id: str, private: bool = True, adapter_only: bool = True,
               commit_message: str = "Upload voice fine-tuned with hf_vclone") -> str:
    """Create (or update) `repo_id` with the voice in `directory`; returns the commit URL.

    A LoRA voice goes up as its adapter when `adapter_only`, else merged into a full model."""
    directory = Path(directory)
    meta = read_meta(directory)
    if get_token() is None:
        raise UserError("no Hugging Face token: set HF_TOKEN or run `hf auth login`, then push again")
    with tempfile.TemporaryDirectory() as scratch:
        source = directory
        if meta.is_adapter and not adapter_only:
            source = merge_voice(directory, Path(scratch) / "merged")
            copy_extras(directory, source)
            meta = read_meta(source)
        if meta.is_adapter and not looks_like_hub_id(meta.base_model):
            logger.warning("the adapter's base model %s is a local folder: others can load this voice only with "
                           "that base; push the base too, or push merged (adapter_only: false / --merge)",
                           meta.base_model)
        card = str(build_card(source, repo_id)).encode("utf-8")
        operations = [CommitOperationAdd(name, str(path)) for name, path in files_to_upload(source).items()]
        operations.append(CommitOperationAdd("README.md", card))
        api = HfApi()
        try:
            api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            commit = api.create_commit(repo_id, operations, commit_message=commit_message, repo_type="model")
        except HfHubHTTPError as err:
            raise UserError(f"push to {repo_id} failed: {err}") from None
    print(f"pushed {directory} to {repo_id} ({'private' if private else 'public'}): {commit.commit_url}")
    return commit.commit_url
