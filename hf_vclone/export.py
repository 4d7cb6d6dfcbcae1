"""A saved voice read back whole (its backend rebuilt from the settings it was trained with), and a
LoRA voice merged into a plain model. Writing voices and their metadata is voice_io.py's job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from peft import PeftModel
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .backends import saved_backend
from .errors import UserError
from .models.loading import from_pretrained, load_model
from .models.speakers import SpeakerTable
from .voice_io import DTYPES, META_FILE, VoiceMeta, read_meta, save_voice


def merge_voice(directory: str | Path, out: str | Path, dtype: str = "float32",
                config_updates: dict[str, Any] | None = None) -> Path:
    """A LoRA voice folded into its base: a complete model that plain `from_pretrained` and
    `pipeline("text-to-speech")` load, with no peft needed. A full voice is copied as it is.
    `config_updates` set inference settings in the written config (a VITS voice's `noise_scale`,
    `noise_scale_duration`), so every loader, the pipeline included, speaks with them."""
    voice, processor, meta = read_voice(directory)
    if isinstance(voice.tts, PeftModel):
        voice.tts = voice.tts.merge_and_unload()
    for key, value in (config_updates or {}).items():
        if not hasattr(voice.tts.config, key):
            raise UserError(f"{directory}: a {meta.backend} voice's config has no `{key}`; "
                            f"only a VITS voice takes --{key.replace('_', '-')}")
        setattr(voice.tts.config, key, value)
    merged = VoiceMeta(meta.backend, meta.base_model, meta.strategy, meta.vocoder, {**meta.extra, "merged": True})
    out = save_voice(voice, processor, out, merged, dtype)
    _copy_discriminator(Path(directory), Path(out), dtype)
    return out


def _copy_discriminator(source: Path, target: Path, dtype: str) -> None:
    """A VITS voice's discriminator (and its layout metadata) goes along, in the export's dtype, so a
    later fine-tune can start from it (`vits.discriminator: <the export>`)."""
    path = source / "discriminator.safetensors"
    if not path.is_file():
        return
    with safe_open(str(path), "pt") as f:
        metadata = f.metadata()
    state = {k: v.to(DTYPES[dtype]) if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    save_file(state, str(target / path.name), metadata=metadata)


def read_voice(directory: str | Path) -> tuple[nn.Module, Any, VoiceMeta]:
    """(voice model in eval mode, processor, meta) from a folder written by `save_voice`."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"voice folder {directory} does not exist; pass a folder written by hf-vclone train")
    meta = read_meta(directory)
    backend = saved_backend(meta.backend, meta.extra.get("backend_settings"))
    model_cls = backend.model_class
    if meta.is_adapter:
        base = load_model(model_cls, meta.base_model, f"base_model in {directory / META_FILE}")
        tts = PeftModel.from_pretrained(base, str(directory))
        if pace := meta.extra.get("pace"):  # an adapter has no config.json: the rate its run measured (VITS)
            core = tts.get_base_model()
            core.speaking_rate = core.config.speaking_rate = pace["speaking_rate"]
    else:
        tts = load_model(model_cls, str(directory), "--model")
    processor = from_pretrained(backend.processor_class, str(directory), "--model")
    voice = backend.make_voice(tts, SpeakerTable.load(directory))
    return voice.eval(), processor, meta
