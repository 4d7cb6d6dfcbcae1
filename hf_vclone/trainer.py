"""The Trainer subclass: transformers' loop, with a voice as its unit of saving and evaluation.

Only these hooks differ from `transformers.Trainer`:
- evaluation also speaks held-out sentences and adds voice metrics (see callbacks.py);
- saving writes a complete, loadable voice (full model or LoRA adapter + processor + speaker
  vectors + vclone.json), so every checkpoint is something you can synthesize with, and LoRA
  checkpoints hold only the adapter;
- resuming and `load_best_model_at_end` read that layout back;
- layer-wise learning rates become optimizer parameter groups, and L2-SP adds its term to the
  training loss and logs it on its own as `l2sp`;
- a checkpoint counts only once it is complete (checkpoints.py), and old ones are rotated away
  only after that;
- each batch's clip ids reach the non-finite guard, so a skipped update names its clips;
- on the CPU, the training step draws its dropout masks 16 bits at a time (cpu_dropout.py,
  `run.fast_cpu_dropout`): torch's one-element-at-a-time masks were a tenth of a step;
- under FSDP2 or DeepSpeed, 0-d parameters train as 1-d ones (sharding.py); under FSDP, a voice
  is saved from the gathered full state dict, and resuming reads the parent's FSDP checkpoint.
Everything else (the loop, accelerate, DDP, FSDP, logging) is the parent's.
"""

from __future__ import annotations

from pathlib import Path

import torch
from accelerate.utils import broadcast_object_list
from transformers import Trainer

from .callbacks import VoiceEvaluator
from .checkpoints import mark_complete, rotate
from .cpu_dropout import fast_cpu_dropout
from .voice_io import VoiceMeta, load_voice_weights, save_voice
from .guards import NonFiniteGuard
from .l2sp import L2SP
from .layer_lr import parameter_groups
from .sharding import promote_scalar_parameters


