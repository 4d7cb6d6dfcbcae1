"""The Trainer subclass: transformers' loop, with a voice as its unit of saving.

Only two hooks differ from `transformers.Trainer`. Saving writes a complete, loadable voice
(full model or LoRA adapter + processor + speaker vectors + vclone.json), so every checkpoint is
also something you can synthesize with, and LoRA checkpoints hold only the adapter. Resuming
reads that layout back. Everything else (the loop, accelerate, DDP, logging) is the parent's.
"""

from __future__ import annotations

from pathlib import Path

from transformers import Trainer

from .export import VoiceMeta, load_voice_weights, save_voice


class VoiceTrainer(Trainer):
    def __init__(self, *args, voice_meta: VoiceMeta, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.voice_meta = voice_meta

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        if not self.args.should_save:
            return
        directory = Path(output_dir or self.args.output_dir)
        save_voice(self.model, self.processing_class, directory, self.voice_meta)
        # JSON, not the parent's pickled training_args.bin: nothing here needs unpickling to read.
        (directory / "training_args.json").write_text(self.args.to_json_string(), encoding="utf-8")

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        load_voice_weights(model if model is not None else self.model, resume_from_checkpoint)
