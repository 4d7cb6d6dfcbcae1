"""Tacotron 2 backend: text -> natural-log mel with Tacotron2ForTextToSpeech, then a vocoder
(a Tacotron-2-compatible HiFi-GAN named by `model.vocoder`, or Griffin-Lim offline).

The founding documents' pipeline: a pretrained Tacotron 2 fine-tuned to a voice, its encoder
frozen (`strategy: freeze_lower`), its decoder, attention and postnet trained. Voices are
single-speaker, as the published Tacotron 2 models are (the voice lives in the weights), unless
the config's `speaker_embedding_dim` is set: then the speaker table's vectors condition it, as
SpeechT5's do (a base trained on several voices with `speaker.mode: per_speaker`, a clone that
learns its own vector).

Clips keep their log-mels on the evaluation's scale (log10) in `labels`, as the other backends do;
the voice converts them to the model's natural log at the door.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import List, Value
from peft import PeftModel
from torch import nn
from transformers import VitsTokenizer

from ...config import ModelConfig, StrategyConfig
from ...data.audio import ClipError
from ...data.collator import pad_batch
from ...data.prepare import FeatureSpec
from ...errors import UserError
from ..backend import Utterance
from ..char_tokenizer import build_vits_tokenizer
from ..loading import from_pretrained, load_model
from ..speakers import SpeakerTable
from ..tacotron2_section import Tacotron2Settings
from .audio import Tacotron2Mel, griffin_lim
from .configuration import Tacotron2Config
from .modeling import Tacotron2ForTextToSpeech

LN10 = math.log(10.0)
# freeze_lower's named parts, bottom (text side) to top (spectrogram side)
GROUPS = {
    "embedding": ("embedding.",),
    "encoder": ("encoder.",),
    "attention": ("decoder.prenet.", "decoder.attention_rnn.", "decoder.attention_layer."),
    "decoder": ("decoder.decoder_rnn.", "decoder.linear_projection.", "decoder.gate_layer."),
    "postnet": ("postnet.",),
    "speaker": ("speaker_projection.",),  # a multi-speaker model's speaker vector -> encoder offset
}
# the documents' recipe: the text side stays as pretrained; a multi-speaker base also keeps the
# space its voices span (the clone learns its own vector in it, and its decoder)
DEFAULT_FROZEN = ("embedding", "encoder", "speaker")


def _core(tts: nn.Module) -> Tacotron2ForTextToSpeech:
    return tts.get_base_model() if isinstance(tts, PeftModel) else tts


class Tacotron2Voice(nn.Module):
    """Tacotron2ForTextToSpeech (or a peft model around it) plus the speaker table (empty
    vectors for a single-speaker model)."""

    def __init__(self, tts: nn.Module, speakers: SpeakerTable) -> None:
        super().__init__()
        self.tts = tts
        self.speakers = speakers

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor,
                labels_attention_mask: torch.Tensor, speaker_ids: torch.Tensor | None = None,
                clip_ids: list[str] | None = None) -> Any:
        speaker = None
        if _core(self.tts).config.speaker_embedding_dim:
            if speaker_ids is None:
                speaker_ids = torch.zeros(input_ids.shape[0], dtype=torch.long, device=input_ids.device)
            speaker = self.speakers(speaker_ids)
        return self.tts(input_ids=input_ids, attention_mask=attention_mask, labels=labels * LN10,
                        labels_attention_mask=labels_attention_mask, speaker_embeddings=speaker)

    def train(self, mode: bool = True) -> Tacotron2Voice:
        """A BatchNorm whose weights a strategy froze keeps its running statistics too: in training
        mode it would re-estimate them from the new voice's batches, and the frozen encoder would
        drift after all."""
        super().train(mode)
        if mode:
            for module in self.modules():
                if isinstance(module, nn.BatchNorm1d) and not any(p.requires_grad for p in module.parameters()):
                    module.eval()
        return self

    @property
    def sampling_rate(self) -> int:
        return int(_core(self.tts).config.sampling_rate)


@dataclass
class Tacotron2Collator:
    """Pads text with the pad id and log-mels with zeros; the masks say which tokens and frames are real."""

    pad_token_id: int

    def __call__(self, rows: list[dict]) -> dict:
        batch, lengths = pad_batch(rows, self.pad_token_id)
        frames = torch.arange(batch["labels"].shape[1])[None] < lengths[:, None]
        return {**batch, "labels_attention_mask": frames.long()}


class Tacotron2Backend:
    name = "tacotron2"
    model_class = Tacotron2ForTextToSpeech
    processor_class = VitsTokenizer
    # LoRA on every Linear (`linear_layer`) and Conv1d (`conv`) outside the postnet, and on the
    # decoder's two LSTM cells' weight matrices through peft's `target_parameters` (an LSTMCell is
    # not an nn.Linear); the postnet, small and the part that shapes the voice's spectral detail,
    # trains whole and is saved with the adapter (`modules_to_save`). The encoder's BiLSTM keeps
    # its weights: nn.LSTM reads them from a flat cache that parametrisation does not reach.
    default_lora: dict = {
        "r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
        "target_modules": r"^(embedding|encoder|decoder)\..*\.(linear_layer|conv)$",
        "target_parameters": [f"decoder.{cell}.{w}" for cell in ("attention_rnn", "decoder_rnn")
                              for w in ("weight_ih", "weight_hh")],
        "modules_to_save": ["postnet"],
    }
    head_prefixes = ("decoder.linear_projection.", "decoder.gate_layer.", "postnet.")  # head_only
    feature_schema = {"input_ids": List(Value("int32")), "labels": List(List(Value("float32")))}

    def __init__(self, settings: Tacotron2Settings | None = None) -> None:
        self.settings = settings or Tacotron2Settings()

    # ---- building ------------------------------------------------------------------------------
    def load_processor(self, cfg: ModelConfig, texts: list[str]) -> VitsTokenizer:
        """A character tokenizer (no blank tokens between characters, as Tacotron 2 reads text)."""
        if cfg.init_config is not None and cfg.processor in (None, "build"):
            import tempfile

            with tempfile.TemporaryDirectory() as scratch:  # the voice's own save writes it where it belongs
                return build_vits_tokenizer(texts, scratch, add_blank=False)
        return from_pretrained(VitsTokenizer, cfg.processor or cfg.name_or_path, "model.processor",
                               trust_remote_code=cfg.trust_remote_code)

    def model_config(self, cfg: ModelConfig, processor: VitsTokenizer) -> Tacotron2Config:
        """model.init_config sized to the tokenizer, or the pretrained config with the overrides."""
        if cfg.init_config is None:
            return from_pretrained(Tacotron2Config, cfg.name_or_path, "model.name_or_path", **cfg.config_overrides)
        try:
            return Tacotron2Config(**{**cfg.init_config, **cfg.config_overrides}, vocab_size=len(processor),
                                   pad_token_id=processor.pad_token_id)
        except (ValueError, TypeError) as err:
            raise UserError(f"model.init_config: not a buildable Tacotron 2: {' '.join(str(err).split())}") from None

    def load_model(self, cfg: ModelConfig, processor: VitsTokenizer) -> nn.Module:
        if cfg.init_config is None:
            model = load_model(Tacotron2ForTextToSpeech, cfg.name_or_path, "model.name_or_path",
                               cfg.config_overrides, cfg.trust_remote_code)
        else:
            model = Tacotron2ForTextToSpeech(self.model_config(cfg, processor))
        if model.config.vocab_size < len(processor):
            raise UserError(f"model.processor: the tokenizer has {len(processor)} symbols, the model's embedding "
                            f"{model.config.vocab_size}; use the tokenizer saved with {cfg.name_or_path}")
        return model

    def load_vocoder(self, name: str | None) -> nn.Module | None:
        """A vocoder trained on Tacotron 2's natural-log mels, `(frames, mels) -> waveform`: a HiFi-GAN
        in transformers' SpeechT5HifiGan layout or a WaveGlow (`hf-vclone convert hifigan|waveglow`
        writes either from the published checkpoints); none: Griffin-Lim."""
        if name is None:
            return None
        from transformers import PretrainedConfig, SpeechT5HifiGan

        from ..waveglow import WaveGlowVocoder

        try:  # a local folder or a Hub id alike; what cannot be read is reported by load_model below
            kind = PretrainedConfig.get_config_dict(str(Path(name).expanduser()))[0].get("model_type")
        except (OSError, ValueError):
            kind = None
        return load_model(WaveGlowVocoder if kind == "waveglow" else SpeechT5HifiGan, name, "model.vocoder").eval()

    def speaker_dim(self, tts: nn.Module) -> int:
        return int(_core(tts).config.speaker_embedding_dim)  # 0: single-speaker, no conditioning vector

    def make_voice(self, tts: nn.Module, speakers: SpeakerTable) -> Tacotron2Voice:
        return Tacotron2Voice(tts, speakers)

    # ---- data ----------------------------------------------------------------------------------
    def feature_spec(self, processor: VitsTokenizer, config: Tacotron2Config) -> FeatureSpec:
        """The published mel definition at the model's rate and STFT (its config)."""
        mel = Tacotron2Mel(config)
        vocab = set(processor.get_vocab())

        def featurize(wave: np.ndarray, text: str) -> dict:
            ids = processor(text)["input_ids"]
            if not ids:
                raise ClipError("no characters the tokenizer knows in the transcript")
            with torch.no_grad():
                log_mel = mel(torch.from_numpy(wave)[None])[0] / LN10
            return {"input_ids": ids, "labels": log_mel.numpy(), "length": int(log_mel.shape[0])}

        def unknown_characters(text: str) -> list[str]:
            seen = processor.normalize_text(text) if processor.normalize else text
            return sorted({ch for ch in seen if ch not in vocab})

        return FeatureSpec(int(config.sampling_rate), featurize, self.feature_schema, unknown_characters)

    def collator(self, tts: nn.Module, processor: VitsTokenizer) -> Tacotron2Collator:
        return Tacotron2Collator(processor.pad_token_id)

    def text_tokenizer(self, processor: VitsTokenizer) -> VitsTokenizer:
        return processor

    # ---- training ------------------------------------------------------------------------------
    def trainer_class(self) -> tuple[type, dict]:
        from ...trainer import VoiceTrainer

        return VoiceTrainer, {}

    def frozen_prefixes(self, tts: nn.Module, cfg: StrategyConfig) -> list[str]:
        names = list(DEFAULT_FROZEN if cfg.freeze_groups is None else cfg.freeze_groups)
        unknown = [g for g in names if g not in GROUPS]
        if unknown:
            raise UserError(f"strategy.freeze_groups: unknown part {', '.join(unknown)}; "
                            f"Tacotron 2 parts: {', '.join(GROUPS)}")
        return [prefix for g in names for prefix in GROUPS[g]]

    def depth_levels(self, tts: nn.Module) -> list[tuple[str, ...]]:
        return [GROUPS["embedding"] + GROUPS["encoder"] + GROUPS["speaker"], GROUPS["attention"], GROUPS["decoder"],
                GROUPS["postnet"]]

    # ---- speaking ------------------------------------------------------------------------------
    def speak(self, voice: Tacotron2Voice, input_ids: torch.Tensor, speaker: torch.Tensor, minlenratio: float,
              maxlenratio: float, processor: Any, vocoder: nn.Module | None, audio: bool = True) -> Utterance:
        """Free-running until the stop gate fires, at most `maxlenratio` frames per text token;
        then the vocoder (or Griffin-Lim). The alignment is the decoder's attention."""
        model = _core(voice.tts)  # under LoRA too: peft put its layers inside this model
        config = model.config
        steps = max(1, min(config.max_decoder_steps, math.ceil(maxlenratio * input_ids.shape[1])))
        vector = speaker.reshape(1, -1).to(input_ids.device) if config.speaker_embedding_dim else None
        out = model.generate(input_ids=input_ids, max_decoder_steps=steps, speaker_embeddings=vector)
        length = int(out.lengths[0])
        mel = out.spectrogram[0, :length].float()  # natural log
        wave = None
        if audio:
            if vocoder is not None:
                with torch.no_grad():
                    wave = vocoder(mel).numpy()
            else:
                wave = griffin_lim(mel.numpy(), config, self.settings.griffin_lim_iters)
        return Utterance((mel / LN10).numpy(), wave, out.alignments[0, :length].float().numpy())

    # ---- the model card ------------------------------------------------------------------------
    def card_model_line(self, meta: Any) -> str:
        vocoder = meta.vocoder or "Griffin-Lim (no neural vocoder named)"
        return f"Model: Tacotron 2 (text to mel spectrogram), vocoder: {vocoder}."

    def card_usage(self, meta: Any, where: str, speaker_name: str | None, from_hub: bool) -> list[str]:
        return ["With hf_vclone (transformers has no Tacotron 2):", "", "```python",
                "from hf_vclone.synthesize import load_voice", "",
                f'audio, rate = load_voice("{where}").synthesize("Hello from my new voice.")', "```", ""]
