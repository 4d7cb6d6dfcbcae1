"""A fine-tuned voice on disk: writing it, its metadata, and its weights back into a built voice, in the `save_pretrained` layout, and back.

    <dir>/config.json + model.safetensors            (full / freeze_lower: a complete model)
    <dir>/adapter_config.json + adapter_model.safetensors   (lora: peft adapter; records its base)
    <dir>/tokenizer + feature extractor files         (processor.save_pretrained)
    <dir>/speaker_embeddings.safetensors              (name -> speaker vector)
    <dir>/vclone.json                                 (backend, base model, vocoder, strategy)

The model part loads with plain transformers/peft (`from_pretrained`, `PeftModel.from_pretrained`,
`model.load_adapter`); vclone.json only adds what those cannot know, such as the vocoder.
The trainer and export.py (reading a whole voice back, merging) both use this module; it needs no
backend, so the backends' trainers can import it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel, set_peft_model_state_dict
from safetensors.torch import load_file
from torch import nn

from .models.speakers import SpeakerTable
from .sharding import promoted_scalars, restore_scalar_shapes

META_FILE = "vclone.json"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class VoiceMeta:
    backend: str
    base_model: str | None  # what an adapter applies to; the model's origin for full models
    strategy: str
    vocoder: str | None = None
    extra: dict = field(default_factory=dict)
    adapter: bool | None = None  # None: decided by the strategy (lora saves an adapter)

    @property
    def is_adapter(self) -> bool:
        return self.strategy == "lora" if self.adapter is None else self.adapter


def save_voice(voice: nn.Module, processor: Any, directory: str | Path, meta: VoiceMeta, dtype: str = "float32",
               state_dict: dict[str, torch.Tensor] | None = None) -> Path:
    """Write `voice` as a voice folder. `state_dict`: the voice's full (gathered) state dict, keys
    `tts.*` and `speakers.vectors`, to save instead of the module's own tensors, which under FSDP
    are shards (`accelerator.get_state_dict` gathers them, a collective every rank must call)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tts = voice.tts
    scalars = promoted_scalars(voice, "tts.")  # made 1-d for sharded training (sharding.py); saved 0-d
    state = None
    if state_dict is not None:
        state = {k[len("tts."):]: v for k, v in state_dict.items() if k.startswith("tts.")}
    elif scalars:
        state = tts.state_dict()
    if state is not None:
        state = restore_scalar_shapes(state, scalars)
    if isinstance(tts, PeftModel):
        # peft picks the adapter's tensors out of a full state dict, as it does from its own
        tts.save_pretrained(str(directory), **({} if state is None else {"state_dict": state}))
    else:
        state = {k: v.detach().to(DTYPES[dtype]) for k, v in (tts.state_dict() if state is None else state).items()}
        tts.save_pretrained(str(directory), state_dict=state)
    processor.save_pretrained(str(directory))
    if state_dict is not None:
        SpeakerTable(voice.speakers.names, state_dict["speakers.vectors"], False).save(directory)
    else:
        voice.speakers.save(directory)
    record = {"backend": meta.backend, "base_model": meta.base_model, "strategy": meta.strategy,
              "adapter": isinstance(tts, PeftModel), "vocoder": meta.vocoder, "speakers": voice.speakers.names,
              **meta.extra}
    settings = getattr(voice, "settings", None)
    if is_dataclass(settings):  # what the backend was built with, for read_voice to rebuild it alike
        record["backend_settings"] = asdict(settings)
    (directory / META_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return directory


def read_meta(directory: str | Path) -> VoiceMeta:
    path = Path(directory) / META_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: {directory} is not a voice saved by hf_vclone")
    raw = json.loads(path.read_text(encoding="utf-8"))
    known = {"backend", "base_model", "strategy", "vocoder", "adapter"}
    extra = {k: v for k, v in raw.items() if k not in known | {"speakers"}}
    return VoiceMeta(raw["backend"], raw.get("base_model"), raw["strategy"], raw.get("vocoder"), extra,
                     raw.get("adapter"))


def load_voice_weights(voice: nn.Module, directory: str | Path) -> None:
    """Restore trained weights into an already-built voice (Trainer resume)."""
    directory = Path(directory)
    tts = voice.tts
    if isinstance(tts, PeftModel):
        set_peft_model_state_dict(tts, load_file(str(directory / "adapter_model.safetensors")))
    else:
        state = load_file(str(directory / "model.safetensors"))
        scalars = promoted_scalars(voice, "tts.")  # saved 0-d, trained 1-d under sharding (sharding.py)
        tts.load_state_dict({k: v.float().reshape(1) if k in scalars else v.float() for k, v in state.items()},
                            strict=True)
    speakers = SpeakerTable.load(directory)
    with torch.no_grad():
        voice.speakers.vectors.copy_(speakers.vectors)
