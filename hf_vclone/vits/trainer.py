"""VitsTrainer: the voice Trainer with a generator step and a discriminator step in every training step.

The Trainer owns the generator (the VITS model): its optimizer, scheduler, gradient accumulation,
clipping, mixed precision and DDP are the parent's. This subclass adds the adversary beside it,
through the two hooks transformers documents for this, `compute_loss` and `training_step`:

1. `compute_loss` (the generator's loss): the voice's forward gives the reconstruction losses and a
   generated + real waveform slice; LSGAN + feature matching against the discriminator as it
   stands, whose weights are frozen for this pass, so the Trainer's backward reaches only the generator;
2. `training_step`: the parent's step (that loss, scaled for accumulation, backward), then the
   discriminator's: LSGAN on (real, generated.detach()) in one forward, backward, and an optimizer
   step when the Trainer's accumulation window closes (`sync_gradients`).

The original VITS updates the discriminator first and scores the generator against the updated
one; here the generator meets the discriminator of the previous step, so that no optimizer steps
inside a loss function (and evaluation, which calls `compute_loss`, can never train it).

The discriminator, its optimizer and its scheduler are saved in every checkpoint and restored on
resume, so a resumed run continues bit for bit (tests/test_vits_training.py).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch
from datasets import IterableDataset
from safetensors.torch import load_file, save_file
from transformers import get_scheduler
from transformers.utils import logging

from ..config import VitsConfig
from ..errors import UserError
from ..trainer import VoiceTrainer
from .discriminator import VitsDiscriminator
from .discriminator_import import read_discriminator
from .losses import discriminator_loss, feature_matching_loss, generator_loss
from .pace import calibrate_speaking_rate

DISCRIMINATOR_FILE = "discriminator.safetensors"
DISCRIMINATOR_OPTIMIZER = "discriminator_optimizer.pt"
DISCRIMINATOR_SCHEDULER = "discriminator_scheduler.pt"
PACE_CLIPS = 512  # training clips vits.calibrate_length measures: enough for a stable total, seconds on a CPU
logger = logging.get_logger(__name__)
LOGGED = ("mel_loss", "kl_loss", "duration_loss", "dc_loss", "adversarial_loss", "feature_matching_loss", "discriminator_loss")


def build_discriminator(settings: VitsConfig) -> VitsDiscriminator:
    """Fresh, or read from `vits.discriminator`: an hf_vclone folder, an original VITS / MMS
    `D_*.pth` or a finetune-hf-vits model (discriminator_import.py). An imported one brings its own
    layout and width; a recipe that sets either to something else is refused, naming both."""
    if not settings.discriminator:
        return VitsDiscriminator(width=settings.discriminator_width or 1.0,
                                 layout=settings.discriminator_layout or "hifigan")
    imported = read_discriminator(settings.discriminator)
    for key, wanted, found in (("discriminator_width", settings.discriminator_width, imported.width),
                               ("discriminator_layout", settings.discriminator_layout, imported.layout)):
        if wanted is not None and wanted != found:
            raise UserError(f"vits.{key}: {wanted} was asked for, but {settings.discriminator} holds a discriminator "
                            f"with {key.split('_')[1]} {found} ({imported.source}); remove vits.{key} to use the "
                            "file's, or remove vits.discriminator for a fresh one")
    logger.info("vits.discriminator: %s read as %s (layout %s, width %g)", settings.discriminator, imported.source,
                imported.layout, imported.width)
    return imported.build()


def waveform_path_trains(model: torch.nn.Module) -> bool:
    """Whether anything between the spectrogram and the generated waveform (posterior encoder,
    decoder; LoRA layers in them included) trains. When nothing does (freeze_lower with
    freeze_groups [posterior_encoder, flow, decoder]: the text side trained on a fixed latent), the
    adversarial losses have no gradient to give, and the GAN would only cost time (on an AVX2-only
    2-core machine it was most of every step: 5 s with it, 0.8 s without)."""
    return any(p.requires_grad and ("decoder." in name or "posterior_encoder." in name)
               for name, p in model.named_parameters())


def gan_weighted(settings: VitsConfig) -> bool:
    """Whether the adversarial losses reach the voice at all. With both weights at 0 (a fine-tune on the
    mel, KL and duration losses alone: the demo's clone kept more of its words that way, benchmarks/README.md)
    the discriminator's forward and update would cost time and change nothing in the voice."""
    return settings.adversarial_weight > 0 or settings.feature_matching_weight > 0


class VitsTrainer(VoiceTrainer):
    def __init__(self, *args, settings: VitsConfig, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        discriminator = build_discriminator(settings).to(self.args.device)
        self.discriminator = self.accelerator.prepare_model(discriminator)  # DDP-wrapped on several ranks
        self.discriminator_optimizer: torch.optim.Optimizer | None = None
        self.discriminator_scheduler = None
        self._terms: dict[str, list[torch.Tensor]] = {name: [] for name in LOGGED}
        self._slices: tuple[torch.Tensor, torch.Tensor] | None = None  # (generated, real) of this step
        waveform_trains = waveform_path_trains(self.model)
        self._gan_trains_voice = waveform_trains and gan_weighted(settings)
        if not waveform_trains:
            logger.warning("the decoder and the posterior encoder are frozen: no GAN step (it could change nothing in "
                        "the voice); the discriminator is saved as it was read")
        elif not self._gan_trains_voice:
            logger.warning("vits.adversarial_weight and vits.feature_matching_weight are 0: no GAN step (the voice "
                           "trains on its reconstruction losses alone); the discriminator is saved as it was read")

    @property
    def _discriminator(self) -> VitsDiscriminator:
        return self.accelerator.unwrap_model(self.discriminator)

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        """The generator's scheduler (the parent's), then the discriminator's optimizer and
        scheduler of the same kinds (VITS trains both with AdamW at the same rate)."""
        scheduler = super().create_scheduler(num_training_steps, optimizer)
        if self.discriminator_optimizer is None:
            optimizer_cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, self._discriminator)
            kwargs["lr"] = self.settings.discriminator_learning_rate or self.args.learning_rate
            params = [p for p in self.discriminator.parameters() if p.requires_grad]
            self.discriminator_optimizer = optimizer_cls([{"params": params, "weight_decay": self.args.weight_decay}],
                                                         **kwargs)
            self.discriminator_scheduler = get_scheduler(
                self.args.lr_scheduler_type, optimizer=self.discriminator_optimizer,
                num_warmup_steps=self.args.get_warmup_steps(num_training_steps),
                num_training_steps=num_training_steps, scheduler_specific_kwargs=self.args.lr_scheduler_kwargs,
            )
        return scheduler

    def model_loss(self, model, inputs, num_items_in_batch=None):
        """The generator's loss: reconstruction, plus (in training) fooling the discriminator."""
        voice, step = self.accelerator.unwrap_model(model), self.state.global_step
        prior_steps, kl_steps = self.settings.alignment_prior_steps, self.settings.kl_warmup_steps
        voice.alignment_prior_weight = max(0.0, 1.0 - step / prior_steps) if prior_steps and model.training else 0.0
        voice.kl_scale = min(1.0, step / kl_steps) if kl_steps and model.training else 1.0
        outputs = model(**inputs)
        loss = outputs.loss
        if model.training:
            if self._gan_trains_voice:
                loss = loss + self._generator_adversarial_loss(outputs.generated, outputs.real)
                self._slices = (outputs.generated.detach(), outputs.real)  # for this step's discriminator
            for name in ("mel_loss", "kl_loss", "duration_loss", "dc_loss"):
                self._terms[name].append(outputs[name])
        return loss, outputs

    def training_step(self, model, inputs, num_items_in_batch=None) -> torch.Tensor:
        """The generator's step (the parent's), then the discriminator's on the same generated slice."""
        loss = super().training_step(model, inputs, num_items_in_batch)
        if not self._gan_trains_voice:
            return loss
        generated, real = self._slices
        self._slices = None
        with self.compute_loss_context_manager():  # the same autocast as the generator's forward
            self._discriminator_step(generated, real)
        return loss

    def _discriminator_step(self, generated: torch.Tensor, real: torch.Tensor) -> None:
        """LSGAN: real -> 1, generated -> 0, in one forward (one DDP reduction); an optimizer step
        when the Trainer's accumulation window closes."""
        optimizer = self.discriminator_optimizer
        scores, _ = self.discriminator(torch.cat([real, generated]))
        n = real.shape[0]
        d_loss = discriminator_loss([s[:n] for s in scores], [s[n:] for s in scores])
        self.accelerator.backward(d_loss / self.args.gradient_accumulation_steps)
        if self.accelerator.sync_gradients:
            optimizer.step()
            self.discriminator_scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        self._terms["discriminator_loss"].append(d_loss.detach())

    def _generator_adversarial_loss(self, generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """LSGAN + feature matching; the discriminator's weights get no gradient from this."""
        cfg = self.settings
        discriminator = self._discriminator
        discriminator.requires_grad_(False)
        try:
            fake_scores, fake_features = discriminator(generated)
            with torch.no_grad():
                _, real_features = discriminator(real)
        finally:
            discriminator.requires_grad_(True)
        adversarial = generator_loss(fake_scores)
        matching = feature_matching_loss(real_features, fake_features)
        self._terms["adversarial_loss"].append(adversarial.detach())
        self._terms["feature_matching_loss"].append(matching.detach())
        return cfg.adversarial_weight * adversarial + cfg.feature_matching_weight * matching

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Each loss term (its mean since the last log) beside the total, so a GAN that has
        started to diverge shows which side is winning."""
        if "loss" in logs:
            for name, values in self._terms.items():
                if values:
                    logs[name] = round(float(torch.stack(values).float().mean()), 4)
                    values.clear()
        super().log(logs, start_time)

    # ---- checkpoints: the discriminator travels with the optimizer state ---------------------
    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        super()._save_optimizer_and_scheduler(output_dir)
        if self.args.should_save:
            self.save_discriminator(output_dir)
            torch.save(self.discriminator_optimizer.state_dict(), Path(output_dir) / DISCRIMINATOR_OPTIMIZER)
            torch.save(self.discriminator_scheduler.state_dict(), Path(output_dir) / DISCRIMINATOR_SCHEDULER)

    def save_extras(self, output_dir: str | Path) -> dict[str, Path]:
        """The discriminator beside the voice: a later fine-tune can start from it (`vits.discriminator`)."""
        return {"discriminator": self.save_discriminator(output_dir)}

    def finalize_voice(self) -> dict:
        """`vits.calibrate_length`: the voice's speaking rate, measured on (up to 512 of) its training
        clips, evenly spread (vits/pace.py)."""
        length = self.settings.calibrate_length
        if length is None or self.train_dataset is None:
            return {}
        rows = self.train_dataset
        if isinstance(rows, IterableDataset):
            rows = list(itertools.islice(iter(rows), PACE_CLIPS))
        else:
            rows = rows.select(np.linspace(0, len(rows) - 1, min(len(rows), PACE_CLIPS)).round().astype(int).tolist())
        texts, frames = [r["input_ids"] for r in rows], [len(r["labels"]) for r in rows]
        measured = calibrate_speaking_rate(self.accelerator.unwrap_model(self.model).tts, texts, frames, length)
        if self.args.should_log:
            print(f"vits.calibrate_length {length}: speaking_rate {measured['speaking_rate']:.3f} (predicted length "
                  f"{measured['length_before']:.2f} -> {measured['length_after']:.2f} x the {measured['clips']} "
                  "training clips measured)")
        return {"pace": {"calibrate_length": length, **measured}}

    def save_discriminator(self, output_dir: str | Path) -> Path:
        path = Path(output_dir) / DISCRIMINATOR_FILE
        discriminator = self._discriminator
        state = {k: v.detach().contiguous() for k, v in discriminator.state_dict().items()}
        meta = {"layout": discriminator.layout, "width": repr(float(discriminator.width)),
                "periods": ",".join(map(str, discriminator.period_list))}
        save_file(state, str(path), metadata=meta)
        return path

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None:
            return
        folder = Path(checkpoint)
        missing = [f for f in (DISCRIMINATOR_FILE, DISCRIMINATOR_OPTIMIZER, DISCRIMINATOR_SCHEDULER)
                   if not (folder / f).is_file()]
        if missing:
            raise UserError(f"{folder} has no {', '.join(missing)}: it was not written by a VITS run; resume from "
                            "a checkpoint of this run (training.resume_from_checkpoint=latest)")
        self._discriminator.load_state_dict(load_file(str(folder / DISCRIMINATOR_FILE)))
        # Read onto the CPU: load_state_dict moves the state to the parameters' device, and a CPU
        # rank's own device (cpu:1 under DDP) is not a location torch.load can map to.
        self.discriminator_optimizer.load_state_dict(
            torch.load(folder / DISCRIMINATOR_OPTIMIZER, map_location="cpu", weights_only=True))
        self.discriminator_scheduler.load_state_dict(torch.load(folder / DISCRIMINATOR_SCHEDULER, weights_only=True))
