"""VITS / MMS-TTS backend: text -> waveform with transformers' VitsModel, trained here.

transformers ships VitsModel for inference only (`labels` raise NotImplementedError). Its parts
are all there, though: the text encoder with the prior, the posterior encoder (kept "for
training only"), the flow, the duration predictor and the HiFi-GAN decoder. `VitsVoice.forward`
runs them in the training direction (Kim et al., 2021):

    spectrogram -> posterior encoder -> z ~ q(z|x) -> flow -> z_p
    monotonic alignment search of z_p against the text prior -> durations (duration loss)
    KL(q || prior expanded by the alignment)
    random slices of z -> decoder -> waveform slices -> mel L1 against the real slices

and returns the slices, so the trainer can run the discriminator on them (`vits/trainer.py`).
Voices are single-speaker (as the MMS-TTS checkpoints are): the voice lives in the weights, and
the saved model works with plain `VitsModel.from_pretrained` and `pipeline("text-to-speech")`.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from datasets import List, Value
from peft import PeftModel
from torch import nn
from transformers import VitsConfig as HFVitsConfig
from transformers import VitsModel, VitsTokenizer
from transformers.utils import ModelOutput

from ..config import ModelConfig, StrategyConfig, VitsConfig
from ..data.audio import ClipError
from ..data.collator import pad_batch
from ..data.prepare import FeatureSpec
from ..errors import UserError
from ..vits.alignment import beta_binomial_log_prior, maximum_path
from ..vits.duration import duration_nll
from ..vits.espeak_timing import EspeakAligner, espeak_arguments
from ..vits.decoder_init import hifigan_init
from ..vits.losses import kl_loss, waveform_dc_loss
from ..vits.spectrogram import VitsSpectrogram
from .char_tokenizer import build_vits_tokenizer, unread_characters
from .loading import from_pretrained, load_model
from .backend import Utterance
from .speakers import SpeakerTable

LN10 = math.log(10.0)
OUTSIDE_WINDOW = 1e5  # vits.alignment espeak: log-likelihood of a frame outside its token's window (a frame scores ~-100)
# freeze_lower's named parts, bottom (text side) to top (waveform side)
GROUPS = {
    "text_encoder": "text_encoder.",
    "duration_predictor": "duration_predictor.",
    "flow": "flow.",
    "posterior_encoder": "posterior_encoder.",
    "decoder": "decoder.",
}
DEFAULT_FROZEN = ("text_encoder", "duration_predictor")


def spectrogram_for(config: HFVitsConfig, mel_bins: int) -> VitsSpectrogram:
    """The STFT that matches the model: n_fft from its spectrogram bins, hop from its decoder."""
    return VitsSpectrogram(config.sampling_rate, n_fft=2 * (config.spectrogram_bins - 1),
                           hop=int(np.prod(config.upsample_rates)), mel_bins=mel_bins)


@dataclass
class VitsTrainingOutput(ModelOutput):
    loss: torch.Tensor | None = None  # mel x w + KL x w + duration x w (the adversarial terms are the trainer's)
    mel_loss: torch.Tensor | None = None
    kl_loss: torch.Tensor | None = None
    duration_loss: torch.Tensor | None = None
    dc_loss: torch.Tensor | None = None
    generated: torch.Tensor | None = None  # (batch, 1, segment samples) decoder output
    real: torch.Tensor | None = None  # (batch, 1, segment samples) the same stretch of the recording


def _core(tts: nn.Module) -> VitsModel:
    return tts.get_base_model() if isinstance(tts, PeftModel) else tts


def slice_segments(x: torch.Tensor, starts: torch.Tensor, size: int) -> torch.Tensor:
    """(batch, channels, time) -> (batch, channels, size), each item from its own start."""
    index = starts[:, None, None] + torch.arange(size, device=x.device)[None, None, :]
    return x.gather(2, index.expand(x.shape[0], x.shape[1], size))


class VitsVoice(nn.Module):
    """VitsModel (or a peft model around it) plus the (empty) speaker table; the unit the Trainer trains."""

    def __init__(self, tts: nn.Module, speakers: SpeakerTable, settings: VitsConfig | None = None) -> None:
        super().__init__()
        self.tts = tts
        self.speakers = speakers
        self.settings = settings or VitsConfig()
        config = _core(tts).config
        self.hop = int(np.prod(config.upsample_rates))
        self.spectrogram = spectrogram_for(config, self.settings.mel_bins)
        # weight of the beta-binomial alignment prior in this step's search; the trainer sets it
        # (vits.alignment_prior_steps), 0 outside training
        self.alignment_prior_weight = 0.0
        self.kl_scale = 1.0  # the KL term's share of vits.kl_weight this step (vits.kl_warmup_steps)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor,
        waveform: torch.Tensor,
        label_lengths: torch.Tensor,
        speaker_ids: torch.Tensor | None = None,  # not used: the voice is the weights
        clip_ids: list[str] | None = None,  # which clips the batch holds, for error reports; not model input
        token_windows: torch.Tensor | None = None,  # (batch, tokens, 2) first/last frame per token (vits.alignment espeak)
    ) -> VitsTrainingOutput:
        vits, cfg = _core(self.tts), self.settings
        text_mask = attention_mask[:, None, :].to(waveform.dtype)  # (batch, 1, tokens)
        encoded = vits.text_encoder(input_ids=input_ids, padding_mask=text_mask.transpose(1, 2),
                                    attention_mask=attention_mask)
        hidden = encoded.last_hidden_state.transpose(1, 2)
        prior_mean = encoded.prior_means.transpose(1, 2)  # (batch, flow channels, tokens)
        prior_log_std = encoded.prior_log_variances.transpose(1, 2)  # named variances, used as log std

        frames = labels.shape[1]
        frame_mask = (torch.arange(frames, device=labels.device)[None] < label_lengths[:, None])[:, None].to(waveform.dtype)
        linear = self.spectrogram.linear(waveform)[..., :frames] * frame_mask
        latents, posterior_mean, posterior_log_std = vits.posterior_encoder(linear, frame_mask)
        latents_p = vits.flow(latents, frame_mask, reverse=False)

        log_likelihood = _prior_log_likelihood(latents_p, prior_mean, prior_log_std).detach()
        if self.alignment_prior_weight > 0:  # vits.alignment_prior_steps: a diagonal start for the search
            log_likelihood = log_likelihood + self.alignment_prior_weight * beta_binomial_log_prior(
                label_lengths, attention_mask.sum(1), frames, input_ids.shape[1]).to(log_likelihood.device)
        if token_windows is not None:  # vits.alignment espeak: each token stays within its phoneme's frames
            log_likelihood = log_likelihood + outside_window_penalty(token_windows, frames)
        alignment = maximum_path(log_likelihood, (frame_mask.transpose(1, 2) * text_mask).bool())  # (batch, frames, tokens)
        durations = alignment.sum(1)[:, None, :]  # (batch, 1, tokens)
        if vits.config.use_stochastic_duration_prediction:
            # not the predictor's own forward(reverse=False): its flow order does not invert (vits/duration.py)
            duration = duration_nll(vits.duration_predictor, hidden, text_mask, durations).sum() / text_mask.sum()
        else:
            predicted = vits.duration_predictor(hidden, text_mask)
            target = torch.log(durations + 1e-6) * text_mask
            duration = ((predicted - target) ** 2).sum() / text_mask.sum()

        expanded_mean = torch.bmm(alignment, prior_mean.transpose(1, 2)).transpose(1, 2)
        expanded_log_std = torch.bmm(alignment, prior_log_std.transpose(1, 2)).transpose(1, 2)
        kl = kl_loss(latents_p, posterior_log_std, expanded_mean, expanded_log_std, frame_mask)

        # A random stretch of each clip through the decoder (decoding whole clips would cost
        # too much memory); the same stretch of the recording is its target.
        size = min(cfg.segment_frames, frames)
        room = (label_lengths - size).clamp(min=0)
        starts = (torch.rand(room.shape, device=room.device) * (room + 1).float()).long().clamp(max=frames - size)
        decoder_input = latents  # vits.posterior_noise 1: the sample, as VITS
        if cfg.posterior_noise != 1.0:
            decoder_input = posterior_mean + cfg.posterior_noise * (latents - posterior_mean)
        generated = vits.decoder(slice_segments(decoder_input, starts, size))
        real = slice_segments(waveform[:, None], starts * self.hop, size * self.hop)
        real_mel = slice_segments(labels.transpose(1, 2), starts, size) * LN10  # labels are log10
        mel = nn.functional.l1_loss(self.spectrogram.log_mel(generated[:, 0]), real_mel)
        dc = waveform_dc_loss(generated, real)

        loss = (cfg.mel_weight * mel + cfg.kl_weight * self.kl_scale * kl + cfg.duration_weight * duration
                + cfg.dc_weight * dc)
        return VitsTrainingOutput(loss=loss, mel_loss=mel.detach(), kl_loss=kl.detach(),
                                  duration_loss=duration.detach(), dc_loss=dc.detach(), generated=generated, real=real)

    @property
    def sampling_rate(self) -> int:
        return int(_core(self.tts).config.sampling_rate)

    def activation_checkpointing_enable(self, activation_checkpointing_kwargs: dict | None = None,
                                        every_n_layers: int = 1, offload: bool = False) -> None:
        """`training.activation_checkpointing: true`: recompute the text encoder's layers in the
        backward pass (VitsModel supports it there; the convolutional parts are not covered)."""
        _core(self.tts).activation_checkpointing_enable(activation_checkpointing_kwargs, every_n_layers, offload)

    @torch.no_grad()
    def generate_waveform(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(samples,) waveform for one utterance, by VitsModel's own inference path."""
        return self.tts(input_ids=input_ids).waveform[0]

    @torch.no_grad()
    def log10_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """(frames, mel bins) log10 mel of a waveform: the same features as the training clips'
        `labels`, so evaluation compares like with like."""
        usable = wave.shape[-1] // self.hop * self.hop
        return (self.spectrogram.log_mel(wave[None, :usable])[0] / LN10).T


