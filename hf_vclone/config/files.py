"""Local files and folders a recipe names, checked before any data is prepared."""

from __future__ import annotations

from pathlib import Path

from .schema import Recipe


def missing_files(r: Recipe) -> list[tuple[tuple[str, ...], str]]:
    """Local files and folders the recipe names, checked now instead of after the data is prepared.
    A value that looks like a Hub id (owner/name) is left to the loader."""
    m, sp, ev = r.model, r.speaker, r.evaluation
    found = [
        ("model.name_or_path", _folder_problem(m.name_or_path, weights=m.init_config is None)),
        ("model.processor", None if m.processor == "build" else _folder_problem(m.processor)),
        ("model.vocoder", _folder_problem(m.vocoder, weights=True)),
        ("model.warm_start", _folder_problem(m.warm_start, weights=True)),
        ("evaluation.speaker_encoder", None if ev.speaker_encoder == "offline" else _folder_problem(ev.speaker_encoder)),
        ("evaluation.asr_model", _folder_problem(ev.asr_model)),
        ("vits.discriminator", _path_problem(r.vits.discriminator, "an hf_vclone voice folder, a finetune-hf-vits "
                                             "model folder or an original VITS D_*.pth")),
        ("speaker.path", _file_problem(sp.path, ".npy file with one speaker vector")),
        ("speaker.init", None if sp.init in ("base_mean", "random") else
         _file_problem(sp.init, ".npy file with one speaker vector, or base_mean or random")),
        ("output.dir", _output_problem(r.output.dir)),
    ]
    return [((key,), f"{key}: {problem}") for key, problem in found if problem]


# What `from_pretrained(..., use_safetensors=True)` can load from a folder (a peft adapter folder names its base).
SAFETENSORS_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors")


def _looks_local(name: str) -> bool:
    """The loader's rule (models/loading.py): an existing path, or one that cannot be a Hub id."""
    return Path(name).expanduser().exists() or name.startswith((".", "/", "~")) or name.count("/") > 1


def _folder_problem(name: str | None, weights: bool = False) -> str | None:
    if not name or not _looks_local(name):
        return None
    folder = Path(name).expanduser()
    if not folder.is_dir():
        return f"{name} is not a directory; give a folder written by save_pretrained, or a Hub id like owner/name"
    if weights and not any((folder / file).is_file() for file in SAFETENSORS_WEIGHTS):
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt", ".pkl"))
        if pickles:
            return (f"{name} has weights only in {', '.join(pickles)}; hf_vclone loads weights only from .safetensors "
                    "(a pickle can run code when loaded): convert with `model.save_pretrained(dir)` in a session you trust")
        return f"{name} holds no .safetensors weights; give a folder written by save_pretrained"
    return None


def _path_problem(name: str | None, what: str) -> str | None:
    """As _folder_problem: a name like owner/name is left alone here (a recipe may name a folder an
    earlier step writes, e.g. recipes/vits_demo.yaml); the reader names it if it is still missing."""
    if name is None or not _looks_local(name) or Path(name).expanduser().exists():
        return None
    return f"{name} does not exist; give {what}"


def _file_problem(name: str | None, what: str) -> str | None:
    if name is None or Path(name).expanduser().is_file():
        return None
    return f"{name} is not a file; give an {what}"


def _output_problem(name: str) -> str | None:
    """The run's folder must be creatable: neither it nor a parent may be an existing file."""
    path = Path(name).expanduser()
    blocker = next((p for p in (path, *path.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        return f"{name} cannot be a folder: {blocker} is a file; choose another output.dir"
    return None
