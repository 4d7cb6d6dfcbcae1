"""SpeechT5 backend: text -> log-mel with SpeechT5ForTextToSpeech, mel -> audio with HiFi-GAN or Griffin-Lim.

Everything model-specific the rest of hf_vclone needs lives here: how to load (from the Hub, a
local `save_pretrained` folder, or from scratch with a corpus-built tokenizer), how to featurise
a clip, how to batch, which parameters are "lower layers", the LoRA defaults, and how to speak.
"""

from __future__ import annotations

import tempfile
import unicodedata
from typing import Any

import numpy as np
import torch
from datasets import List, Value
from torch import nn
from transformers import (SpeechT5Config, SpeechT5ForTextToSpeech, SpeechT5HifiGan, SpeechT5Processor, VitsTokenizer,
                          TrainerCallback)
from transformers.models.speecht5.modeling_speecht5 import shift_spectrograms_right

from ..alignment import most_diagonal
from ..config import ModelConfig, SpeechT5TrainingConfig, StrategyConfig
from ..data.collator import SpectrogramCollator
from ..data.features import LogMel
from ..data.prepare import FeatureSpec
from .char_tokenizer import build_processor, unread_characters
from .loading import from_pretrained, load_model
from ..errors import UserError
from ..griffin_lim import mel_to_audio as griffin_lim
from .backend import Utterance
from .speakers import SpeakerTable


