"""`hf-vclone export DIR OUT --onnx`: a VITS voice as one ONNX graph, token ids -> waveform, which
onnxruntime runs without torch or transformers (on a phone, a server without CUDA, in a browser).

The graph takes four inputs: `input_ids` (int64, 1 x tokens, any length), and the three sampling
knobs VitsModel keeps as attributes, as float32 scalars so one file serves every setting:
`noise_scale` (prior noise: expressiveness), `length_scale` (1 / speaking rate) and
`noise_scale_duration` (duration noise). With both noise scales 0 the output is deterministic and
equals torch's (tests/test_onnx_export.py states the tolerance); with noise, onnxruntime draws its
own random numbers, so the two differ sample by sample, as two torch seeds do.

It is exported with torch's TorchScript tracer (`dynamo=False`): VITS' output length depends on its
predicted durations (`arange(lengths.max())`), which the tracer records as graph operations,
while torch.export needs those data-dependent sizes declared by hand inside transformers' code.
A LoRA voice is merged first. Beside `model.onnx` go the tokenizer's `vocab.json` and
`onnx_config.json` (sampling rate, how to turn text into ids), so a user needs only those files.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel
from torch import nn

from .errors import UserError
from .export import read_voice
from .voice_io import VoiceMeta, read_meta

ONNX_FILE = "model.onnx"
CONFIG_FILE = "onnx_config.json"
INPUTS = ("input_ids", "noise_scale", "length_scale", "noise_scale_duration")


class OnnxVits(nn.Module):
    """VitsModel's inference with the sampling knobs as tensor inputs instead of attributes."""

    def __init__(self, vits: nn.Module) -> None:
        super().__init__()
        self.vits = vits

    def forward(self, input_ids: torch.Tensor, noise_scale: torch.Tensor, length_scale: torch.Tensor,
                noise_scale_duration: torch.Tensor) -> torch.Tensor:
        # VitsModel reads these attributes in its forward; as tensors they become graph inputs.
        self.vits.noise_scale = noise_scale
        self.vits.noise_scale_duration = noise_scale_duration
        return self.vits(input_ids=input_ids, speaking_rate=1.0 / length_scale).waveform


def vits_model(directory: str | Path) -> tuple[nn.Module, Any, VoiceMeta]:
    """(the plain VitsModel of a saved voice, LoRA merged, in eval mode; its tokenizer; its meta)."""
    meta = read_meta(directory)
    if meta.backend != "vits":
        raise UserError(f"--onnx exports VITS voices; {directory} is a {meta.backend} voice "
                        "(its autoregressive decoder and vocoder are not one graph)")
    voice, tokenizer, _ = read_voice(directory)
    tts = voice.tts.merge_and_unload() if isinstance(voice.tts, PeftModel) else voice.tts
    return tts.float().eval(), tokenizer, meta


def export_onnx(directory: str | Path, out: str | Path, opset: int = 17) -> Path:
    """Write OUT/model.onnx, vocab.json and onnx_config.json; returns OUT."""
    vits, tokenizer, meta = vits_model(directory)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    wrapper = OnnxVits(vits).eval()
    example = torch.tensor([tokenizer("an example sentence to trace the graph with")["input_ids"]])
    scalars = (torch.tensor(0.667), torch.tensor(1.0), torch.tensor(0.8))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python branches it folds
        torch.onnx.export(wrapper, (example, *scalars), str(out / ONNX_FILE), input_names=list(INPUTS),
                          output_names=["waveform"], opset_version=opset, dynamo=False,
                          dynamic_axes={"input_ids": {1: "tokens"}, "waveform": {1: "samples"}})
    wrapper.eval()  # export restores the mode the wrapper had; keep it out of training mode
    config = vits.config
    (out / "vocab.json").write_text(json.dumps(tokenizer.get_vocab(), ensure_ascii=False, indent=1), encoding="utf-8")
    (out / CONFIG_FILE).write_text(json.dumps({
        "sampling_rate": config.sampling_rate,
        "inputs": list(INPUTS),
        "defaults": {"noise_scale": config.noise_scale, "length_scale": 1.0 / config.speaking_rate,
                     "noise_scale_duration": config.noise_scale_duration},
        # VitsTokenizer's rules, for tokenizing without transformers (README: "ONNX")
        "lowercase": bool(tokenizer.normalize), "add_blank": bool(tokenizer.add_blank), "blank_id": 0,
        "is_uroman": bool(getattr(tokenizer, "is_uroman", False)),
        "phonemize": bool(getattr(tokenizer, "phonemize", False)),  # espeak-ng en-us IPA, as VitsTokenizer does
        "replacements": dict(meta.extra.get("replacements") or {}),  # data.replacements, applied first
    }, indent=2) + "\n", encoding="utf-8")
    return out
