"""Speak with a saved voice: text -> mel -> waveform.

    from hf_vclone import load_voice
    voice = load_voice("outputs/quickstart")        # or a Hub repo id
    audio, rate = voice.synthesize("Hello.")

`load_voices` puts several speakers' LoRA adapters on one base and switches between them by name.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from peft import PeftModel

from .errors import UserError
from .export import read_voice
from .voice_io import read_meta
from .backends import saved_backend
from .models.loading import ModelLoadError, from_pretrained, load_model
from .models.speakers import SpeakerTable
from .speaking import Speaking
from .text_frontend import TextFrontEnd


def resolve_voice(repo_or_dir: str | Path) -> Path:
    """A local voice folder as it is; anything else is a Hub repo id, downloaded (and cached)."""
    local = Path(repo_or_dir).expanduser()
    if local.is_dir():
        return local
    name = str(repo_or_dir)
    if local.exists() or name.count("/") != 1 or name.startswith((".", "/", "~")):
        raise FileNotFoundError(f"voice {name} is neither a folder written by hf-vclone train nor a Hub repo id")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return Path(snapshot_download(name))
    except (HfHubHTTPError, OSError, ValueError) as err:
        raise ModelLoadError(f"cannot download voice '{name}' from the Hub: {err}") from None


class Synthesizer:
    """A loaded voice (full model or adapter). `synthesize(text)` returns (audio, sampling_rate)."""

    def __init__(self, repo_or_dir: str | Path) -> None:
        self.voice, self.processor, self.meta = read_voice(resolve_voice(repo_or_dir))
        self._setup()

    def _setup(self) -> None:
        self.backend = saved_backend(self.meta.backend, self.meta.extra.get("backend_settings"))
        self.vocoder = self.backend.load_vocoder(self.meta.vocoder)
        frontend = TextFrontEnd.for_tokenizer(self.backend.text_tokenizer(self.processor),
                                              self.meta.extra.get("replacements"))
        self.speaking = Speaking(self.backend, self.processor, self.vocoder, frontend=frontend)
        # The rate the voice's features were made at (VITS: its model config; SpeechT5: its extractor).
        self.sampling_rate = self.backend.feature_spec(self.processor, self.voice.tts.config).sampling_rate

    def mel(self, text: str, speaker: str | None = None, seed: int = 0,
            minlenratio: float = 0.5, maxlenratio: float = 8.0) -> np.ndarray:
        speaking = replace(self.speaking, seed=seed, minlenratio=minlenratio, maxlenratio=maxlenratio)
        return speaking.say(self.voice, self.voice.speakers.vector(speaker), text, audio=False).mel

    def synthesize(self, text: str, speaker: str | None = None, seed: int = 0) -> tuple[np.ndarray, int]:
        if not text.strip():
            raise UserError("nothing to say: the text is empty")
        spoken = replace(self.speaking, seed=seed).say(self.voice, self.voice.speakers.vector(speaker), text)
        return spoken.audio, self.sampling_rate

    def to_file(self, text: str, out: str | Path, speaker: str | None = None, seed: int = 0) -> Path:
        audio, rate = self.synthesize(text, speaker, seed)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(out), audio, rate)
        return out


def load_voice(repo_or_dir: str | Path) -> Synthesizer:
    """A fine-tuned voice from a folder or a Hub repo id, ready to `.synthesize(text)`."""
    return Synthesizer(repo_or_dir)


class VoiceBank(Synthesizer):
    """Several LoRA voices on one shared base: the base loads once, each voice adds its adapter
    (peft's named adapters) and its speaker vector; `synthesize(text, speaker=name)` switches."""

    def __init__(self, adapters: dict[str, str | Path]) -> None:
        if not adapters:
            raise UserError("load_voices needs at least one adapter: {name: folder or repo id}")
        folders = {name: resolve_voice(where) for name, where in adapters.items()}
        metas = {name: read_meta(folder) for name, folder in folders.items()}
        not_adapters = [name for name, meta in metas.items() if not meta.is_adapter]
        bases = {meta.base_model for meta in metas.values()}
        if not_adapters or len(bases) != 1:
            raise UserError(f"load_voices shares one base between LoRA adapters; "
                            f"{'not adapters: ' + ', '.join(not_adapters) if not_adapters else 'bases differ: ' + ', '.join(map(str, bases))}")
        first, *rest = folders
        self.meta = metas[first]
        backend = saved_backend(self.meta.backend, self.meta.extra.get("backend_settings"))
        base = load_model(backend.model_class, self.meta.base_model, f"base_model in {folders[first]}/vclone.json")
        tts = PeftModel.from_pretrained(base, str(folders[first]), adapter_name=first)
        for name in rest:
            tts.load_adapter(str(folders[name]), adapter_name=name)
        vectors = {name: SpeakerTable.load(folder).vector() for name, folder in folders.items()}
        table = SpeakerTable(list(vectors), torch.stack(list(vectors.values())), trainable=False)
        self.voice = backend.make_voice(tts, table).eval()
        self.processor = from_pretrained(backend.processor_class, str(folders[first]), "load_voices")
        self._setup()

    @property
    def names(self) -> list[str]:
        return self.voice.speakers.names

    def mel(self, text: str, speaker: str | None = None, seed: int = 0,
            minlenratio: float = 0.5, maxlenratio: float = 8.0) -> np.ndarray:
        name = speaker or self.names[0]
        if name not in self.names:
            raise UserError(f"unknown voice '{name}'; this bank has: {', '.join(self.names)}")
        self.voice.tts.set_adapter(name)
        return super().mel(text, name, seed, minlenratio, maxlenratio)

    def synthesize(self, text: str, speaker: str | None = None, seed: int = 0) -> tuple[np.ndarray, int]:
        name = speaker or self.names[0]
        if name not in self.names:
            raise UserError(f"unknown voice '{name}'; this bank has: {', '.join(self.names)}")
        self.voice.tts.set_adapter(name)
        return super().synthesize(text, name, seed)


def load_voices(adapters: dict[str, str | Path]) -> VoiceBank:
    """Several speakers' adapters on one base, e.g. `load_voices({"alice": "me/alice", "bob": "out/bob"})`."""
    return VoiceBank(adapters)
