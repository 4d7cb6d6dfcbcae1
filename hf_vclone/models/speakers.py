"""Speaker embeddings as a small module of the voice model.

SpeechT5 is conditioned on a 512-d speaker vector. Holding the vectors in an `nn.Embedding`-like
table inside the model (instead of feeding them with each batch) means a *learned* voice trains
through the same optimizer, DDP gradient reduction and checkpoints as every other weight.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..config import SpeakerConfig
from ..errors import UserError

FILE_NAME = "speaker_embeddings.safetensors"


class SpeakerTable(nn.Module):
    def __init__(self, names: list[str], vectors: torch.Tensor, trainable: bool) -> None:
        super().__init__()
        if len(names) != vectors.shape[0]:
            raise ValueError(f"{len(names)} speaker names for {vectors.shape[0]} vectors")
        self.names = list(names)
        self.vectors = nn.Parameter(vectors.float().clone(), requires_grad=trainable)

    def forward(self, speaker_ids: torch.Tensor) -> torch.Tensor:
        return self.vectors[speaker_ids]

    def vector(self, name: str | None = None) -> torch.Tensor:
        """One speaker's vector by name; the first speaker when no name is given."""
        if name is None:
            return self.vectors[0]
        if name not in self.names:
            raise UserError(f"unknown speaker '{name}'; this voice has: {', '.join(self.names)}")
        return self.vectors[self.names.index(name)]

    def save(self, directory: str | Path) -> None:
        tensors = {name: self.vectors[i].detach().float().contiguous() for i, name in enumerate(self.names)}
        save_file(tensors, str(Path(directory) / FILE_NAME), metadata={"order": "\n".join(self.names)})

    @classmethod
    def load(cls, directory: str | Path, trainable: bool = False) -> "SpeakerTable":
        path = Path(directory) / FILE_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; a saved voice keeps its speaker vectors there")
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            order = (f.metadata() or {}).get("order", "").split("\n")
        names = [n for n in order if n in tensors] or sorted(tensors)
        return cls(names, torch.stack([tensors[n] for n in names]), trainable)


def random_unit_vector(key: str, dim: int) -> torch.Tensor:
    """A fixed pseudo-random direction per name: stable across runs, machines and processes."""
    gen = torch.Generator().manual_seed(zlib.crc32(key.encode("utf-8")))
    vec = torch.randn(dim, generator=gen)
    return vec / vec.norm()


def build_speakers(cfg: SpeakerConfig, speakers: list[str], dim: int, base_dir: str | None) -> SpeakerTable:
    """The speaker table a run starts from, per `speaker.mode` (see SpeakerConfig)."""
    if cfg.mode == "per_speaker":
        return SpeakerTable(speakers, torch.stack([random_unit_vector(s, dim) for s in speakers]), False)
    if len(speakers) != 1:
        raise UserError(
            f"speaker.mode={cfg.mode} clones one voice, but the data has {len(speakers)} speakers "
            f"({', '.join(speakers)}); select one with data.speaker or use speaker.mode=per_speaker"
        )
    if cfg.mode == "file":
        if not cfg.path:
            raise UserError("speaker.mode=file needs speaker.path, an .npy file with one vector")
        return SpeakerTable(speakers, _load_npy(cfg.path, dim)[None], False)
    return SpeakerTable(speakers, _initial_vector(cfg.init, speakers[0], dim, base_dir)[None], True)


def _initial_vector(init: str, speaker: str, dim: int, base_dir: str | None) -> torch.Tensor:
    if init == "random":
        return random_unit_vector(speaker, dim)
    if init == "base_mean":
        # Start from the centre of the voices the base knows: every one of them is a plausible
        # direction for the prenet, unlike a random vector, so early steps are spent on the voice.
        if base_dir is None or not (Path(base_dir) / FILE_NAME).is_file():
            return random_unit_vector(speaker, dim)
        table = SpeakerTable.load(base_dir)
        mean = nn.functional.normalize(table.vectors.detach(), dim=-1).mean(0)
        return mean / mean.norm()
    return _load_npy(init, dim)


def _load_npy(path: str, dim: int) -> torch.Tensor:
    if not Path(path).is_file():
        raise FileNotFoundError(f"speaker vector file {path} does not exist")
    vec = torch.from_numpy(np.load(path).astype(np.float32)).reshape(-1)
    if vec.numel() != dim:
        raise UserError(f"speaker vector {path} has {vec.numel()} values; the model expects {dim}")
    return vec