class SpeechT5Voice(nn.Module):
    """SpeechT5 plus the speaker table that conditions it; the unit the Trainer trains."""

    def __init__(self, tts: nn.Module, speakers: SpeakerTable, scheduled_sampling: float = 0.0,
                 text_only: float = 0.0) -> None:
        super().__init__()
        self.tts = tts
        self.speakers = speakers
        self.scheduled_sampling = scheduled_sampling
        self.text_only = text_only

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        speaker_ids: torch.Tensor | None = None,
        clip_ids: list[str] | None = None,  # which clips the batch holds, for error reports; not model input
    ) -> Any:
        if speaker_ids is None:
            speaker_ids = torch.zeros(input_ids.shape[0], dtype=torch.long, device=input_ids.device)
        speaker = self.speakers(speaker_ids)
        decoder_inputs = None
        if self.training and labels is not None and self.scheduled_sampling > 0:
            decoder_inputs = self.sampled_decoder_inputs(input_ids, attention_mask, labels, speaker)
        if self.training and labels is not None and self.text_only > 0:
            decoder_inputs = self.text_only_decoder_inputs(labels, decoder_inputs)
        return self.tts(input_ids=input_ids, attention_mask=attention_mask, labels=labels,
                        decoder_input_values=decoder_inputs, speaker_embeddings=speaker)

    def sampled_decoder_inputs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None,
                               labels: torch.Tensor, speaker: torch.Tensor) -> torch.Tensor:
        """Decoder inputs, one frame per step, where a random `scheduled_sampling` share of steps
        holds the model's own prediction of that frame (a teacher-forced pass without gradients)
        instead of the real one: parallel scheduled sampling (Duckworth et al., 2019).

        Why: fed only real frames, a decoder learns that the next frame is the previous one
        continued and ignores the text. The quickstart base did: teacher-forced on another
        sentence's frames it read that sentence, not its text; free-running (fed its own frames)
        it spoke memorised phrases along a perfect alignment. A prediction is what it is fed at
        inference, and it is worse evidence than a real frame, so the text must carry the content.
        The prediction fed is the pre-postnet frame, as in `generate`."""
        tts, r = self.tts, self.tts.config.reduction_factor
        real, _ = shift_spectrograms_right(labels, r)
        with torch.no_grad():
            hidden = tts.speecht5(input_values=input_ids, attention_mask=attention_mask, decoder_input_values=real,
                                  speaker_embeddings=speaker, return_dict=True).last_hidden_state
            frames = tts.speech_decoder_postnet.feat_out(hidden).view(hidden.shape[0], -1, tts.config.num_mel_bins)
        predicted = torch.zeros_like(real)
        predicted[:, 1:] = frames[:, r - 1 :: r][:, : real.shape[1] - 1]
        use = torch.rand(real.shape[0], real.shape[1], 1, device=real.device) < self.scheduled_sampling
        return torch.where(use, predicted, real)

    def text_only_decoder_inputs(self, labels: torch.Tensor, decoder_inputs: torch.Tensor | None) -> torch.Tensor:
        """Decoder inputs where a random `text_only` share of the clips is fed silence (zeros) at
        every step, so that for them every frame must come from the text and the positions.

        Why: teacher-forced, reading the text pays only at the few frames where the next sound
        cannot be guessed by continuing the previous ones, so a decoder learns to read slowly
        (benchmarks/README.md, "Why the quickstart base did not speak", item 6). On a clip fed
        nothing, the whole loss depends on reading, which trains the cross-attention's content
        path that the autoregressive clips share. Inference is unchanged (`generate`)."""
        if decoder_inputs is None:
            decoder_inputs, _ = shift_spectrograms_right(labels, self.tts.config.reduction_factor)
        silent = torch.rand(decoder_inputs.shape[0], 1, 1, device=decoder_inputs.device) < self.text_only
        return decoder_inputs.masked_fill(silent, 0.0)

    def activation_checkpointing_enable(self, activation_checkpointing_kwargs: dict | None = None,
                                        every_n_layers: int = 1, offload: bool = False) -> None:
        """`training.activation_checkpointing: true` (the Trainer calls this): recompute
        activations in the backward pass instead of storing them, trading compute for memory."""
        self.tts.activation_checkpointing_enable(activation_checkpointing_kwargs, every_n_layers, offload)

    def train(self, mode: bool = True) -> "SpeechT5Voice":
        """Frozen means frozen: a BatchNorm whose weights do not train keeps its running
        statistics too. Otherwise they drift in train mode, are missing from a LoRA adapter,
        and a reloaded voice sounds different from the one that was trained (STACK.md)."""
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                if not any(p.requires_grad for p in module.parameters()):
                    module.eval()
        return self

    @torch.no_grad()
    def generate_mel(
        self, input_ids: torch.Tensor, speaker: torch.Tensor, minlenratio: float = 0.0, maxlenratio: float = 20.0
    ) -> torch.Tensor:
        """Autoregressive log-mel for one utterance, (frames, mel bins)."""
        return self.tts.generate(
            input_ids, speaker_embeddings=speaker.reshape(1, -1), minlenratio=minlenratio, maxlenratio=maxlenratio
        )

    @torch.no_grad()
    def generate_mel_and_attention(
        self, input_ids: torch.Tensor, speaker: torch.Tensor, minlenratio: float = 0.0, maxlenratio: float = 20.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`generate_mel`'s log-mel, (frames, mel bins), and the decoder's cross-attention from the
        same free-running pass, (layers, heads, steps, tokens), one step per `reduction_factor`
        frames. One pass, not two: the prenet's dropout is random even at inference, so a second
        generation would not be the utterance whose mel is scored."""
        return self.tts.generate(
            input_ids, speaker_embeddings=speaker.reshape(1, -1), minlenratio=minlenratio, maxlenratio=maxlenratio,
            output_cross_attentions=True,
        )


class ScheduledSamplingRamp(TrainerCallback):
    """Sets the voice's scheduled-sampling share before every training step: 0 until step
    `start`, then rising linearly to `share` over `ramp` steps (at once when `ramp` is 0).

    Why not from step 0: a model trained from scratch predicts the clip's mean frame for its
    first thousand steps; fed that instead of real frames, it never found its alignment
    (benchmarks/README.md item 8). A callback, because only the Trainer knows the step; the
    share depends on nothing else, so a resumed run continues the same schedule."""

    def __init__(self, share: float, start: int, ramp: int) -> None:
        self.share, self.start, self.ramp = share, start, ramp

    def share_at(self, step: int) -> float:
        if step < self.start:
            return 0.0
        if self.ramp == 0:
            return self.share
        return self.share * min(1.0, (step - self.start) / self.ramp)

    def on_step_begin(self, args: Any, state: Any, control: Any, model: nn.Module | None = None, **kwargs: Any) -> None:
        if model is not None:
            model.scheduled_sampling = self.share_at(state.global_step)


def init_text_embedding(model: SpeechT5ForTextToSpeech) -> None:
    """Token embeddings ~ N(0, 1) in a model trained from scratch, as in ESPnet's Transformer-TTS.

    SpeechT5's text prenet adds a sinusoidal positional encoding of amplitude 1 to the token
    embeddings, but transformers initialises embeddings with std `initializer_range` (0.02): the
    text is then 1/30 of the encoder's input, and a model trained from there learns position only.
    The old quickstart base did exactly that: after 1,600 steps its encoder outputs for two
    unrelated sentences had cosine 0.986 at equal positions, its attention was a clean diagonal
    over nothing, and every sample was a drone (benchmarks/README.md, "Why the base did not speak").
    """
    embed = model.speecht5.encoder.prenet.embed_tokens
    with torch.no_grad():
        embed.weight.normal_(0.0, 1.0)
        if embed.padding_idx is not None:
            embed.weight[embed.padding_idx].zero_()


class SpeechT5Backend:
    name = "speecht5"
    voice_class = SpeechT5Voice
    model_class = SpeechT5ForTextToSpeech
    processor_class = SpeechT5Processor
    # LoRA on attention, with the postnet (incl. its BatchNorm) trained and saved whole.
    default_lora: dict = {
        "r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "target_modules": ["q_proj", "k_proj", "v_proj", "out_proj"],
        "modules_to_save": ["speech_decoder_postnet"],
    }

    def __init__(self, settings: SpeechT5TrainingConfig | None = None) -> None:
        self.settings = settings or SpeechT5TrainingConfig()

    def model_config(self, cfg: ModelConfig, processor: SpeechT5Processor) -> SpeechT5Config:
        """model.init_config sized to the processor's vocabulary, or the pretrained config."""
        if cfg.init_config is None:
            return from_pretrained(SpeechT5Config, cfg.name_or_path, "model.name_or_path", **cfg.config_overrides)
        tok = processor.tokenizer
        try:
            return SpeechT5Config(
                **{**cfg.init_config, **cfg.config_overrides}, vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.bos_token_id,
            )
        except (ValueError, TypeError) as err:
            raise UserError(f"model.init_config: not a buildable SpeechT5 architecture: {' '.join(str(err).split())}") from None

    def load_model(self, cfg: ModelConfig, processor: SpeechT5Processor) -> nn.Module:
        """Pretrained weights, or (with model.init_config) a fresh model sized to the processor's vocabulary."""
        if cfg.init_config is None:
            return load_model(SpeechT5ForTextToSpeech, cfg.name_or_path, "model.name_or_path", cfg.config_overrides,
                              cfg.trust_remote_code)
        config = self.model_config(cfg, processor)
        try:
            model = SpeechT5ForTextToSpeech(config)
        except (ValueError, TypeError) as err:
            raise UserError(f"model.init_config: not a buildable SpeechT5 architecture: {' '.join(str(err).split())}") from None
        init_text_embedding(model)
        return model

    def load_processor(self, cfg: ModelConfig, texts: list[str]) -> SpeechT5Processor:
        """The model's processor; for a model trained from scratch, a character tokenizer built
        from `texts` when `model.processor` is "build" (or unset)."""
        if cfg.init_config is not None and cfg.processor in (None, "build"):
            # Built in a scratch folder: the voice's own save writes the processor where it belongs.
            with tempfile.TemporaryDirectory() as scratch:
                return build_processor(texts, scratch, phonemize=self.settings.phonemize)
        return from_pretrained(SpeechT5Processor, cfg.processor or cfg.name_or_path, "model.processor",
                               trust_remote_code=cfg.trust_remote_code)

    # Arrow types of the featurizer's outputs
    feature_schema = {"input_ids": List(Value("int32")), "labels": List(List(Value("float32")))}

    def feature_spec(self, processor: SpeechT5Processor, config: SpeechT5Config) -> FeatureSpec:
        """The processor's own log-mel and tokenizer (the model's config adds nothing to them)."""
        extractor, tokenizer = processor.feature_extractor, processor.tokenizer
        vocab = set(tokenizer.get_vocab())

        log_mel = LogMel(extractor)

        def featurize(wave: np.ndarray, text: str) -> dict:
            mel = log_mel(wave)
            return {"input_ids": tokenizer(text)["input_ids"], "labels": mel, "length": len(mel)}

        def unknown_characters(text: str) -> list[str]:
            if isinstance(tokenizer, VitsTokenizer):  # a phonemizing base (speecht5.phonemize)
                return unread_characters(tokenizer, text)
            # SpeechT5's tokenizer is character-level sentencepiece: a character outside the
            # vocabulary becomes <unk>, which the model would read as noise. Sentencepiece
            # NFKC-normalises first, so a character counts as known if its NFKC form is.
            return sorted({
                ch for ch in text
                if not ch.isspace() and not all(c in vocab for c in unicodedata.normalize("NFKC", ch) if not c.isspace())
            })

        return FeatureSpec(int(extractor.sampling_rate), featurize, self.feature_schema, unknown_characters)

    def collator(self, tts: nn.Module, processor: SpeechT5Processor) -> SpectrogramCollator:
        return SpectrogramCollator(processor.tokenizer.pad_token_id, tts.config.reduction_factor)

    def speaker_dim(self, tts: nn.Module) -> int:
        return int(tts.config.speaker_embedding_dim)

    def make_voice(self, tts: nn.Module, speakers: SpeakerTable) -> SpeechT5Voice:
        s = self.settings
        # A ramped share is set step by step by ScheduledSamplingRamp (trainer_class); it starts at 0.
        return SpeechT5Voice(tts, speakers, 0.0 if self._ramped else s.scheduled_sampling, s.text_only)

    @property
    def _ramped(self) -> bool:
        """Scheduled sampling that starts late or rises over steps (speecht5.scheduled_sampling_start/_ramp)."""
        return self.settings.scheduled_sampling_start > 0 or self.settings.scheduled_sampling_ramp > 0

    def trainer_class(self) -> tuple[type, dict]:
        """The Trainer subclass that trains this backend, and its extra arguments."""
        from ..trainer import VoiceTrainer

        s = self.settings
        if s.scheduled_sampling > 0 and self._ramped:
            return VoiceTrainer, {"callbacks": [ScheduledSamplingRamp(s.scheduled_sampling, s.scheduled_sampling_start,
                                                                      s.scheduled_sampling_ramp)]}
        return VoiceTrainer, {}

    def frozen_prefixes(self, tts: nn.Module, cfg: StrategyConfig) -> list[str]:
        return self.lower_layer_prefixes(tts, cfg.freeze_layers)

    def lower_layer_prefixes(self, tts: nn.Module, n: int) -> list[str]:
        """Text embeddings and prenets, then the lowest `n` encoder and decoder layers."""
        enc = len(tts.speecht5.encoder.wrapped_encoder.layers)
        dec = len(tts.speecht5.decoder.wrapped_decoder.layers)
        if not 0 <= n <= min(enc, dec):
            raise UserError(f"strategy.freeze_layers={n}, but the model has {enc} encoder and {dec} decoder layers")
        prefixes = ["speecht5.encoder.prenet.", "speecht5.decoder.prenet."]
        prefixes += [f"speecht5.encoder.wrapped_encoder.layers.{i}." for i in range(n)]
        prefixes += [f"speecht5.decoder.wrapped_decoder.layers.{i}." for i in range(n)]
        return prefixes

    # The output heads ("fixed feature extractor" fine-tuning trains only these): the postnet with
    # feat_out/prob_out, and the layer that projects the speaker vector into the decoder.
    head_prefixes = ("speech_decoder_postnet.", "speecht5.decoder.prenet.speaker_embeds_layer.")

    def depth_levels(self, tts: nn.Module) -> list[tuple[str, ...]]:
        """Parameter-name prefixes from the bottom of the network to the top, for layer-wise rates.

        Level 0 is the input side (token embeddings, prenets, the encoder's relative positions);
        then encoder and decoder layers by relative depth, so a 6-layer encoder and a 3-layer
        decoder both span the same ladder; the heads are the top level. Anything not named here
        (final layer norms) counts as top: it sits right under the heads."""
        enc = len(tts.speecht5.encoder.wrapped_encoder.layers)
        dec = len(tts.speecht5.decoder.wrapped_decoder.layers)
        depth = max(enc, dec)
        levels: list[list[str]] = [[] for _ in range(depth + 2)]
        levels[0] += ["speecht5.encoder.prenet.", "speecht5.encoder.wrapped_encoder.embed_positions.",
                      "speecht5.decoder.prenet.layers.", "speecht5.decoder.prenet.final_layer.",
                      "speecht5.decoder.prenet.encode_positions."]
        for i in range(enc):
            levels[1 + i * depth // enc].append(f"speecht5.encoder.wrapped_encoder.layers.{i}.")
        for i in range(dec):
            levels[1 + i * depth // dec].append(f"speecht5.decoder.wrapped_decoder.layers.{i}.")
        levels[-1] += list(self.head_prefixes)
        return [tuple(level) for level in levels]

    def card_model_line(self, meta: Any) -> str:
        """The model card's line on what turns this voice's output into audio."""
        return (f"Vocoder: `{meta.vocoder}`." if meta.vocoder else
                "Vocoder: none named (hf_vclone uses Griffin-Lim; pass a HiFi-GAN for better audio).")

    def card_usage(self, meta: Any, where: str, speaker_name: str | None, from_hub: bool) -> list[str]:
        """The model card's snippet that loads and runs this voice with plain transformers (and peft)."""
        speaker_file = "speaker_embeddings.safetensors"
        load = ["from huggingface_hub import hf_hub_download" if from_hub else "import os",
                "from safetensors.torch import load_file"]
        path = f'hf_hub_download("{where}", "{speaker_file}")' if from_hub else f'os.path.join("{where}", "{speaker_file}")'
        if meta.is_adapter:
            model = ["from peft import PeftModel", "from transformers import SpeechT5ForTextToSpeech, SpeechT5Processor", "",
                     f'base = SpeechT5ForTextToSpeech.from_pretrained("{meta.base_model}")',
                     f'model = PeftModel.from_pretrained(base, "{where}")  # or base.load_adapter("{where}")']
        else:
            model = ["from transformers import SpeechT5ForTextToSpeech, SpeechT5Processor", "",
                     f'model = SpeechT5ForTextToSpeech.from_pretrained("{where}")']
        return ["With plain transformers" + (" and peft" if meta.is_adapter else "") + " (a log-mel spectrogram; "
                "pass `vocoder=` a `SpeechT5HifiGan` to get audio):", "", "```python", *load, *model,
                f'processor = SpeechT5Processor.from_pretrained("{where}")',
                f"speaker = load_file({path})[\"{speaker_name}\"]" if speaker_name
                else f"speaker = next(iter(load_file({path}).values()))",
                'inputs = processor(text="Hello from my new voice.", return_tensors="pt")',
                'mel = model.generate(inputs["input_ids"], speaker_embeddings=speaker[None])', "```", ""]

    def load_vocoder(self, name: str | None) -> nn.Module | None:
        return None if name is None else load_model(SpeechT5HifiGan, name, "model.vocoder").eval()

    def text_tokenizer(self, processor: SpeechT5Processor) -> Any:
        return processor.tokenizer

    def speak(self, voice: SpeechT5Voice, input_ids: torch.Tensor, speaker: torch.Tensor, minlenratio: float,
              maxlenratio: float, processor: SpeechT5Processor, vocoder: nn.Module | None,
              audio: bool = True) -> Utterance:
        """The acoustic model's log10 mel and cross-attention from one generation, then the vocoder
        (HiFi-GAN, or Griffin-Lim without one) unless only the mel is wanted."""
        mel, attention = voice.generate_mel_and_attention(input_ids, speaker, minlenratio, maxlenratio)
        mel = mel.numpy()
        wave = self.mel_to_audio(mel, processor, vocoder) if audio else None
        return Utterance(mel, wave, self.alignment(voice.tts.config, attention))

    @staticmethod
    def alignment(config: SpeechT5Config, attention: torch.Tensor) -> np.ndarray:
        """(steps, tokens) from (layers, heads, steps, tokens) cross-attention: each layer averaged
        over its alignment heads, then the most diagonal layer (alignment.most_diagonal says why).

        The alignment heads are those the guided-attention loss trains to be diagonal (the first
        `guided_attention_loss_num_heads` of every layer, when `use_guided_attention_loss`; all
        heads otherwise). The other heads are free and look anywhere: in the quickstart base (4 heads,
        2 guided) the guided heads drew a clean diagonal in every layer (diagonality 0.99), and
        averaging in the other two turned it into a haze that scored 0.39-0.53."""
        heads = config.guided_attention_loss_num_heads if config.use_guided_attention_loss else None
        return most_diagonal(attention[:, :heads].float().mean(dim=1).numpy())

    def mel_to_audio(self, mel: np.ndarray, processor: SpeechT5Processor, vocoder: nn.Module | None) -> np.ndarray:
        """HiFi-GAN when the recipe names one; otherwise Griffin-Lim with the extractor's own STFT settings."""
        if vocoder is not None:
            with torch.no_grad():
                return vocoder(torch.as_tensor(mel)).numpy()
        fe = processor.feature_extractor
        return griffin_lim(np.power(10.0, mel.T), fe.sampling_rate, fe.n_fft, fe.sample_stride,
                           fe.sample_size, fe.fmin, fe.fmax)
