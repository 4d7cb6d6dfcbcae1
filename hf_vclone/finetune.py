"""One fine-tuning run, in fixed phases: setup (data, model, strategy) -> train -> finish (save, evaluate).

Data flows one way: recipe -> data -> backend + strategy -> trainer -> export/evaluation.
The same code runs under plain `python` and under `accelerate launch` (the Trainer reads the
launcher's environment); data preparation runs on the main process first so that the other
ranks reuse its `datasets` cache instead of racing it.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset, IterableDataset
from transformers import set_seed

from .auto_strategy import StrategyChoice, choose_strategy
from .callbacks import VoiceEvaluator
from .config import Recipe, RecipeError
from .data.prepare import PreparedData
from .evaluation import System, compare_systems
from .voice_io import VoiceMeta, save_voice
from .checkpoints import check_fingerprint, resolve_resume
from .guards import NonFiniteGuard, Preempted, Preemption
from .intelligibility import load_asr
from .speaker_similarity import load_speaker_encoder
from .l2sp import L2SP
from .model_card import RECIPE_FILE, recipe_yaml, write_card
from .publish import push_voice
from .layer_lr import lr_multipliers as lr_multipliers_for
from .backends import recipe_backend
from .models.speakers import build_speakers
from .models.warm_start import warm_start
from .recipe_data import prepare_recipe_data, recipe_frontend
from .speaking import Speaking
from .systems import audio_only, base_speakers, base_system, other_voices, reference_audio
from .plots import loss_curve
from .report import ALIGNMENTS
from .strategies import apply_strategy, check_compatible, describe

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    output_dir: Path
    outputs: dict[str, Path | str] = field(default_factory=dict)  # name -> file, folder or Hub URL
    metrics: dict | None = None
    train_seconds: float = 0.0


class FineTuneRun:
    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.args = recipe.training_arguments()
        self.out = Path(recipe.output.dir)
        self.backend = recipe_backend(recipe)
        self.settled: dict = {}  # what the backend's trainer set in the voice once training ended (vclone.json)

    # ---- setup -------------------------------------------------------------------------------
    def setup(self) -> None:
        set_seed(self.args.seed)
        with self.args.main_process_first(desc="prepare data"):
            self.data = self.prepare_data()
            tts = self.backend.load_model(self.recipe.model, self.processor)
        if self.recipe.model.warm_start:
            started = warm_start(tts, self.recipe.model.warm_start, self.recipe.model.warm_start_exclude)
            if self.args.should_log:
                print(started)
        self._load_evaluation_models()
        base_dir = self.recipe.model.name_or_path if self.recipe.model.init_config is None else None
        speakers = build_speakers(self.recipe.speaker, self.data.speakers, self.backend.speaker_dim(tts), base_dir)
        self.initial_speakers = copy.deepcopy(speakers)
        strategy = self.recipe.strategy
        self.choice = self._choose_strategy(tts) if strategy.name == "auto" else None
        self.strategy_name = self.choice.name if self.choice else strategy.name
        check_compatible(self.strategy_name, strategy, self.recipe.speaker)
        levels = self.backend.depth_levels(tts)
        tts = apply_strategy(tts, self.strategy_name, strategy, self.backend)
        self.voice = self.backend.make_voice(tts, speakers)
        lr_multipliers = lr_multipliers_for(self.voice, strategy.layer_lr, levels)
        l2sp = L2SP(self.voice, strategy.l2sp) if strategy.l2sp > 0 else None
        if self.args.should_log:
            print(self.data.summary())
            if self.choice:
                print(f"strategy auto: {self.choice.reason}")
            print(describe(self.voice, self.strategy_name))
            if lr_multipliers:
                print("layer-wise learning rates (x training.learning_rate): "
                      + ", ".join(f"{m:g}" for m in sorted(set(lr_multipliers.values()))))
        if isinstance(self.data.train, IterableDataset) and self.args.max_steps <= 0:
            raise RecipeError(["training.max_steps: data.streaming has no length; set max_steps"], self.recipe.source)
        trainer_class, backend_kwargs = self.backend.trainer_class()
        self.trainer = trainer_class(
            model=self.voice,
            args=self.args,
            train_dataset=self.data.train,
            eval_dataset=self.data.eval if self.args.eval_strategy != "no" else None,
            data_collator=self.backend.collator(tts, self.processor),
            processing_class=self.processor,
            voice_meta=self._meta(),
            voice_evaluator=self._voice_evaluator(),
            lr_multipliers=lr_multipliers,
            l2sp=l2sp,
            fingerprint=self.fingerprint(),
            nonfinite_guard=NonFiniteGuard(self.recipe.run.max_nonfinite_steps),
            fast_cpu_dropout=self.recipe.run.fast_cpu_dropout,
            **backend_kwargs,
        )
        if self.trainer.is_fsdp_enabled:
            self._check_fsdp_support()

    def _check_fsdp_support(self) -> None:
        """What does not work under FSDP yet fails now, not after training (or as a hang)."""
        problems = []
        if self.trainer.voice_evaluator is not None:
            problems.append("evaluation.during_training: one rank would speak held-out sentences with a sharded "
                            "model while the others wait, which hangs under FSDP; set evaluation.during_training: 0 "
                            "or training.eval_strategy: 'no'")
        if self.recipe.evaluation.enabled and self.data.eval is not None:
            problems.append("evaluation.enabled: the final evaluation speaks on one rank with a sharded model, which "
                            "fails under FSDP; set evaluation.enabled: false and score the saved voice with "
                            "`hf-vclone evaluate --model OUTPUT_DIR RECIPE`")
        if self.trainer.l2sp is not None:
            # fully_shard replaces every parameter with a sharded one: L2-SP's pairs would hold the
            # old tensors, and its term would stop pulling without a word.
            problems.append("strategy.l2sp: not supported under FSDP; set it to 0 or train with DDP")
        if problems:
            raise RecipeError([f"{p} (accelerate launch with an FSDP config)" for p in problems], self.recipe.source)

    def _voice_evaluator(self) -> VoiceEvaluator | None:
        cfg = self.recipe.evaluation
        held_out = self.data.eval
        if self.args.eval_strategy == "no" or cfg.during_training <= 0 or not isinstance(held_out, Dataset):
            return None
        rows = held_out.select(range(min(cfg.during_training, len(held_out))))

        def speak_fn(voice: torch.nn.Module, text: str) -> tuple[np.ndarray, ...]:
            return self.speaking.system(voice, voice.speakers.vector())(text)

        return VoiceEvaluator(
            list(rows["text"]), [np.asarray(m, np.float32) for m in rows["labels"]],
            [self._reference_audio(row) for row in rows], list(rows["id"]), speak_fn,
            self.features.sampling_rate, cfg.speaker_encoder, self.out,
            cfg.asr_model, cfg.asr_language,
        )

    def _reference_audio(self, row: dict) -> np.ndarray:
        return reference_audio(row, self.recipe.data, self.features.sampling_rate)

    @functools.cached_property
    def vocoder(self) -> torch.nn.Module | None:
        return self.backend.load_vocoder(self.recipe.model.vocoder)

    @functools.cached_property
    def speaking(self) -> Speaking:
        """How this run's voices speak for scoring (its processor, vocoder, evaluation settings)."""
        return Speaking.for_evaluation(self.backend, self.processor, self.vocoder, self.recipe.evaluation,
                                       recipe_frontend(self.recipe, self.backend, self.processor))

    def _load_evaluation_models(self) -> None:
        """The vocoder, speaker encoder and ASR model load before training: a wrong id should
        fail in the first minute, not after an hour of training (they are cached for later)."""
        cfg = self.recipe.evaluation
        _ = self.vocoder
        if cfg.enabled or self.args.eval_strategy != "no":
            load_speaker_encoder(cfg.speaker_encoder, "evaluation.speaker_encoder")
            if cfg.asr_model:
                load_asr(cfg.asr_model, cfg.asr_language)
        if cfg.enabled and self.data.eval is not None and not isinstance(self.data.eval, IterableDataset):
            _ = self.other_voices

    def prepare_data(self) -> PreparedData:
        """Corpus -> checked, cleaned, featurised and cached clips (recipe_data.py); skipped.csv and
        the data card go into the output folder, written by the main process."""
        prepared = prepare_recipe_data(self.recipe, self.backend, self.out if self.args.should_save else None)
        self.processor, self.features = prepared.processor, prepared.features
        return prepared.data

    def _meta(self) -> VoiceMeta:
        model = self.recipe.model
        base = None if model.init_config is not None else model.name_or_path
        if base and Path(base).is_dir():
            base = str(Path(base).resolve())  # an adapter must find its base from any working directory
        data = self.recipe.data
        extra = {"target_speaker": ", ".join(self.data.speakers), "language": data.language,
                 "dataset": data.path if data.format == "hub" else None}
        if not isinstance(self.data.train, IterableDataset):
            extra |= {"train_minutes": round(float(sum(self.data.train["seconds"])) / 60, 2),
                      "train_clips": len(self.data.train)}
        if self.choice:
            extra["strategy_choice"] = self.choice.as_dict()
        if model.warm_start:  # the card says where the weights started
            extra["warm_start"] = {"from": model.warm_start, "fresh": list(model.warm_start_exclude)}
        if data.replacements:  # applied again whenever the voice speaks (text_frontend.py)
            extra["replacements"] = dict(data.replacements)
        extra |= self.settled  # what the backend set once training ended (VITS: its pace)
        return VoiceMeta(self.backend.name, base, self.strategy_name, model.vocoder, extra)

    def _choose_strategy(self, tts: torch.nn.Module) -> StrategyChoice:
        """`strategy: auto`, decided on training clips (the held-out ones stay unseen)."""
        cfg = self.recipe.strategy.auto
        if isinstance(self.data.train, IterableDataset):
            raise RecipeError(["strategy.name: auto weighs the minutes of audio, which data.streaming cannot "
                               "tell in advance; name a strategy"], self.recipe.source)
        if self.recipe.model.init_config is not None:
            raise RecipeError(["strategy.name: auto chooses how much of a pretrained base to retrain; "
                               "model.init_config trains from scratch, so name a strategy (full)"], self.recipe.source)
        base_dir = self.recipe.model.name_or_path
        table = base_speakers(base_dir, self.initial_speakers)
        base = self.backend.make_voice(tts, table).eval()
        voices = {name: audio_only(self.speaking.system(base, table.vector(name))) for name in table.names}
        rows = self.data.train.select(range(min(cfg.probe_sentences, len(self.data.train))))
        references = [self._reference_audio(row) for row in rows]
        minutes = float(sum(self.data.train["seconds"])) / 60
        return choose_strategy(voices, list(rows["text"]), references, self.features.sampling_rate,
                               minutes, cfg, self.recipe.evaluation.speaker_encoder)

    # ---- train -------------------------------------------------------------------------------
    def fingerprint(self) -> dict:
        """What must be the same for a checkpoint to continue this run (see checkpoints.py).
        Step counts, logging and evaluation settings may change; these may not."""
        r, a = self.recipe, self.args
        return {
            "training.gradient_accumulation_steps": a.gradient_accumulation_steps,
            "world size (processes)": a.world_size,
            "training.per_device_train_batch_size": a.per_device_train_batch_size,
            "training.seed": a.seed,
            "model": {"name_or_path": r.model.name_or_path, "init_config": r.model.init_config},
            "strategy": {"name": self.strategy_name, "freeze_layers": r.strategy.freeze_layers,
                         "lora": r.strategy.lora},
            "speaker.mode": r.speaker.mode,
            "data": {k: getattr(r.data, k) for k in ("format", "path", "speaker", "max_minutes", "eval_size", "seed")},
        }

    def train(self) -> float:
        """Train, resuming when `training.resume_from_checkpoint` says so; on SIGTERM, checkpoint
        and raise Preempted (so a scheduler's kill never costs more than one step)."""
        resume = resolve_resume(self.args.resume_from_checkpoint, self.out)
        if resume is not None:
            check_fingerprint(resume, self.fingerprint())
            if self.args.should_log:
                print(f"resuming from {resume}")
        preemption = Preemption() if self.recipe.run.stop_on_sigterm else None
        if preemption is not None and threading.current_thread() is threading.main_thread():
            preemption.install()
            self.trainer.add_callback(preemption)
        start = time.perf_counter()
        try:
            self.trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        finally:
            if preemption is not None:
                preemption.uninstall()
        if preemption is not None and preemption.requested:
            step = self.trainer.state.global_step
            raise Preempted(f"stopped by SIGTERM after step {step}; checkpoint {self.out / f'checkpoint-{step}'} "
                            "is complete. Resume with training.resume_from_checkpoint=latest")
        return time.perf_counter() - start

    # ---- finish ------------------------------------------------------------------------------
    def finish(self, train_seconds: float) -> RunResult:
        result = RunResult(self.out, train_seconds=train_seconds)
        self.trainer.accelerator.wait_for_everyone()
        # Under FSDP each rank holds shards: the full state dict is gathered on every rank (a
        # collective, so before the other ranks return) and arrives on rank 0, which saves it.
        self.settled = self.trainer.finalize_voice()  # every rank: under FSDP the model's forward is collective
        gathered = self.trainer.accelerator.get_state_dict(self.voice) if self.trainer.is_fsdp_enabled else None
        if not self.trainer.is_world_process_zero():
            return result
        save_voice(self.voice, self.processor, self.out, self._meta(), self.recipe.output.save_dtype,
                   state_dict=gathered)
        result.outputs["voice"] = self.out
        result.outputs.update(self.trainer.save_extras(self.out))  # what the voice's trainer keeps beside it
        for name, file in [("data card", "data_card.md"), ("skipped clips", "skipped.csv")]:
            if (self.out / file).is_file():
                result.outputs[name] = self.out / file
        if curve := loss_curve(self.trainer.state.log_history, self.out / "loss_curve.png"):
            result.outputs["loss curve"] = curve
        if self.recipe.evaluation.enabled and self.data.eval is not None:
            result.metrics = self._evaluate()
            result.outputs.update(
                {"samples": self.out / "samples", "spectrograms": self.out / "spectrograms.png",
                 "metrics": self.out / "metrics.json", "report": self.out / "report.md"}
            )
            if (self.out / ALIGNMENTS).is_file():
                result.outputs["alignments"] = self.out / ALIGNMENTS
        (self.out / RECIPE_FILE).write_text(recipe_yaml(self.recipe.raw), encoding="utf-8")
        result.outputs["model card"] = write_card(self.out)
        push = self.recipe.push_to_hub
        if push.repo_id:
            result.outputs["hub"] = push_voice(self.out, push.repo_id, private=push.private,
                                               adapter_only=push.adapter_only, commit_message=push.commit_message)
        return result

    def _evaluate(self) -> dict:
        cfg = self.recipe.evaluation
        voice = self.voice.eval()
        systems = {}
        notes = {}
        if cfg.compare_base and self.recipe.model.init_config is None:
            base_tts = self.backend.load_model(self.recipe.model, self.processor)
            systems["base"], notes = base_system(self.speaking, base_tts, self.recipe.model.name_or_path,
                                                 self.initial_speakers, self.data.train)
        systems["fine_tuned"] = self.speaking.system(voice, voice.speakers.vector())
        rate = self.features.sampling_rate
        return compare_systems(systems, self.data.eval, cfg, self.out, rate, self._reference_audio, notes,
                               self.other_voices)

    @functools.cached_property
    def other_voices(self) -> dict[str, System] | None:
        """Read before training, so that a missing recording fails in the first minute."""
        return other_voices(self.recipe.evaluation, self.data.eval, self.features, self.recipe.data)


def run(recipe: Recipe) -> RunResult:
    job = FineTuneRun(recipe)
    job.setup()
    seconds = job.train()
    return job.finish(seconds)