class VoiceTrainer(Trainer):
    def __init__(self, *args, voice_meta: VoiceMeta, voice_evaluator: VoiceEvaluator | None = None,
                 lr_multipliers: dict[str, float] | None = None, l2sp: L2SP | None = None,
                 fingerprint: dict | None = None, nonfinite_guard: NonFiniteGuard | None = None,
                 fast_cpu_dropout: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fast_cpu_dropout = fast_cpu_dropout
        self.fingerprint = fingerprint or {}
        self.nonfinite_guard = nonfinite_guard
        if nonfinite_guard is not None:
            self.add_callback(nonfinite_guard)
        self.voice_meta = voice_meta
        self.voice_evaluator = voice_evaluator
        self.lr_multipliers = lr_multipliers
        self.l2sp = l2sp
        self._l2sp_terms: list[torch.Tensor] = []
        self._loss_terms: dict[str, list[torch.Tensor]] = {}
        if self.is_fsdp_enabled or self.is_deepspeed_enabled:
            # Both reject 0-d parameters (SpeechT5's positional-encoding scale); the model is not
            # wrapped yet, so they are made 1-d now and saved 0-d again (sharding.py).
            promote_scalar_parameters(self.model)

    def create_optimizer(self, model=None):
        """The parent's optimizer (its class, betas, weight-decay split), with one group per
        learning-rate multiplier when layer-wise rates are set."""
        if self.lr_multipliers is None or self.optimizer is not None:
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        groups = parameter_groups(opt_model, self.lr_multipliers, set(self.get_decay_parameter_names(opt_model)),
                                  self.args.learning_rate, self.args.weight_decay)
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    def training_step(self, model, inputs, num_items_in_batch=None) -> torch.Tensor:
        """The parent's step (forward, backward), its CPU dropout masks drawn by cpu_dropout.py when
        `run.fast_cpu_dropout` is on: the same masks' distribution at about half their cost."""
        with fast_cpu_dropout(self.fast_cpu_dropout):
            return super().training_step(model, inputs, num_items_in_batch)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self.nonfinite_guard is not None and model.training:
            self.nonfinite_guard.batch_ids.extend(inputs.get("clip_ids") or [])
        loss, outputs = self.model_loss(model, inputs, num_items_in_batch)
        if self.l2sp is not None and model.training:
            # only in training: the evaluation loss stays the model's own, comparable across strategies
            term = self.l2sp()
            self._l2sp_terms.append(term.detach())
            loss = loss + term
        return (loss, outputs) if return_outputs else loss

    def model_loss(self, model, inputs, num_items_in_batch=None):
        """(loss, outputs) of the model itself; a backend with more to its step overrides this.
        The output's own loss terms (scalar `*_loss` fields: Tacotron 2's mel, gate and attention
        losses) are kept for the log, so a run shows which term moves."""
        loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
        if model.training and isinstance(outputs, dict):
            for name, value in outputs.items():
                if name.endswith("_loss") and isinstance(value, torch.Tensor) and value.dim() == 0:
                    self._loss_terms.setdefault(name, []).append(value.detach())
        return loss, outputs

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """`loss` includes the L2-SP term; `l2sp` (its mean since the last log) shows how much.
        Each of the model's own loss terms is logged beside it, as its mean since the last log."""
        if self._l2sp_terms and "loss" in logs:
            logs["l2sp"] = round(float(torch.stack(self._l2sp_terms).mean()), 6)
            self._l2sp_terms.clear()
        if "loss" in logs:
            for name, values in self._loss_terms.items():
                if values:
                    logs[name] = round(float(torch.stack(values).float().mean()), 4)
                    values.clear()
        super().log(logs, start_time)

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix: str = "eval"):
        """The parent's loss evaluation, plus voice metrics from speaking held-out sentences, so
        they are logged, reach callbacks and can be `metric_for_best_model`."""
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        if self.voice_evaluator is None:
            return output
        scores = None
        if self.is_world_process_zero():  # synthesis is sequential: one rank speaks, the others wait
            scores = self.voice_evaluator(self.model, self.state.global_step, self.callback_handler.callbacks)
        if self.args.world_size > 1:
            # Every rank needs the same metrics, or `metric_for_best_model` differs (or is missing)
            # between ranks and they disagree about which checkpoint is best.
            box = [scores]
            broadcast_object_list(box, from_process=0)
            scores = box[0]
        output.metrics.update({f"{metric_key_prefix}_{key}": value for key, value in scores.items()})
        return output

    def save_extras(self, output_dir: str | Path) -> dict[str, Path]:
        """Files a backend's trainer keeps beside the finished voice, by name (VITS: its
        discriminator); none here."""
        return {}

    def finalize_voice(self) -> dict:
        """What a backend settles in the voice once training has ended, before it is saved, as a
        record for vclone.json (VITS: its pace, `vits.calibrate_length`); nothing here. Every rank
        calls it, so a backend may run the model under FSDP."""
        return {}

    def _save_checkpoint(self, model, trial) -> None:
        """The parent's checkpoint, then the completion marker, and only then rotation (the
        parent would delete the previous checkpoint before the new one is known to be good)."""
        limit = self.args.save_total_limit
        self.args.save_total_limit = None
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self.args.save_total_limit = limit
        self.accelerator.wait_for_everyone()  # every rank has written its part (RNG state)
        if self.args.should_save:
            folder = Path(self._get_output_dir(trial)) / f"checkpoint-{self.state.global_step}"
            mark_complete(folder, self.fingerprint)
            rotate(folder.parent, limit, self.state.best_model_checkpoint)

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        if not self.args.should_save:
            return
        directory = Path(output_dir or self.args.output_dir)
        # Under FSDP the parameters are shards; `save_model` has gathered the full state dict
        # (on every rank, a collective) and hands it here. Otherwise the module's own tensors.
        gathered = state_dict if self.is_fsdp_enabled else None
        save_voice(self.model, self.processing_class, directory, self.voice_meta, state_dict=gathered)
        # JSON, not the parent's pickled training_args.bin: nothing here needs unpickling to read.
        (directory / "training_args.json").write_text(self.args.to_json_string(), encoding="utf-8")

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        if self.is_fsdp_enabled:
            # Sharded parameters: the parent loads the checkpoint's pytorch_model_fsdp.bin (the
            # full state dict `save_fsdp_model` writes into every FSDP checkpoint) into the shards.
            super()._load_from_checkpoint(resume_from_checkpoint, model)
            return
        load_voice_weights(model if model is not None else self.model, resume_from_checkpoint)

    def _load_best_model(self) -> None:
        """`load_best_model_at_end`: the best checkpoint is a saved voice, read it back as one
        (under FSDP, the parent reads its sharding-aware copy, as for resuming)."""
        if self.is_fsdp_enabled:
            super()._load_best_model()
            return
        load_voice_weights(self.model, self.state.best_model_checkpoint)