def outside_window_penalty(token_windows: torch.Tensor, frames: int) -> torch.Tensor:
    """(batch, frames, tokens): 0 where a frame lies in the token's [first, last] window, a score no
    likelihood outweighs elsewhere. A penalty, not a hard mask, so that a window set that leaves no
    monotonic path (it should not happen) still gives the path that leaves the windows least."""
    frame = torch.arange(frames, device=token_windows.device)[None, :, None]
    inside = (frame >= token_windows[:, None, :, 0]) & (frame <= token_windows[:, None, :, 1])
    return (~inside).float() * -OUTSIDE_WINDOW


def _prior_log_likelihood(z_p: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """log N(z_p[:, :, frame] | mean[:, :, token], exp(log_std)^2), summed over channels:
    (batch, frames, tokens). Expanded into four matrix products instead of one broadcast over
    (batch, channels, frames, tokens), which would need frames x tokens x channels memory."""
    inv_var = torch.exp(-2.0 * log_std)  # (batch, channels, tokens)
    constant = torch.sum(-0.5 * math.log(2 * math.pi) - log_std, dim=1, keepdim=True)  # (batch, 1, tokens)
    quadratic = torch.bmm(-0.5 * (z_p ** 2).transpose(1, 2), inv_var)  # (batch, frames, tokens)
    cross = torch.bmm(z_p.transpose(1, 2), mean * inv_var)
    mean_term = torch.sum(-0.5 * mean ** 2 * inv_var, dim=1, keepdim=True)
    return constant + quadratic + cross + mean_term


@dataclass
class VitsCollator:
    """Pads text with the pad id, log-mels with zeros and waveforms with silence; the true lengths
    travel along (`label_lengths`) so every loss masks the padding."""

    pad_token_id: int
    hop: int

    def __call__(self, rows: list[dict]) -> dict:
        batch, lengths = pad_batch(rows, self.pad_token_id)
        waveform = torch.zeros((len(rows), batch["labels"].shape[1] * self.hop))
        for i, (r, frames) in enumerate(zip(rows, lengths.tolist())):
            waveform[i, : frames * self.hop] = torch.as_tensor(r["waveform"], dtype=torch.float32)
        batch = {**batch, "waveform": waveform, "label_lengths": lengths}
        if rows[0].get("token_windows") is not None:  # vits.alignment espeak; padding tokens may take any frame
            windows = torch.zeros((len(rows), batch["input_ids"].shape[1], 2), dtype=torch.long)
            windows[:, :, 1] = batch["labels"].shape[1] - 1
            for i, r in enumerate(rows):
                windows[i, : len(r["token_windows"])] = torch.as_tensor(r["token_windows"], dtype=torch.long)
            batch["token_windows"] = windows
        return batch


class VitsBackend:
    name = "vits"
    voice_class = VitsVoice
    model_class = VitsModel
    processor_class = VitsTokenizer
    # LoRA on Linear and Conv1d layers: the text encoder's attention and feed-forward, the 1x1
    # projections in and out of the flows, posterior encoder and duration predictor, the decoder's
    # input/output convolutions and its undilated residual convolutions. Left out: dilated
    # convolutions (peft's Conv1d adapter does not copy dilation, so its output would be shorter)
    # and weight-normalised ones (the WaveNet layers; a merge cannot write into a weight_norm
    # parametrisation).
    default_lora: dict = {
        "r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "target_modules": r".*(q_proj|k_proj|v_proj|out_proj|feed_forward\.conv_1|feed_forward\.conv_2"
                          r"|conv_pre|conv_post|conv_proj|convs2\.\d+)$",
    }
    head_prefixes = ("decoder.",)  # head_only: the waveform generator alone
    feature_schema = {"input_ids": List(Value("int32")), "labels": List(List(Value("float32"))),
                      "waveform": List(Value("float32"))}

    def __init__(self, settings: VitsConfig | None = None) -> None:
        self.settings = settings or VitsConfig()

    def model_config(self, cfg: ModelConfig, processor: VitsTokenizer) -> HFVitsConfig:
        """model.init_config sized to the tokenizer, or the pretrained config with the overrides."""
        if cfg.init_config is None:
            return from_pretrained(HFVitsConfig, cfg.name_or_path, "model.name_or_path", **cfg.config_overrides)
        try:
            return HFVitsConfig(**{**cfg.init_config, **cfg.config_overrides}, vocab_size=len(processor),
                                pad_token_id=processor.pad_token_id)
        except (ValueError, TypeError) as err:
            raise UserError(f"model.init_config: not a buildable VITS architecture: {' '.join(str(err).split())}") from None

    def load_model(self, cfg: ModelConfig, processor: VitsTokenizer) -> nn.Module:
        if cfg.init_config is None:
            model = load_model(VitsModel, cfg.name_or_path, "model.name_or_path", cfg.config_overrides,
                               cfg.trust_remote_code)
        else:
            config = self.model_config(cfg, processor)
            try:
                model = VitsModel(config)
            except (ValueError, TypeError) as err:
                raise UserError(f"model.init_config: not a buildable VITS architecture: {' '.join(str(err).split())}") from None
            hifigan_init(model.decoder)
        if model.config.num_speakers > 1:
            raise UserError(f"model.name_or_path: {cfg.name_or_path} is a multi-speaker VITS "
                            f"({model.config.num_speakers} speakers); hf_vclone fine-tunes single-speaker VITS "
                            "(as the facebook/mms-tts-* models are)")
        return model

    def load_processor(self, cfg: ModelConfig, texts: list[str]) -> VitsTokenizer:
        if cfg.init_config is not None and cfg.processor in (None, "build"):
            with tempfile.TemporaryDirectory() as scratch:  # the voice's own save writes it where it belongs
                return build_vits_tokenizer(texts, scratch, add_blank=self.settings.add_blank,
                                            phonemize=self.settings.phonemize)
        return from_pretrained(VitsTokenizer, cfg.processor or cfg.name_or_path, "model.processor",
                               trust_remote_code=cfg.trust_remote_code)

    def feature_spec(self, processor: VitsTokenizer, config: HFVitsConfig) -> FeatureSpec:
        """The model's rate and STFT (its config), with `vits.mel_bins` bands for the mel loss."""
        rate = int(config.sampling_rate)
        spectrogram = spectrogram_for(config, self.settings.mel_bins)
        hop = spectrogram.hop
        aligner = self._espeak_aligner(processor, rate, hop)
        schema = {**self.feature_schema, "token_windows": List(List(Value("int32")))} if aligner else self.feature_schema

        def featurize(wave: np.ndarray, text: str) -> dict:
            ids = processor(text)["input_ids"]
            frames = len(wave) // hop
            if frames < len(ids):
                # Monotonic alignment gives every token at least one frame.
                raise ClipError(f"too short for its text: {frames} frames for {len(ids)} tokens "
                                f"(at {rate / hop:.0f} frames/s)")
            wave = wave[: frames * hop]
            with torch.no_grad():
                mel = spectrogram.log_mel(torch.from_numpy(wave)[None])[0] / LN10
            out = {"input_ids": ids, "labels": mel.T.numpy(), "waveform": wave, "length": frames}
            if aligner is not None:
                out["token_windows"] = aligner.token_windows(processor, text, wave, frames, len(ids))
            return out

        def unknown_characters(text: str) -> list[str]:
            return unread_characters(processor, text)

        return FeatureSpec(rate, featurize, schema, unknown_characters)

    def _espeak_aligner(self, processor: VitsTokenizer, rate: int, hop: int) -> EspeakAligner | None:
        """vits.alignment espeak / espeak_durations: the aligner for the recipe's espeak-ng voice; None for
        the search."""
        if self.settings.alignment not in ("espeak", "espeak_durations"):
            return None
        if not processor.phonemize:
            raise UserError(f"vits.alignment {self.settings.alignment}: the tokenizer reads letters, and espeak-ng's "
                            "timings are per phoneme; use vits.phonemize: true (a built tokenizer) or a phonemizing "
                            "tokenizer")
        return EspeakAligner(espeak_arguments(self.settings.espeak_voice or ""), rate, hop,
                             fixed=self.settings.alignment == "espeak_durations")

    def make_voice(self, tts: nn.Module, speakers: SpeakerTable) -> VitsVoice:
        return VitsVoice(tts, speakers, self.settings)

    def trainer_class(self) -> tuple[type, dict]:
        from ..vits.trainer import VitsTrainer

        return VitsTrainer, {"settings": self.settings}

    def frozen_prefixes(self, tts: nn.Module, cfg: StrategyConfig) -> list[str]:
        return self.lower_layer_prefixes(tts, cfg.freeze_groups)

    def collator(self, tts: nn.Module, processor: VitsTokenizer) -> VitsCollator:
        return VitsCollator(processor.pad_token_id, int(np.prod(_core(tts).config.upsample_rates)))

    def speaker_dim(self, tts: nn.Module) -> int:
        return 0  # single-speaker: no conditioning vector

    def lower_layer_prefixes(self, tts: nn.Module, groups: list[str] | None) -> list[str]:
        names = list(DEFAULT_FROZEN if groups is None else groups)
        unknown = [g for g in names if g not in GROUPS]
        if unknown:
            raise UserError(f"strategy.freeze_groups: unknown part {', '.join(unknown)}; VITS parts: {', '.join(GROUPS)}")
        return [GROUPS[g] for g in names]

    def depth_levels(self, tts: nn.Module) -> list[tuple[str, ...]]:
        return [(GROUPS["text_encoder"],), (GROUPS["duration_predictor"], GROUPS["flow"], GROUPS["posterior_encoder"]),
                (GROUPS["decoder"],)]

    def card_model_line(self, meta: Any) -> str:
        """The model card's line on what turns this voice's output into audio: nothing, it is end to end."""
        return "Model: VITS, end to end (text to waveform; no vocoder)."

    def card_usage(self, meta: Any, where: str, speaker_name: str | None, from_hub: bool) -> list[str]:
        """The model card's snippet that loads and runs this voice with plain transformers (and peft)."""
        if meta.is_adapter:
            return ["With plain transformers and peft:", "", "```python", "import torch",
                    "from peft import PeftModel", "from transformers import VitsModel, VitsTokenizer", "",
                    f'model = PeftModel.from_pretrained(VitsModel.from_pretrained("{meta.base_model}"), "{where}")',
                    f'tokenizer = VitsTokenizer.from_pretrained("{where}")',
                    'with torch.no_grad():',
                    '    audio = model(**tokenizer("Hello from my new voice.", return_tensors="pt")).waveform[0]', "```", ""]
        return ["With plain transformers:", "", "```python", "from transformers import pipeline", "",
                f'speak = pipeline("text-to-speech", model="{where}")',
                'out = speak("Hello from my new voice.")  # {"audio": ..., "sampling_rate": ...}', "```", ""]

    def load_vocoder(self, name: str | None) -> None:
        if name is not None:
            raise UserError("model.vocoder: VITS makes its own waveform; remove model.vocoder")
        return None

    def text_tokenizer(self, processor: VitsTokenizer) -> VitsTokenizer:
        return processor

    def speak(self, voice: VitsVoice, input_ids: torch.Tensor, speaker: torch.Tensor, minlenratio: float,
              maxlenratio: float, processor: Any, vocoder: None, audio: bool = True) -> Utterance:
        """VITS speaks the waveform; the mel is measured on it, with the same features as the
        training clips' labels. Length ratios do not apply: its durations come from the duration
        predictor, not from a stop token. No alignment: VITS has no attention to show. Its
        text-to-frame alignment is hard, one token per run of frames from the predicted durations,
        and VitsModel does not return it; a plot of that staircase would be diagonal by construction."""
        wave = voice.generate_waveform(input_ids)
        return Utterance(voice.log10_mel(wave).numpy(), wave.numpy() if audio else None, None)
