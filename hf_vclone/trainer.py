"""The Trainer subclass: transformers' loop, with a voice as its unit of saving and evaluation.

Only these hooks differ from `transformers.Trainer`:
- evaluation also speaks held-out sentences and adds voice metrics (see callbacks.py);
- saving writes a complete, loadable voice (full model or LoRA adapter + processor + speaker
  vectors + vclone.json), so every checkpoint is something you can synthesize with, and LoRA
  checkpoints hold only the adapter;
- resuming and `load_best_model_at_end` read that layout back.
Everything else (the loop, accelerate, DDP, logging) is the parent's.
"""

from __future__ import annotations

from pathlib import Path

from transformers import Trainer

from .callbacks import VoiceEvaluator
from .export import VoiceMeta, load_voice_weights, save_voice


class VoiceTrainer(Trainer):
    def __init__(self, *args, voice_meta: VoiceMeta, voice_evaluator: VoiceEvaluator | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.voice_meta = voice_meta
        self.voice_evaluator = voice_evaluator

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix: str = "eval"):
        """The parent's loss evaluation, plus voice metrics from speaking held-out sentences, so
        they are logged, reach callbacks and can be `metric_for_best_model`."""
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        if self.voice_evaluator is not None and self.is_world_process_zero():
            prefix = metric_key_prefix
            scores = self.voice_evaluator(self.model, self.state.global_step, self.callback_handler.callbacks)
            output.metrics.update({f"{prefix}_{key}": value for key, value in scores.items()})
        return output

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        if not self.args.should_save:
            return
        directory = Path(output_dir or self.args.output_dir)
        save_voice(self.model, self.processing_class, directory, self.voice_meta)
        # JSON, not the parent's pickled training_args.bin: nothing here needs unpickling to read.
        (directory / "training_args.json").write_text(self.args.to_json_string(), encoding="utf-8")

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        load_voice_weights(model if model is not None else self.model, resume_from_checkpoint)

    def _load_best_model(self) -> None:
        """`load_best_model_at_end`: the best checkpoint is a saved voice, read it back as one."""
        load_voice_weights(self.model, self.state.best_model_checkpoint)
